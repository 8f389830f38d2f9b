-- Reference case "pk_change": primary-key update, delete and truncate.
DROP TABLE IF EXISTS public.pk_change;
CREATE TABLE public.pk_change (id int PRIMARY KEY, v text);
-- @stream
INSERT INTO public.pk_change VALUES (1, 'a');
UPDATE public.pk_change SET id = 2 WHERE id = 1;
DELETE FROM public.pk_change WHERE id = 2;
INSERT INTO public.pk_change VALUES (3, 'c');
TRUNCATE public.pk_change;
