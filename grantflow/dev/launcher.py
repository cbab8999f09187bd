"""`grantflow dev`: the whole stack on embedded defaults, no Docker.

Temporal dev server (SQLite under .grantflow/, Web UI on :8233, search attributes registered) — or the one
already listening on TEMPORAL_ADDRESS — the codec server (the stack's key, on 127.0.0.1:GRANTFLOW_CODEC_PORT,
set as the Web UI's codec endpoint, so the UI shows plain text), the demo PostgreSQL, the worker and the
Slack app, each a child process. Ctrl-C stops them all, newest first.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from grantflow.settings import Settings
from grantflow.temporal import SEARCH_ATTRIBUTES

# soft_wrap: a line is never broken at the terminal's (or, in a log file, the default 80 columns') width, so the
# commands in the startup hint stay copyable and one line each.
console = Console(highlight=False, stderr=True, soft_wrap=True)

STARTUP_HINT = (
    "Try (the example config's engineers may read the demo database, approved by bob):",
    "  grantflow request --as alice@example.com --integration demo-postgres --resource-type database"
    " --resource orders --permission read --duration 1h --justification 'debug an order'",
    "  grantflow approve <ID> --as bob@example.com",
    "  grantflow details <ID> --as alice@example.com",
    "Ctrl-C stops everything.\n",
)


def print_startup_hint(ui: str) -> None:
    console.print(f"\n[bold]grantflow is running.[/bold] Temporal Web UI: {ui}")
    for line in STARTUP_HINT:
        console.print(line, markup=False)


def temporal_binary() -> str:
    here = Path(sys.executable).parent / "temporal"
    found = str(here) if here.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("the `temporal` binary is missing: install the project (`make dev` does)")
    return found


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return (host or "localhost"), int(port)


def is_listening(address: str, timeout: float = 0.5) -> bool:
    host, port = host_port(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def temporal_dev_command(
    db_file: Path,
    port: int,
    ui_port: int,
    ip: str = "127.0.0.1",
    headless: bool = False,
    codec_endpoint: str | None = None,
) -> list[str]:
    """`temporal server start-dev` on a SQLite file with the contract's search attributes; with
    `codec_endpoint`, the Web UI decodes payloads through that codec server (`--ui-codec-endpoint`)."""
    cmd = [
        temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(db_file),
        "--port",
        str(port),
        "--ip",
        ip,
        "--log-level",
        "warn",
    ]
    cmd += ["--headless"] if headless else ["--ui-port", str(ui_port)]
    if codec_endpoint and not headless:
        cmd += ["--ui-codec-endpoint", codec_endpoint]
    for name, kind in SEARCH_ATTRIBUTES.items():
        cmd += ["--search-attribute", f"{name}={kind}"]
    return cmd


def wait_listening(address: str, proc: subprocess.Popen[Any] | None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_listening(address):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process for {address} exited with code {proc.returncode}")
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {address} after {timeout:.0f}s")


class DevServer:
    """A `temporal server start-dev` on a loopback port and a SQLite file, which tests and benchmarks can
    kill (as in a crash) and restart on the same file and port."""

    def __init__(
        self, db_file: Path | None = None, port: int | None = None, dynamic_config: dict[str, Any] | None = None
    ):
        """`dynamic_config`: server settings as `--dynamic-config-value KEY=JSON`, e.g. a low
        `limit.historyCount.suggestContinueAsNew` to make workflows continue as new early."""
        from grantflow.dev.pgserver import free_port

        self.port = port or free_port()
        self.db_file = db_file
        self.dynamic_config = dict(dynamic_config or {})
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> DevServer:
        import tempfile

        from grantflow.dev.pgserver import free_port

        if self.db_file is None:
            self.db_file = Path(tempfile.mkdtemp(prefix="gf-temporal-")) / "temporal.db"
        cmd = temporal_dev_command(self.db_file, self.port, 0, headless=True)
        cmd += ["--http-port", str(free_port()), "--metrics-port", str(free_port())]
        for key, value in self.dynamic_config.items():
            cmd += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_listening(self.address, self.proc, timeout=60)
        return self

    def kill(self) -> None:
        """SIGKILL, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class Children:
    """Child processes, stopped in two rounds: everything but the Temporal server (SIGTERM to all at once, so a
    worker finishes its tasks while the server is still up), then the server; SIGKILL for whatever outlives
    its round's grace period. A slow child no longer holds up the others' stop (Ctrl-C ends within ~50 s)."""

    GRACE_S = 35.0
    SERVER_GRACE_S = 15.0

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[Any]]] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen[Any]:
        stdout: Any = open(log, "ab") if log else None  # noqa: SIM115 - lives as long as the child
        proc = subprocess.Popen(
            cmd, env=env, stdout=stdout, stderr=subprocess.STDOUT if log else None, start_new_session=True
        )
        self.procs.append((name, proc))
        return proc

    def failed(self) -> str | None:
        for name, p in self.procs:
            if p.poll() is not None:
                return f"{name} exited with code {p.returncode}"
        return None

    def stop(self) -> None:
        newest_first = list(reversed(self.procs))
        self._stop_round([c for c in newest_first if c[0] != "temporal"], self.GRACE_S)
        self._stop_round([c for c in newest_first if c[0] == "temporal"], self.SERVER_GRACE_S)

    @staticmethod
    def _stop_round(children: list[tuple[str, subprocess.Popen[Any]]], grace: float) -> None:
        live = [(name, p) for name, p in children if p.poll() is None]
        for name, p in live:
            console.print(f"stopping {name}…")
            p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _, p in live:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def ensure_encryption_keys(state_dir: Path) -> str:
    """GRANTFLOW_ENCRYPTION_KEYS, else a key generated once into .grantflow/encryption.key."""
    env = os.environ.get("GRANTFLOW_ENCRYPTION_KEYS")
    if env:
        return env
    from grantflow.payloads.codec import generate_key_file

    return generate_key_file(state_dir / "encryption.key")


def ensure_decision_keys(state_dir: Path) -> str:
    """GRANTFLOW_DECISION_KEYS, else a key generated once into .grantflow/decision.key (the CLI in another
    terminal finds it there and signs its decisions: docs/security.md)."""
    env = os.environ.get("GRANTFLOW_DECISION_KEYS")
    if env:
        return env
    from grantflow.payloads.codec import generate_key_file

    return generate_key_file(state_dir / "decision.key")


def start_codec_server(children: Children, settings: Settings, env: dict[str, str], ui_origins: list[str]) -> str:
    """`grantflow codec-server` with the stack's key on loopback, CORS for the UI's origins; its URL."""
    port = settings.codec_port
    if is_listening(f"127.0.0.1:{port}"):
        raise RuntimeError(f"the codec server's port {port} is taken: set GRANTFLOW_CODEC_PORT to a free port")
    cmd = [str(Path(sys.executable).parent / "grantflow"), "codec-server", "--port", str(port)]
    for origin in ui_origins:
        cmd += ["--ui-origin", origin]
    proc = children.start("codec server", cmd, env, settings.state_dir.resolve() / "codec-server.log")
    wait_listening(f"127.0.0.1:{port}", proc, timeout=30)
    return f"http://127.0.0.1:{port}"


def apply_dev_schedules(settings: Settings) -> None:
    """The reconciliation schedule, as `grantflow schedules apply` makes it; a failure only warns."""
    from grantflow.schedules import apply_schedules
    from grantflow.temporal import connect

    async def apply() -> list[str]:
        return [a.line() for a in await apply_schedules(await connect(settings), settings.task_queue)]

    try:
        for line in asyncio.run(apply()):
            console.print(line)
    except Exception as exc:  # the stack is still useful without the schedule
        console.print(f"[yellow]could not apply schedules: {exc}[/yellow]")


def wait_until_ready(settings: Settings) -> None:
    """Until the dev server has registered the search attributes it was started with (after its port opened)."""
    from grantflow.temporal import TemporalUnavailable, connect, wait_for_search_attributes

    async def ready() -> None:
        await wait_for_search_attributes(await connect(settings))

    try:
        asyncio.run(ready())
    except TemporalUnavailable as exc:
        raise RuntimeError(str(exc)) from None


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and SIGTERM (`kill`, a service manager) both stop the whole stack. Set explicitly: a
    process started in the background by a non-interactive shell inherits SIGINT ignored, and Python's
    default for SIGTERM ends the launcher without stopping its children (they run in their own sessions)."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def run_dev(slack: bool = True, postgres: bool = True) -> int:
    settings = Settings()
    state = settings.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["GRANTFLOW_STATE_DIR"] = str(state)
    env["GRANTFLOW_ENCRYPTION_KEYS"] = ensure_encryption_keys(state)
    env["GRANTFLOW_DECISION_KEYS"] = ensure_decision_keys(state)
    children = Children()
    pg: Any = None
    stop_on_signals()
    try:
        if is_listening(settings.temporal_address):
            console.print(f"Using the Temporal server already on {settings.temporal_address}")
            from grantflow.temporal import connect, register_search_attributes

            async def register() -> None:
                await register_search_attributes(await connect(settings))

            asyncio.run(register())
            ui_origin = settings.temporal_ui_url.rstrip("/")
            codec = start_codec_server(children, settings, env, [ui_origin])
            ui = f"{ui_origin} (set its codec endpoint to {codec}: gear icon, Codec Server)"
        else:
            host, port = host_port(settings.temporal_address)
            ui_port = port + 1000
            codec = start_codec_server(
                children, settings, env, [f"http://localhost:{ui_port}", f"http://127.0.0.1:{ui_port}"]
            )
            console.print(
                f"Starting the Temporal dev server on {settings.temporal_address} (data: {state}/temporal.db)"
            )
            proc = children.start(
                "temporal",
                temporal_dev_command(
                    state / "temporal.db",
                    port,
                    ui_port,
                    ip="127.0.0.1" if host in ("localhost", "127.0.0.1") else host,
                    codec_endpoint=codec,
                ),
                env,
                state / "temporal.log",
            )
            wait_listening(settings.temporal_address, proc)
            wait_until_ready(settings)
            ui = f"http://localhost:{ui_port} (payloads decoded by the codec server on {codec})"
        if postgres and "DEMO_PG_DSN" not in env:
            from grantflow.dev.demo import ensure_demo_admin, ensure_demo_schema
            from grantflow.dev.pgserver import PgServer

            console.print(f"Starting the demo PostgreSQL (data: {state}/pg)")
            pg = PgServer(state / "pg")
            pg.start()
            ensure_demo_schema(pg.admin_dsn)
            # The worker gets a non-superuser admin (CREATEROLE, owner of the demo database), as in production.
            env["DEMO_PG_DSN"] = ensure_demo_admin(pg.admin_dsn)
        children.start("worker", [sys.executable, "-m", "worker"], env)
        apply_dev_schedules(settings.model_copy(update={"encryption_keys": env["GRANTFLOW_ENCRYPTION_KEYS"]}))
        if slack and env.get("SLACK_BOT_TOKEN") and (env.get("SLACK_APP_TOKEN") or env.get("SLACK_SIGNING_SECRET")):
            children.start("slack app", [str(Path(sys.executable).parent / "grantflow"), "slack"], env)
            where = (
                "Socket Mode" if env.get("SLACK_APP_TOKEN") else f"http://localhost:{settings.slack_port}/slack/events"
            )
            console.print(f"Slack app: {where}")
        elif slack:
            console.print("Slack app not started: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN)")
        print_startup_hint(ui)
        while True:
            problem = children.failed()
            if problem:
                console.print(f"[red]{problem}[/red]; stopping")
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("\nShutting down…")
        return 0
    except RuntimeError as exc:
        console.print(f"[red]grantflow dev: {exc}[/red]")
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C does not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        children.stop()
        if pg is not None:
            pg.stop()
