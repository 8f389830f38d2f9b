-- Reference case "not_null": NOT NULL columns with defaults of several types (constant and
-- CURRENT_TIMESTAMP), how the defaults appear in the schema ("default"), and what a delete
-- carries (binlog_row_image=FULL: the whole before image).
DROP TABLE IF EXISTS not_null;
SET SESSION sql_mode = '';
CREATE TABLE not_null (
    id        int PRIMARY KEY,
    name      varchar(20) NOT NULL,
    n         int NOT NULL DEFAULT 5,
    nu        int unsigned NOT NULL DEFAULT 7,
    big_u     bigint unsigned NOT NULL DEFAULT 18446744073709551615,
    label     varchar(10) NOT NULL DEFAULT 'none',
    code      char(3) NOT NULL DEFAULT 'abc',
    flag      boolean NOT NULL DEFAULT true,
    bit1      bit(1) NOT NULL DEFAULT b'1',
    bits      bit(10) NOT NULL DEFAULT b'101',
    amount    decimal(8,2) NOT NULL DEFAULT 1.50,
    f         double NOT NULL DEFAULT 1.25,
    fl        float NOT NULL DEFAULT 0.5,
    created   datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    created3  datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    stamp     timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    stamp6    timestamp(6) NOT NULL DEFAULT '2024-01-01 00:00:00.000001',
    day       date NOT NULL DEFAULT '2024-01-01',
    zday      date NOT NULL DEFAULT '0000-00-00',
    zdt       datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
    zts       timestamp NOT NULL DEFAULT '0000-00-00 00:00:00',
    at        time NOT NULL DEFAULT '12:34:56',
    at6       time(6) NOT NULL DEFAULT '-01:02:03.5',
    yr        year NOT NULL DEFAULT 2024,
    mood      enum('sad','ok','happy') NOT NULL DEFAULT 'ok',
    tags      set('a','b','c') NOT NULL DEFAULT 'a,b',
    body      text NOT NULL DEFAULT 'x',
    bin       varbinary(4) NOT NULL DEFAULT 'ab',
    doc       json NOT NULL DEFAULT '{}',
    opt       varchar(10) DEFAULT 'x',
    opt_null  int DEFAULT NULL
);
SET SESSION sql_mode = DEFAULT;
INSERT INTO not_null (id, name) VALUES (1, 'first');
-- @stream
INSERT INTO not_null (id, name, n, opt) VALUES (2, 'second', 7, NULL);
UPDATE not_null SET name = 'changed' WHERE id = 1;
DELETE FROM not_null WHERE id = 2;
