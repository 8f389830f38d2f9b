-- Reference case "all_types": one column per PostgreSQL type.
-- Everything before the "-- @stream" marker runs before Debezium starts (snapshot, op r);
-- the rest runs once the connector is streaming.
DROP TABLE IF EXISTS public.all_types;
DROP TYPE IF EXISTS public.mood;
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE public.all_types (
    id              serial PRIMARY KEY,
    c_smallint      smallint,
    c_integer       integer,
    c_bigint        bigint,
    c_numeric_10_2  numeric(10,2),
    c_numeric       numeric,
    c_real          real,
    c_double        double precision,
    c_boolean       boolean,
    c_text          text,
    c_varchar       varchar(20),
    c_char          char(5),
    c_bytea         bytea,
    c_date          date,
    c_time          time,
    c_time3         time(3),
    c_timetz        timetz,
    c_timestamp     timestamp,
    c_timestamp3    timestamp(3),
    c_timestamptz   timestamptz,
    c_interval      interval,
    c_uuid          uuid,
    c_json          json,
    c_jsonb         jsonb,
    c_int_array     int[],
    c_text_array    text[],
    c_enum          public.mood,
    c_inet          inet,
    c_cidr          cidr,
    c_macaddr       macaddr,
    c_money         money,
    c_bit           bit(3),
    c_varbit        varbit,
    c_xml           xml,
    c_point         point
);
-- row 1: ordinary values
INSERT INTO public.all_types (c_smallint, c_integer, c_bigint, c_numeric_10_2, c_numeric, c_real, c_double,
    c_boolean, c_text, c_varchar, c_char, c_bytea, c_date, c_time, c_time3, c_timetz, c_timestamp, c_timestamp3,
    c_timestamptz, c_interval, c_uuid, c_json, c_jsonb, c_int_array, c_text_array, c_enum, c_inet, c_cidr,
    c_macaddr, c_money, c_bit, c_varbit, c_xml, c_point)
VALUES (-32768, 2147483647, 9223372036854775807, 12345678.91, 3.14159265358979323846264338327950288, 1.5,
    2.718281828459045, true, 'héllo "wörld"' || E'\n\ttab', 'varchar', 'ab', '\x0001ff'::bytea,
    '2024-02-29', '23:59:59.999999', '12:34:56.789', '12:34:56.789+05:30', '2024-03-10 12:34:56.789012',
    '2024-03-10 12:34:56.789', '2024-03-10 12:34:56.789012+02', '1 year 2 mons 3 days 04:05:06.789',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1, "a": [true, null]}', '{"b": 1, "a": [true, null]}',
    '{1,2,NULL,4}', '{"x","y z",NULL}', 'happy', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
    1234.56, B'101', B'1101011', '<a x="1">t</a>', '(1.5,-2.25)');
-- row 2: NULL in every nullable column
INSERT INTO public.all_types DEFAULT VALUES;
-- @stream
-- row 3: more ordinary values (pre-epoch date/time, negative numbers, small numbers)
INSERT INTO public.all_types (c_smallint, c_integer, c_bigint, c_numeric_10_2, c_numeric, c_real, c_double,
    c_boolean, c_text, c_varchar, c_char, c_bytea, c_date, c_time, c_time3, c_timetz, c_timestamp, c_timestamp3,
    c_timestamptz, c_interval, c_uuid, c_json, c_jsonb, c_int_array, c_text_array, c_enum, c_inet, c_cidr,
    c_macaddr, c_money, c_bit, c_varbit, c_xml, c_point)
VALUES (0, -1, -9223372036854775808, -0.01, 100, -0.1, 1e300, false, '', '', 'abcde', '\x'::bytea,
    '1969-07-20', '00:00:00', '00:00:00.001', '00:00:00-08', '1969-07-20 20:17:40.5',
    '1900-01-01 00:00:00.001', '1969-07-20 20:17:40.123456-04', '-1 days -00:00:01', '00000000-0000-0000-0000-000000000000',
    '[]', '{}', '{}', '{}', 'sad', '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', -0.01, B'000', B'1000000001', '<r/>', '(0,0)');
-- row 4: special values
INSERT INTO public.all_types (c_numeric_10_2, c_numeric, c_real, c_double, c_date, c_timestamp, c_timestamp3,
    c_timestamptz, c_interval, c_text)
VALUES ('NaN', 'NaN', 'Infinity', '-Infinity', 'infinity', 'infinity', '-infinity', 'infinity',
    '178000000 years', 'special');
UPDATE public.all_types SET c_integer = 42, c_text = 'updated', c_jsonb = '{"k": "v"}' WHERE id = 3;
-- deletes the all-NULL row, so later snapshots (all_types_* variants) still show rows 1, 3, 4
DELETE FROM public.all_types WHERE id = 2;
