-- Reference case "snapshot_markers": source.snapshot values over a three-table snapshot,
-- then one multi-statement transaction (row, pos and the order of events inside it).
DROP TABLE IF EXISTS sm_a, sm_b, sm_c;
CREATE TABLE sm_a (id int PRIMARY KEY);
CREATE TABLE sm_b (id int PRIMARY KEY);
CREATE TABLE sm_c (id int PRIMARY KEY);
INSERT INTO sm_a VALUES (1), (2), (3);
INSERT INTO sm_b VALUES (1);
INSERT INTO sm_c VALUES (1), (2);
-- @stream
BEGIN;
INSERT INTO sm_a VALUES (4), (5);
INSERT INTO sm_c VALUES (3);
UPDATE sm_a SET id = id + 10 WHERE id IN (4, 5);
COMMIT;
