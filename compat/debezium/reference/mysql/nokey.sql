-- Reference case "nokey": a table without primary key (the key is null; with
-- binlog_row_image=FULL the before image of an update or delete carries every column).
DROP TABLE IF EXISTS nokey;
CREATE TABLE nokey (a int, b text);
INSERT INTO nokey VALUES (1, 'snap');
-- @stream
INSERT INTO nokey VALUES (2, 'x');
UPDATE nokey SET b = 'y' WHERE a = 2;
DELETE FROM nokey WHERE a = 2;
