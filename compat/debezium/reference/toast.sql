-- Reference case "toast": unchanged out-of-line (TOASTed) values in UPDATE events.
-- storage EXTERNAL keeps the values uncompressed, so ~9.6 kB always goes out of line.
DROP TABLE IF EXISTS public.toast_full;
DROP TABLE IF EXISTS public.toast_default;
CREATE TABLE public.toast_full (id int PRIMARY KEY, n int, big text);
ALTER TABLE public.toast_full ALTER COLUMN big SET STORAGE EXTERNAL;
ALTER TABLE public.toast_full REPLICA IDENTITY FULL;
CREATE TABLE public.toast_default (id int PRIMARY KEY, n int, big text, bin bytea);
ALTER TABLE public.toast_default ALTER COLUMN big SET STORAGE EXTERNAL;
ALTER TABLE public.toast_default ALTER COLUMN bin SET STORAGE EXTERNAL;
-- big = md5('1') || md5('2') || ... || md5('300'): 9600 characters
INSERT INTO public.toast_full
    SELECT 1, 0, string_agg(md5(g::text), '' ORDER BY g) FROM generate_series(1, 300) g;
INSERT INTO public.toast_default
    SELECT 1, 0, string_agg(md5(g::text), '' ORDER BY g), decode(string_agg(md5(g::text), '' ORDER BY g), 'hex')
    FROM generate_series(1, 300) g;
-- @stream
UPDATE public.toast_full SET n = 1 WHERE id = 1;
UPDATE public.toast_default SET n = 1 WHERE id = 1;
-- changing the TOASTed column itself sends it in full
UPDATE public.toast_default SET big = 'short now' WHERE id = 1;
DELETE FROM public.toast_full WHERE id = 1;
DELETE FROM public.toast_default WHERE id = 1;
