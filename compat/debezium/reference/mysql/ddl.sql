-- Reference case "ddl": schema changes while streaming, each followed by a row written with
-- the new shape; include.schema.changes=true, so the DDL itself is an event on the "ref" topic.
DROP TABLE IF EXISTS ddl, ddl_new;
CREATE TABLE ddl (id int PRIMARY KEY, a varchar(10), b int);
INSERT INTO ddl VALUES (1, 'snap', 10);
-- @stream
INSERT INTO ddl VALUES (2, 'before', 20);
ALTER TABLE ddl ADD COLUMN c varchar(5) NOT NULL DEFAULT 'dflt';
INSERT INTO ddl (id, a, b) VALUES (3, 'added', 30);
ALTER TABLE ddl DROP COLUMN b;
INSERT INTO ddl (id, a, c) VALUES (4, 'dropped', 'c4');
ALTER TABLE ddl RENAME COLUMN a TO a2;
INSERT INTO ddl (id, a2, c) VALUES (5, 'renamed', 'c5');
ALTER TABLE ddl MODIFY COLUMN a2 varchar(50), MODIFY COLUMN id bigint;
INSERT INTO ddl (id, a2, c) VALUES (6, 'modified to varchar(50)', 'c6');
UPDATE ddl SET a2 = 'updated' WHERE id = 1;
ALTER TABLE ddl ADD COLUMN d decimal(5,1) DEFAULT 2.5 AFTER id, ADD INDEX ddl_a2 (a2);
INSERT INTO ddl (id, a2) VALUES (7, 'with d');
CREATE TABLE ddl_new (k int PRIMARY KEY, v varchar(5));
INSERT INTO ddl_new VALUES (1, 'new');
DROP TABLE ddl_new;
