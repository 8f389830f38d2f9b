-- Reference case "composite_key": a two-column primary key (int, text) changing its text part;
-- shows how __debezium.oldkey/newkey render a multi-field key struct.
DROP TABLE IF EXISTS public.composite_key;
CREATE TABLE public.composite_key (a int, b text, v text, PRIMARY KEY (a, b));
-- @stream
INSERT INTO public.composite_key VALUES (1, 'x "q"', 'v');
UPDATE public.composite_key SET b = 'y,z' WHERE a = 1;
