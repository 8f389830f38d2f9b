-- Reference case "pk_change": primary-key update, delete and truncate.
-- An update that changes the key is a delete (+ tombstone) and a create for the new key.
DROP TABLE IF EXISTS pk_change;
CREATE TABLE pk_change (id int PRIMARY KEY, v text);
-- @stream
INSERT INTO pk_change VALUES (1, 'a');
UPDATE pk_change SET id = 2 WHERE id = 1;
DELETE FROM pk_change WHERE id = 2;
INSERT INTO pk_change VALUES (3, 'c');
TRUNCATE TABLE pk_change;
