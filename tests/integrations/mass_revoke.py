"""How long N simultaneous expiries take: N roles granted on one table, then revoked all at once.

    .venv/bin/python -m tests.integrations.mass_revoke [--roles 200] [--sessions 0] [--driver FILE]

`--driver` measures another version of the integration module, e.g. the one before per-role locks:
`git show 2967e08:activities/integrations/postgresql.py > /tmp/pg_before.py` then `--driver /tmp/pg_before.py`.

Starts its own throwaway embedded PostgreSQL (room for every connection at once), grants `read` on
`orders.public.customers` to N request roles (the common case: everyone reads the same table, so every
revoke rewrites the same ACL), optionally keeps an open session for the first `--sessions` of them, then
times `asyncio.gather` over the integration's `revoke` for all N, as N workers' revoke activities at
the same expiry would run. Prints one line of JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from activities.integrations.base import GrantContext
from activities.integrations.postgresql import PostgresIntegrationDriver
from grantflow.dev.demo import ensure_demo_schema
from grantflow.dev.pgserver import PgServer
from grantflow.domain.config import PostgresIntegration
from grantflow.domain.models import GrantItem

DSN_ENV = "GF_BENCH_PG_DSN"


def context(i: int) -> GrantContext:
    return GrantContext(
        request_id=f"bench{i:04d}",
        requester=f"user{i}@example.com",
        grantee=f"user{i}@example.com",
        item=GrantItem(
            integration="bench", resource_type="table", resource="orders.public.customers", permission="read"
        ),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        secret_seed=b"bench-seed" * 4,
    )


def load_driver(path: str | None) -> type[PostgresIntegrationDriver]:
    if path is None:
        return PostgresIntegrationDriver
    spec = importlib.util.spec_from_file_location("grantflow_bench_driver", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    driver: type[PostgresIntegrationDriver] = module.PostgresIntegrationDriver
    return driver


async def run(roles: int, sessions: int, driver_class: type[PostgresIntegrationDriver]) -> dict[str, Any]:
    driver = driver_class(PostgresIntegration.model_validate({"id": "bench", "type": "postgresql", "dsn_env": DSN_ENV}))
    contexts = [context(i) for i in range(roles)]
    grant_started = time.monotonic()
    granted = await asyncio.gather(*(driver.grant(c) for c in contexts))
    grant_seconds = time.monotonic() - grant_started
    open_sessions = [
        await psycopg.AsyncConnection.connect(
            host=d["host"], port=d["port"], dbname=d["database"], user=d["user"], password=d["password"]
        )
        for d in granted[:sessions]
    ]
    started = time.monotonic()
    await asyncio.gather(*(driver.revoke(c) for c in contexts))
    revoke_seconds = time.monotonic() - started
    for conn in open_sessions:
        await conn.close()
    left = await driver.list_grantflow_roles()
    assert not left, f"{len(left)} roles left"
    return {
        "roles": roles,
        "sessions": sessions,
        "grant_all_seconds": round(grant_seconds, 2),
        "revoke_all_seconds": round(revoke_seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=0)
    parser.add_argument("--driver", help="a postgresql.py to measure instead of this tree's")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="gf-bench-") as tmp,
        PgServer(Path(tmp) / "pg", durable=False, max_connections=4 * args.roles + 50) as server,
    ):
        os.environ[DSN_ENV] = server.admin_dsn
        ensure_demo_schema(server.admin_dsn)
        print(json.dumps(asyncio.run(run(args.roles, args.sessions, load_driver(args.driver)))))


if __name__ == "__main__":
    main()
