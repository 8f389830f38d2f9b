-- Reference case "composite_key": a two-column primary key (int, varchar) changing its
-- varchar part; shows how __debezium.oldkey/newkey render a multi-field key struct.
DROP TABLE IF EXISTS composite_key;
CREATE TABLE composite_key (a int, b varchar(20), v text, PRIMARY KEY (a, b));
-- @stream
INSERT INTO composite_key VALUES (1, 'x "q"', 'v');
UPDATE composite_key SET b = 'y,z' WHERE a = 1;
