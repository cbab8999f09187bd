-- The demo target's data, owned by its non-superuser admin (see 01-grantflow.sql).
\connect demo
SET ROLE grantflow_demo_admin;
CREATE TABLE public.customers (
  id serial PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE public.orders (
  id serial PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES public.customers(id),
  item text NOT NULL,
  amount_cents integer NOT NULL CHECK (amount_cents >= 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO public.customers (name, email) VALUES
  ('Ada Lovelace', 'ada@example.com'), ('Grace Hopper', 'grace@example.com'),
  ('Edsger Dijkstra', 'edsger@example.com');
INSERT INTO public.orders (customer_id, item, amount_cents)
  SELECT id, 'compiler manual', 2500 FROM public.customers WHERE email = 'grace@example.com';
RESET ROLE;
