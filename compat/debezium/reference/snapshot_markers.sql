-- Reference case "snapshot_markers": source.snapshot values over a three-table snapshot.
DROP TABLE IF EXISTS public.sm_a, public.sm_b, public.sm_c;
CREATE TABLE public.sm_a (id int PRIMARY KEY);
CREATE TABLE public.sm_b (id int PRIMARY KEY);
CREATE TABLE public.sm_c (id int PRIMARY KEY);
INSERT INTO public.sm_a VALUES (1), (2), (3);
INSERT INTO public.sm_b VALUES (1);
INSERT INTO public.sm_c VALUES (1), (2);
-- @stream
-- one multi-row transaction (txId and sequence of events inside one transaction)
BEGIN;
INSERT INTO public.sm_a VALUES (4), (5);
INSERT INTO public.sm_c VALUES (3);
COMMIT;
