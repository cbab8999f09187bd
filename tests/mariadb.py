"""A real MariaDB server for tests: Debian's `mariadb-server` binaries, a temporary data dir, a free port.

`MariaDbServer.available()` says whether the binaries are installed; the fixtures in tests/conftest.py skip
the MariaDB tests when they are not (and `make test` says so in one line). The server listens on 127.0.0.1
only, runs as the current user (`--user=root` when that is root, as in CI), has no binary log, and is
removed with its data dir by `stop()`. `root@localhost` has no password and is reachable only through the
Unix socket in the data dir; tests use `admin_dsn`, a password account with what the `mysql` integration's
admin needs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pymysql

INSTALL_DB = ("mariadb-install-db", "mysql_install_db")
SERVER = ("/usr/sbin/mariadbd", "/usr/sbin/mysqld")
ENABLE_HINT = "apt-get install mariadb-server"
ADMIN = "grantflow_admin"


def _find(candidates: tuple[str, ...]) -> str | None:
    for c in candidates:
        found = shutil.which(c) if "/" not in c else (c if os.access(c, os.X_OK) else None)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MariaDbServer:
    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="gf-mariadb-"))
        self.datadir = self.base / "data"
        self.socket = self.base / "mysqld.sock"
        self.port = _free_port()
        self.admin_password = secrets.token_urlsafe(18)
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        """The binaries are installed (`GF_TEST_MARIADB=off` pretends they are not, to see the skip)."""
        if os.environ.get("GF_TEST_MARIADB") == "off":
            return False
        return _find(INSTALL_DB) is not None and _find(SERVER) is not None

    @property
    def admin_dsn(self) -> str:
        """What the integration's `dsn_env` holds: a non-root account with the privileges the docs list."""
        return f"mysql://{ADMIN}:{self.admin_password}@127.0.0.1:{self.port}/"

    def _user_args(self) -> list[str]:
        return ["--user=root"] if os.geteuid() == 0 else []

    def start(self, timeout: float = 60) -> MariaDbServer:
        install, server = _find(INSTALL_DB), _find(SERVER)
        if install is None or server is None:
            raise RuntimeError(f"MariaDB server binaries not found ({ENABLE_HINT})")
        subprocess.run(
            [
                install,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *self._user_args(),
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        log = open(self.base / "server.log", "wb")  # noqa: SIM115 - kept open for the server's lifetime
        self.proc = subprocess.Popen(
            [
                server,
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--socket={self.socket}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.base / 'mysqld.pid'}",
                "--skip-log-bin",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=32M",
                "--general-log=1",
                f"--general-log-file={self.base / 'general.log'}",
                f"--log-error={self.base / 'error.log'}",
                *self._user_args(),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited {self.proc.returncode}: {self.error_log()[-2000:]}")
            try:
                self.root().close()
                break
            except pymysql.MySQLError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("mariadbd did not accept connections in time") from None
                time.sleep(0.2)
        with self.root() as conn, conn.cursor() as cur:
            for statement in (
                f"CREATE USER '{ADMIN}'@'%' IDENTIFIED BY '{self.admin_password}'",
                # Exactly what docs/integrations/mysql.md tells an admin to grant, so the tests prove it.
                f"GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO '{ADMIN}'@'%'",
                f"GRANT SELECT ON mysql.user TO '{ADMIN}'@'%'",
                f"GRANT ALL PRIVILEGES ON `shop`.* TO '{ADMIN}'@'%' WITH GRANT OPTION",
                f"GRANT ALL PRIVILEGES ON `inventory`.* TO '{ADMIN}'@'%' WITH GRANT OPTION",
                "CREATE DATABASE shop",
                "CREATE TABLE shop.customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL)",
                "INSERT INTO shop.customers (name) VALUES ('ada'), ('grace')",
                "CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT, total INT)",
                "INSERT INTO shop.orders (customer_id, total) VALUES (1, 10), (2, 20)",
                "CREATE DATABASE inventory",
                "CREATE TABLE inventory.items (id INT PRIMARY KEY, name VARCHAR(100))",
                "INSERT INTO inventory.items VALUES (1, 'bolt')",
                "CREATE USER 'app'@'%' IDENTIFIED BY 'app-password'",
                "GRANT SELECT ON shop.* TO 'app'@'%'",
                # Shaped like grantflow's but made by someone else: `gf_` plus a non-request suffix.
                "CREATE USER 'gf_legacy'@'%' IDENTIFIED BY 'legacy-password'",
            ):
                cur.execute(statement)
        return self

    def root(self, **kwargs: Any) -> pymysql.connections.Connection[Any]:
        return pymysql.connect(unix_socket=str(self.socket), user="root", autocommit=True, connect_timeout=5, **kwargs)

    def connect(self, user: str, password: str, database: str | None = None) -> pymysql.connections.Connection[Any]:
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user=user,
            password=password,
            database=database,
            autocommit=True,
            connect_timeout=5,
        )

    def accounts(self, prefix: str = "gf\\_%") -> set[str]:
        with self.root() as conn, conn.cursor() as cur:
            cur.execute("SELECT User FROM mysql.user WHERE User LIKE %s", (prefix,))
            return {r[0] for r in cur.fetchall()}

    def error_log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.base / "error.log").read_text(errors="replace")
        return ""

    def general_log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.base / "general.log").read_text(errors="replace")
        return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.base, ignore_errors=True)
