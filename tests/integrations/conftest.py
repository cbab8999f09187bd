"""One real embedded PostgreSQL per test session, with the demo schema and a little more to grant on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from grantflow.pgserver import PgServer, ensure_demo_schema

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
    old = os.environ.get(DSN_ENV)
    os.environ[DSN_ENV] = server.admin_dsn
    try:
        orders_dsn = ensure_demo_schema(server.admin_dsn)
        with psycopg.connect(orders_dsn, autocommit=True) as conn:
            for statement in _EXTRA:
                conn.execute(statement)
            conn.execute("CREATE DATABASE inventory")
        yield server
    finally:
        if old is None:
            os.environ.pop(DSN_ENV, None)
        else:
            os.environ[DSN_ENV] = old
        server.stop()


@pytest.fixture()
def admin_dsn(pg_server: PgServer) -> str:
    return pg_server.admin_dsn
