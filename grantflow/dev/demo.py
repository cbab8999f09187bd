"""The demo target's schema and its non-superuser admin, on an embedded (or any) PostgreSQL.

`grantflow dev` and the tests put the `orders` demo data in place and hand the worker a CREATEROLE admin
that owns only the demo database (docs/deploy.md: never a superuser).
"""

from __future__ import annotations

import contextlib
import secrets

import psycopg
from psycopg import sql

# --- demo schema --------------------------------------------------------------------------------

DEMO_DATABASE = "orders"

_DEMO_TABLES = [
    """CREATE TABLE IF NOT EXISTS public.customers (
        id serial PRIMARY KEY,
        name text NOT NULL,
        email text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
    """CREATE TABLE IF NOT EXISTS public.orders (
        id serial PRIMARY KEY,
        customer_id integer NOT NULL REFERENCES public.customers(id),
        item text NOT NULL,
        amount_cents integer NOT NULL CHECK (amount_cents >= 0),
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
]

_DEMO_CUSTOMERS = [
    ("Ada Lovelace", "ada@example.com"),
    ("Grace Hopper", "grace@example.com"),
    ("Edsger Dijkstra", "edsger@example.com"),
]

_DEMO_ORDERS = [
    ("ada@example.com", "analytical engine gears", 12000),
    ("grace@example.com", "compiler manual", 2500),
    ("grace@example.com", "moth trap", 300),
    ("edsger@example.com", "semaphore set", 4200),
]


def _with_dbname(dsn: str, database: str) -> str:
    return psycopg.conninfo.make_conninfo(dsn, dbname=database)


def ensure_demo_schema(dsn: str) -> str:
    """Create the `orders` demo database, idempotently; return a superuser DSN for it.

    CONNECT is revoked from PUBLIC so that access to the demo really depends on a grant.
    """
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DEMO_DATABASE,)).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DEMO_DATABASE)))
        conn.execute(
            sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(DEMO_DATABASE))
        )
    demo_dsn = _with_dbname(dsn, DEMO_DATABASE)
    with psycopg.connect(demo_dsn, connect_timeout=10) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('grantflow-demo-schema'))")
        for ddl in _DEMO_TABLES:
            conn.execute(ddl)
        row = conn.execute("SELECT count(*) FROM public.customers").fetchone()
        if row is not None and row[0] == 0:
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO public.customers (name, email) VALUES (%s, %s)", _DEMO_CUSTOMERS)
                cur.executemany(
                    "INSERT INTO public.orders (customer_id, item, amount_cents) "
                    "SELECT id, %s, %s FROM public.customers WHERE email = %s",
                    [(item, cents, email) for email, item, cents in _DEMO_ORDERS],
                )
    return demo_dsn


DEMO_ADMIN = "grantflow_demo_admin"


def ensure_demo_admin(dsn: str) -> str:
    """The demo's admin for the worker, as deploy/postgres-init/ makes one for the compose stack: not a
    superuser, CREATEROLE, owner of the demo database and of everything in it (so it holds every grant
    option there and nowhere else). Returns its DSN to the demo database, with a new password each call.

    Only this set-up needs the superuser (creating the database and the role, handing over ownership);
    the worker never gets the superuser's DSN. The password goes over as a SCRAM verifier, never in clear.
    """
    password = secrets.token_urlsafe(24)
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        verifier = conn.pgconn.encrypt_password(password.encode(), DEMO_ADMIN.encode(), b"scram-sha-256").decode()
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (DEMO_ADMIN,)).fetchone()
        with contextlib.suppress(psycopg.errors.DuplicateObject):
            conn.execute(
                sql.SQL(
                    "{} ROLE {} WITH LOGIN CREATEROLE NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS PASSWORD {}"
                ).format(sql.SQL("ALTER" if exists else "CREATE"), sql.Identifier(DEMO_ADMIN), sql.Literal(verifier))
            )
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(DEMO_DATABASE), sql.Identifier(DEMO_ADMIN))
        )
    with psycopg.connect(_with_dbname(dsn, DEMO_DATABASE), autocommit=True, connect_timeout=10) as conn:
        # What a superuser made in the demo database (the demo tables, a test's extra schema) changes hands;
        # `public` belongs to pg_database_owner, i.e. already to the new database owner.
        owned_by_superusers = (
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolsuper AND n.nspname NOT LIKE 'pg\\_%%' "
            "AND n.nspname <> 'information_schema' AND (c.relkind IN ('r', 'p', 'v', 'm') OR (c.relkind = 'S' "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))))"
        )
        for (schema,) in conn.execute(
            "SELECT n.nspname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE r.rolsuper "
            "AND n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'"
        ).fetchall():
            conn.execute(
                sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(schema), sql.Identifier(DEMO_ADMIN))
            )
        kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
        for schema, name, kind in conn.execute(owned_by_superusers).fetchall():
            conn.execute(
                sql.SQL("ALTER {} {} OWNER TO {}").format(
                    sql.SQL(kinds[kind]), sql.Identifier(schema, name), sql.Identifier(DEMO_ADMIN)
                )
            )
    return psycopg.conninfo.make_conninfo(dsn, user=DEMO_ADMIN, password=password, dbname=DEMO_DATABASE)
