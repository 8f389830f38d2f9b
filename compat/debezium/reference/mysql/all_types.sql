-- Reference case "all_types": one column per MySQL/MariaDB type.
-- Everything before the "-- @stream" marker runs before Debezium starts (snapshot, op r);
-- the rest runs once the connector is streaming. Rows 11-14 repeat the values of rows 1-4,
-- so each value can be compared as read by the snapshot (JDBC) and from the binlog.
DROP TABLE IF EXISTS all_types;
CREATE TABLE all_types (
    id                int PRIMARY KEY,
    c_tinyint         tinyint,
    c_tinyint_u       tinyint unsigned,
    c_tinyint1        tinyint(1),
    c_boolean         boolean,
    c_smallint        smallint,
    c_smallint_u      smallint unsigned,
    c_mediumint       mediumint,
    c_mediumint_u     mediumint unsigned,
    c_int             int,
    c_int_u           int unsigned,
    c_bigint          bigint,
    c_bigint_u        bigint unsigned,
    c_decimal_10_2    decimal(10,2),
    c_decimal_30_10   decimal(30,10),
    c_float           float,
    c_double          double,
    c_bit1            bit(1),
    c_bit10           bit(10),
    c_char            char(5),
    c_varchar         varchar(20) CHARACTER SET utf8mb4,
    c_varchar_latin1  varchar(20) CHARACTER SET latin1,
    c_text            text,
    c_mediumtext      mediumtext,
    c_binary          binary(4),
    c_varbinary       varbinary(10),
    c_blob            blob,
    c_date            date,
    c_time            time,
    c_time3           time(3),
    c_time6           time(6),
    c_datetime        datetime,
    c_datetime3       datetime(3),
    c_datetime6       datetime(6),
    c_timestamp       timestamp NULL DEFAULT NULL,
    c_timestamp3      timestamp(3) NULL DEFAULT NULL,
    c_timestamp6      timestamp(6) NULL DEFAULT NULL,
    c_year            year,
    c_enum            enum('sad','ok','happy'),
    c_set             set('a','b','c'),
    c_json            json
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- row 1: ordinary values
INSERT INTO all_types VALUES (1,
    -5, 200, 1, true, -1234, 65000, -8388608, 16777215, -2147483648, 4294967295,
    -9223372036854775808, 18446744073709551615,
    12345678.91, 12345678901234567890.0123456789, 1.5, 2.718281828459045,
    b'1', b'1010000011',
    'ab', 'héllo wörld 😀', 'café', CONCAT('line1', CHAR(10), CHAR(9), 'tab "q" \\ end'), 'medium',
    x'0001ff', x'00ff10', x'deadbeef00',
    '2024-02-29', '13:45:56', '13:45:56.123', '13:45:56.123456',
    '2024-02-29 13:45:56', '2024-02-29 13:45:56.123', '2024-02-29 13:45:56.123456',
    '2024-02-29 13:45:56', '2024-02-29 13:45:56.123', '2024-02-29 13:45:56.123456',
    2024, 'happy', 'a,c', '{"k": [1, 2.5, "x"], "n": null}');
-- row 2: extremes, negative and large times, small fractions
INSERT INTO all_types VALUES (2,
    127, 0, -128, false, 32767, 0, 8388607, 0, 2147483647, 0,
    9223372036854775807, 9223372036854775808,
    -99999999.99, -0.0000000001, -3.4e38, 1.7976931348623157e308,
    b'0', b'0000000001',
    'abcde', '', '', '', '',
    x'00', x'', x'',
    '1000-01-01', '-838:59:59', '-00:00:01.500', '838:59:59.000000',
    '1000-01-01 00:00:00', '9999-12-31 23:59:59.999', '1970-01-01 00:00:00.000001',
    '1970-01-01 00:00:01', '2038-01-19 03:14:07.999', '1999-12-31 23:59:59.000001',
    1901, 'sad', '', '[]');
-- row 3: NULL in every column
INSERT INTO all_types (id) VALUES (3);
-- row 4: zero dates (need a sql_mode without NO_ZERO_DATE/NO_ZERO_IN_DATE) and negative times
SET SESSION sql_mode = '';
INSERT INTO all_types (id, c_date, c_time, c_time3, c_time6, c_datetime, c_datetime3, c_datetime6,
    c_timestamp, c_timestamp3, c_timestamp6, c_year, c_enum)
VALUES (4, '0000-00-00', '-00:00:00.5', '-12:34:56.789', '-100:00:00.000001',
    '0000-00-00 00:00:00', '0000-00-00 00:00:00.000', '2024-00-00 00:00:00.000000',
    '0000-00-00 00:00:00', '0000-00-00 00:00:00.000', '0000-00-00 00:00:00.000000', 0000, '');
SET SESSION sql_mode = DEFAULT;
-- @stream
INSERT INTO all_types SELECT id + 10, c_tinyint, c_tinyint_u, c_tinyint1, c_boolean, c_smallint, c_smallint_u,
    c_mediumint, c_mediumint_u, c_int, c_int_u, c_bigint, c_bigint_u, c_decimal_10_2, c_decimal_30_10, c_float,
    c_double, c_bit1, c_bit10, c_char, c_varchar, c_varchar_latin1, c_text, c_mediumtext, c_binary, c_varbinary,
    c_blob, c_date, c_time, c_time3, c_time6, c_datetime, c_datetime3, c_datetime6, c_timestamp, c_timestamp3,
    c_timestamp6, c_year, c_enum, c_set, c_json FROM all_types WHERE id = 1;
INSERT INTO all_types SELECT id + 10, c_tinyint, c_tinyint_u, c_tinyint1, c_boolean, c_smallint, c_smallint_u,
    c_mediumint, c_mediumint_u, c_int, c_int_u, c_bigint, c_bigint_u, c_decimal_10_2, c_decimal_30_10, c_float,
    c_double, c_bit1, c_bit10, c_char, c_varchar, c_varchar_latin1, c_text, c_mediumtext, c_binary, c_varbinary,
    c_blob, c_date, c_time, c_time3, c_time6, c_datetime, c_datetime3, c_datetime6, c_timestamp, c_timestamp3,
    c_timestamp6, c_year, c_enum, c_set, c_json FROM all_types WHERE id = 2;
INSERT INTO all_types (id) VALUES (13);
SET SESSION sql_mode = '';
INSERT INTO all_types (id, c_date, c_time, c_time3, c_time6, c_datetime, c_datetime3, c_datetime6,
    c_timestamp, c_timestamp3, c_timestamp6, c_year, c_enum)
VALUES (14, '0000-00-00', '-00:00:00.5', '-12:34:56.789', '-100:00:00.000001',
    '0000-00-00 00:00:00', '0000-00-00 00:00:00.000', '2024-00-00 00:00:00.000000',
    '0000-00-00 00:00:00', '0000-00-00 00:00:00.000', '0000-00-00 00:00:00.000000', 0000, '');
SET SESSION sql_mode = DEFAULT;
-- update several columns of a streamed row (before and after are both carried)
UPDATE all_types SET c_int = c_int + 1, c_varchar = 'ünïcode', c_decimal_10_2 = 0.05, c_bit10 = b'1111111111',
    c_datetime6 = '2000-01-01 00:00:00.5', c_set = 'b', c_enum = 'ok', c_json = '{"updated": true}',
    c_blob = NULL WHERE id = 11;
-- delete a streamed row (full before image, then a tombstone)
DELETE FROM all_types WHERE id = 12;
