-- Reference case "truncate": TRUNCATE TABLE between row changes, captured with
-- skipped.operations=none (Debezium writes a truncate event, op "t", with no key).
DROP TABLE IF EXISTS truncated;
CREATE TABLE truncated (id int PRIMARY KEY, v varchar(10));
INSERT INTO truncated VALUES (1, 'snap'), (2, 'snap');
-- @stream
INSERT INTO truncated VALUES (3, 'c');
TRUNCATE TABLE truncated;
INSERT INTO truncated VALUES (4, 'd');
UPDATE truncated SET v = 'e' WHERE id = 4;
TRUNCATE truncated;
