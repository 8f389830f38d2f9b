-- Reference case "resume": the connector is stopped and started again on its own offsets.
-- Before "-- @stream": snapshot. After it: runs while streaming. After "-- @stopped": runs
-- while the connector is stopped; it is then started again with the same offset file and
-- schema history, and whatever follows "-- @resumed" runs once it is streaming again.
DROP TABLE IF EXISTS resume;
CREATE TABLE resume (id int PRIMARY KEY, v varchar(10));
INSERT INTO resume VALUES (1, 'snap');
-- @stream
INSERT INTO resume VALUES (2, 'a');
BEGIN;
INSERT INTO resume VALUES (3, 'b'), (4, 'c');
UPDATE resume SET v = 'bb' WHERE id = 3;
COMMIT;
-- @stopped
INSERT INTO resume VALUES (5, 'stopped1');
BEGIN;
INSERT INTO resume VALUES (6, 'stopped2'), (7, 'stopped3');
COMMIT;
-- @resumed
INSERT INTO resume VALUES (8, 'resumed1');
INSERT INTO resume VALUES (9, 'resumed2');
