"""The `mysql` integration (MySQL 8, MariaDB 10.6+): one short-lived account per request.

Resources: `database` — `shop`: the permission's privileges on `shop`.* (the name's `_` and `%` escaped,
so the grant covers exactly that database); `table` — `shop.customers`: the table-level part of the
permission's privileges on that table. The system databases (mysql, information_schema,
performance_schema, sys) are never offered; `include`/`exclude` globs (fnmatch) narrow the rest.

Permissions: `read` (SELECT, SHOW VIEW), `write` (read + INSERT, UPDATE, DELETE, CREATE TEMPORARY TABLES,
LOCK TABLES), `admin` (write + ALL PRIVILEGES at the resource's level, never GRANT OPTION), or the
config's own lists of MySQL database/table privilege names and other permissions
(`grantflow.domain.mysqlprivileges`, which `grantflow config check` resolves too).

The account is `'gf_<grantee local part>_<request id>'@'<account_host>'` (default `%`), at most 32
characters (MySQL 8's limit). Its password is derived from the worker's secret seed, so every item of a
request and every retry agree on it and every credential shown works. On MariaDB it is sent as the
mysql_native_password hash computed here (`IDENTIFIED BY PASSWORD '*...'`): the clear password never
reaches the server or its logs; on MySQL 8 it is sent as `IDENTIFIED BY '...'`, which MySQL rewrites in
its general, slow and binary logs. Details go to the vault (`password`, `dsn`), never to history.

Expiry on the target: MariaDB has no `VALID UNTIL`. Grant and extend set `PASSWORD EXPIRE INTERVAL N DAY`
with the smallest N that does not end before the request's expiry (so within 24 hours after it); an
expired password lets a client in only in sandbox mode. The revoke at expiry is what ends access; if
grantflow is down then, the request's timer fires when it is back, and the reconcile schedule drops any
`gf_` account whose request is no longer live (docs/integrations/mysql.md).

Revoke: `GET_LOCK` on the account name, `ACCOUNT LOCK` (no new logins), `KILL CONNECTION` of each of its
connections (information_schema.PROCESSLIST), drop the triggers, views, routines and events it is DEFINER
of, `DROP USER`. A missing account is success; only names of
grantflow's shape (`gf_..._<request id>`) are ever locked, killed or dropped.

PyMySQL (pure Python, maintained) runs in a thread per call: `connection.py` holds the admin DSN, errors
and the lock; `driver.py` the operations; `names.py` names, passwords and expiry arithmetic.
"""

from activities.integrations.mysql.driver import MysqlIntegrationDriver
from activities.integrations.mysql.names import account_name, account_password, is_grantflow_account

__all__ = ["MysqlIntegrationDriver", "account_name", "account_password", "is_grantflow_account"]
