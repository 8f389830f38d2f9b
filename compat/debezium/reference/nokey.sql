-- Reference case "nokey": a table without primary key.
-- Debezium's publication is created FOR ALL TABLES (publication.autocreate.mode=all_tables),
-- so UPDATE/DELETE on a table without replica identity fail in PostgreSQL itself:
--   ERROR: cannot update table "nokey" because it does not have a replica identity and publishes updates
-- The table therefore uses REPLICA IDENTITY FULL.
DROP TABLE IF EXISTS public.nokey;
CREATE TABLE public.nokey (a int, b text);
ALTER TABLE public.nokey REPLICA IDENTITY FULL;
INSERT INTO public.nokey VALUES (1, 'snap');
-- @stream
INSERT INTO public.nokey VALUES (2, 'x');
UPDATE public.nokey SET b = 'y' WHERE a = 2;
DELETE FROM public.nokey WHERE a = 2;
