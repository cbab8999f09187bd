"""Several processes that open a fresh request index at once (`grantflow dev` starts the worker and a person's
first `grantflow request` runs right after: both create the schema) all succeed.

SQLAlchemy's create_all checks each table, then creates the missing ones: between the check and the CREATE,
another process can create the table, and the loser used to fail ("table ... already exists") — the CLI
crashed with a traceback and printed nothing.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from grantflow.storage.store import Store

PROCESSES = 8
ROUNDS = 6


def open_store(url: str, start: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    start.wait()
    Store(url).create_all()


def test_processes_creating_the_schema_at_once_all_succeed(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for round_ in range(ROUNDS):
        url = f"sqlite:///{tmp_path}/round{round_}.db"
        start = ctx.Event()
        procs = [ctx.Process(target=open_store, args=(url, start)) for _ in range(PROCESSES)]
        for p in procs:
            p.start()
        start.set()
        for p in procs:
            p.join(60)
        codes = [p.exitcode for p in procs]
        assert codes == [0] * PROCESSES, f"round {round_}: exit codes {codes}"
        assert Store(url).list_requests() == []
