"""The `postgresql` integration: a short-lived login role per request, expiring on its own.

Resources are named with dots, without quoting:

- `database` — `orders`: CONNECT on the database, and the permission's privileges on every schema,
  table and sequence in it (all schemas except `pg_*` and `information_schema`).
- `schema` — `orders.sales`: CONNECT on the database, the permission's schema privileges on `sales`,
  and its table and sequence privileges on every table and sequence in `sales`.
- `table` — `orders.public.customers`, or `orders.customers` meaning schema `public`: CONNECT, USAGE on
  the schema, the table privileges on that table and the sequence privileges on the sequences it owns
  (a `serial` column's sequence, so that `write` can INSERT).

Templates and the maintenance database `postgres` are never offered. `include`/`exclude` globs (fnmatch,
case-sensitive) match these names: `include` limits what can be requested (empty = everything),
`exclude` also keeps matching schemas, tables and sequences out of database- and schema-wide grants.

Permissions name privilege sets. Built in: `read` (CONNECT, USAGE on schemas, SELECT on tables),
`write` (read + INSERT, UPDATE, DELETE on tables, USAGE and SELECT on sequences) and `admin` (write +
ALL on tables and sequences, CREATE on schemas). The config may redefine these or add names, each a
list (or comma-separated string) of privileges and other permission names. A bare privilege applies to
its natural object (CONNECT, TEMPORARY → database; USAGE, CREATE → schema; SELECT, INSERT, ..., ALL →
table); `database:`, `schema:`, `table:` or `sequence:` in front says otherwise (`sequence:USAGE`).
CONNECT and schema USAGE are always added: without them no other privilege can be used.

The role is `gf_<grantee local part>_<request id>` with a password derived from the worker's secret seed
(every item of a request and every retry agree on it) and `VALID UNTIL` the request's expiry, so
PostgreSQL itself refuses new logins after the expiry even if grantflow is down (sessions already open
continue until revoke terminates them). The password is sent as a SCRAM-SHA-256 verifier computed
client-side: the clear password never crosses the wire nor reaches the server log. Every identifier and
literal in SQL is composed with `psycopg.sql`; resource names are only ever compared as query parameters
first. The admin DSN (read from the environment variable `dsn_env`) never appears in messages; it needs
CREATEROLE and grant options on what it offers, not superuser.

Revocation hands nothing up: the objects the role created are dropped (`DROP OWNED ... CASCADE`, which
also drops triggers others' tables got from the role's functions). With `keep_objects: true` they are
reassigned to `grantflow_orphans` instead, a NOLOGIN NOINHERIT role with no privileges; its routines are
made SECURITY INVOKER and executable by no one else, and triggers the role hung on tables it does not
own are dropped, so nothing it left runs with anyone's privileges but the caller's.

Layout: `driver.py` assembles `PostgresIntegrationDriver` from `resources.py` (permissions, globs, resource
names; no connection), `connections.py` (admin DSN, scrubbed errors, the grantee's connection line,
advisory locks), `catalog.py` (discovery), `grants.py` (grant, extend) and `revoke.py` (revoke, disown,
quarantine); `names.py` holds role names and passwords, `privileges.py` privilege sets as SQL.
"""

from activities.integrations.postgresql.driver import PostgresIntegrationDriver
from activities.integrations.postgresql.names import ORPHAN_ROLE, ROLE_PREFIX, role_name, role_password
from activities.integrations.postgresql.privileges import parse_privileges
from activities.integrations.postgresql.resources import Target
from grantflow.domain.pgprivileges import DEFAULT_PERMISSIONS, Privileges

__all__ = [
    "DEFAULT_PERMISSIONS",
    "ORPHAN_ROLE",
    "ROLE_PREFIX",
    "PostgresIntegrationDriver",
    "Privileges",
    "Target",
    "parse_privileges",
    "role_name",
    "role_password",
]
