-- Reference case "ddl_keys": primary keys Debezium infers and statements it rewrites or skips
-- (include.schema.changes=true). Snapshot: empty tables only, so the last snapshot record is
-- a schema change (source.snapshot "last"); a UNIQUE key on a NOT NULL column (Debezium takes
-- it as the primary key), one on a nullable column (it does not), no key. Streaming: CREATE
-- TABLE with such a UNIQUE key, CREATE UNIQUE INDEX on a table without key, DROP TABLE IF
-- EXISTS of an existing and a missing table, ALTER ... RENAME TO, CREATE TABLE IF NOT EXISTS
-- of an existing table (MariaDB does not log it), ALTER with ALGORITHM, CONVERT TO CHARACTER
-- SET, ANALYZE TABLE, CREATE TABLE ... AS SELECT.
DROP TABLE IF EXISTS uk, uk2, uk3, uk4, uk_renamed, nk;
CREATE TABLE uk (a int NOT NULL, b int, UNIQUE KEY uk_a (a));
CREATE TABLE uk2 (a int NULL, b int, UNIQUE KEY uk2_a (a));
CREATE TABLE nk (a int NOT NULL, b int);
-- @stream
CREATE TABLE uk3 (x int NOT NULL, y int, UNIQUE KEY u (x));
CREATE UNIQUE INDEX nk_a ON nk (a);
DROP TABLE IF EXISTS uk2, missing_table;
ALTER TABLE uk RENAME TO uk_renamed;
CREATE TABLE IF NOT EXISTS uk3 (z int);
ALTER TABLE uk3 ADD COLUMN c1 int;
ALTER TABLE uk3 ADD COLUMN c2 int, ALGORITHM=INPLACE;
ALTER TABLE uk3 CONVERT TO CHARACTER SET latin1;
ANALYZE TABLE uk3;
CREATE TABLE uk4 AS SELECT 1 AS one;
INSERT INTO uk3 (x) VALUES (1);
