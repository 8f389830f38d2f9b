-- Reference case "not_null": required columns and column defaults, and what a delete under
-- the default replica identity (old key only) carries for required non-key columns; also
-- how timestamptz values with few fractional digits are written at each precision.
DROP TABLE IF EXISTS public.not_null;
CREATE TABLE public.not_null (
    id       int PRIMARY KEY,
    name     text NOT NULL,
    n        int NOT NULL DEFAULT 5,
    label    varchar(10) NOT NULL DEFAULT 'none',
    flag     boolean NOT NULL DEFAULT true,
    amount   numeric(8,2) NOT NULL DEFAULT 1.50,
    created  timestamptz NOT NULL DEFAULT now(),
    day      date NOT NULL DEFAULT current_date,
    at       time NOT NULL DEFAULT localtime,
    attz     timetz NOT NULL DEFAULT current_time,
    f        double precision NOT NULL DEFAULT random(),
    u        uuid NOT NULL DEFAULT gen_random_uuid(),
    ts       timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00',
    ts0      timestamptz(0),
    ts3      timestamptz(3),
    tz       timetz,
    opt      text DEFAULT 'x'
);
INSERT INTO public.not_null (id, name, ts0, ts3, tz) VALUES (1, 'first', '2024-01-01 10:00:00+00', '2024-01-01 10:00:00.5+00', '10:00:00+00');
-- @stream
INSERT INTO public.not_null (id, name, n, ts0, ts3, tz) VALUES (2, 'second', 7, '2024-01-01 10:00:01+00', '2024-01-01 10:00:00.12+00', '10:00:00.5+00');
UPDATE public.not_null SET name = 'changed' WHERE id = 1;
DELETE FROM public.not_null WHERE id = 2;
