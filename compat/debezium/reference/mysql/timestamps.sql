-- Reference case "timestamps": how many fractional digits TIMESTAMP(n) values get in
-- io.debezium.time.ZonedTimestamp strings, DATETIME(n)/TIME(n) with trailing zeros, and a
-- TIMESTAMP written under a non-UTC session time zone (stored and emitted in UTC).
DROP TABLE IF EXISTS timestamps;
CREATE TABLE timestamps (
    id   int PRIMARY KEY,
    t0   timestamp NULL DEFAULT NULL,
    t1   timestamp(1) NULL DEFAULT NULL,
    t3   timestamp(3) NULL DEFAULT NULL,
    t6   timestamp(6) NULL DEFAULT NULL,
    dt1  datetime(1),
    dt6  datetime(6),
    tm1  time(1),
    tm6  time(6)
);
INSERT INTO timestamps VALUES
    (1, '2024-01-01 00:00:00', '2024-01-01 00:00:00.0', '2024-01-01 00:00:00.000', '2024-01-01 00:00:00.000000',
        '2024-01-01 00:00:00.0', '2024-01-01 00:00:00.000000', '00:00:00.0', '00:00:00.000000'),
    (2, '2024-01-01 00:00:01', '2024-01-01 00:00:00.5', '2024-01-01 00:00:00.5', '2024-01-01 00:00:00.5',
        '2024-01-01 00:00:00.5', '2024-01-01 00:00:00.5', '00:00:00.5', '00:00:00.5'),
    (3, '2038-01-19 03:14:07', '2024-01-01 00:00:00.1', '2024-01-01 00:00:00.12', '2024-01-01 00:00:00.1234',
        '1969-12-31 23:59:59.9', '1969-12-31 23:59:59.999999', '-00:00:00.1', '-00:00:00.000001');
SET SESSION time_zone = '+05:30';
INSERT INTO timestamps (id, t0, t6) VALUES (4, '2024-06-01 12:00:00', '2024-06-01 12:00:00.25');
SET SESSION time_zone = DEFAULT;
-- @stream
INSERT INTO timestamps SELECT id + 10, t0, t1, t3, t6, dt1, dt6, tm1, tm6 FROM timestamps WHERE id <= 3;
SET SESSION time_zone = '+05:30';
INSERT INTO timestamps (id, t0, t6) VALUES (14, '2024-06-01 12:00:00', '2024-06-01 12:00:00.25');
SET SESSION time_zone = DEFAULT;
