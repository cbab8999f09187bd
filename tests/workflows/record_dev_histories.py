"""Record the `server="dev"` scenarios (paths the time-skipping server cannot reach) on a real dev server.

The time-skipping server never suggests continue-as-new, so the continue-as-new scenarios run on a
`temporal server start-dev` (grantflow.dev.launcher.DevServer, a temporary SQLite file, loopback) started with
a low `limit.historyCount.suggestContinueAsNew` (SUGGEST_AFTER events), with the test catalog's read flow
shortened (DEV_EXTENSION) so that a whole request lasts seconds. Every run of the workflow id is stored as
its own history, `<name>.run1.json`, `<name>.run2.json`, ... (oldest first): each replays on its own, the
first from the submitted request and ending in ContinueAsNew, the next from the state its predecessor carried.

`make histories` (tests/workflows/record_histories.py) calls this after the time-skipping scenarios; on its own:

    python -m tests.workflows.record_dev_histories [--only continue_as_new_while_pending] [--out DIR]

The dev server is stopped and its database removed whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.workflows.corpus import (
    HISTORY_ROOT,
    ROOT,
    current_release,
    current_version,
    read_index,
    save_history,
    version_tuple,
    write_index,
)

# History events after which the server suggests continue-as-new (Temporal's default is 4K): low enough
# that a few dozen refused signals reach it, high enough that a whole request fits in one run otherwise.
SUGGEST_AFTER = 50
# The test catalog's read-folders flow, with an extension that fits a request of seconds.
DEV_FLOW = "read-folders"
DEV_EXTENSION: dict[str, Any] = {"enabled": True, "max_extensions": 2, "duration": "10s", "notify_before": "5s"}
RESULT_TIMEOUT = 120.0


def dev_scenarios(names: list[str], version: str) -> list[Any]:
    from tests.workflows.scenarios import SCENARIOS

    chosen = [s for s in SCENARIOS.values() if s.server == "dev" and (not names or s.name in names)]
    for s in chosen:
        if version_tuple(s.since) > version_tuple(version):
            print(f"skip {s.name}: since {s.since}")
    return [s for s in chosen if version_tuple(s.since) <= version_tuple(version)]


async def run_ids(client: Any, workflow_id: str) -> list[str]:
    """Every run of the workflow id, oldest first (following continued_execution_run_id back from the latest)."""
    runs: list[str] = []
    run_id: str | None = (await client.get_workflow_handle(workflow_id).describe()).run_id
    while run_id:
        runs.append(run_id)
        first = None
        async for event in client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history_events():
            first = event
            break
        if first is None:
            raise RuntimeError(f"{workflow_id}/{run_id}: empty history")
        run_id = first.workflow_execution_started_event_attributes.continued_execution_run_id or None
    return runs[::-1]


def run_line(description: str, run: int, of: int, events: int, continued: bool) -> str:
    starts = "from the submitted request" if run == 1 else f"from the state run {run - 1} carried"
    ends = "ends in ContinueAsNew" if continued else "completes the request"
    return f"run {run} of {of} ({starts}, {events} events, {ends}): {description}"


def forget_runs(out: Path, name: str) -> None:
    """Remove an earlier recording's runs of `name` (a new chain may have fewer runs)."""
    pattern = re.compile(rf"{re.escape(name)}\.run\d+")
    for path in out.glob(f"{name}.run*.json"):
        if pattern.fullmatch(path.stem):
            path.unlink()
    entries = read_index(out)
    kept = {n: t for n, t in entries.items() if not pattern.fullmatch(n)}
    if kept != entries:
        write_index(out, kept)


async def record_dev(names: list[str], out: Path, version: str) -> list[str]:
    """Record the dev scenarios among `names` (all when empty) into `out`; the names that failed."""
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client
    from temporalio.testing import WorkflowEnvironment

    from grantflow.client import final_view
    from grantflow.dev.launcher import DevServer
    from grantflow.temporal import data_converter, register_search_attributes
    from tests.e2e.conftest import TEST_ENCRYPTION_KEYS
    from tests.workflows.conftest import config_with, make_harness
    from tests.workflows.record_histories import environment

    scenarios = dev_scenarios(names, version)
    if not scenarios:
        return []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gf-dev-hist-") as server_tmp:
        began = time.monotonic()
        server = DevServer(
            db_file=Path(server_tmp) / "temporal.db",
            dynamic_config={"limit.historyCount.suggestContinueAsNew": SUGGEST_AFTER},
        )
        try:
            server.start()
            print(
                f"dev server on {server.address} (suggests continue-as-new after {SUGGEST_AFTER} events) "
                f"in {time.monotonic() - began:.1f}s"
            )
            client = await Client.connect(server.address, data_converter=data_converter(TEST_ENCRYPTION_KEYS))
            await register_search_attributes(client)
            env = WorkflowEnvironment.from_client(client)
            for sc in scenarios:
                began = time.monotonic()
                try:
                    with tempfile.TemporaryDirectory(prefix=f"gf-hist-{sc.name}-") as tmp:
                        tmp_path = Path(tmp)
                        state = tmp_path / "state"
                        state.mkdir()
                        config = config_with(tmp_path / "config", DEV_FLOW, extension=DEV_EXTENSION)
                        env_vars = {
                            "GRANTFLOW_STATE_DIR": str(state),
                            "GRANTFLOW_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
                        }
                        with environment({**env_vars, **sc.env}):
                            async for h in make_harness(env, tmp_path, state, config):
                                rid = await sc.run(h)
                                workflow_id = f"access-request-{rid}"
                                await asyncio.wait_for(
                                    final_view(client.get_workflow_handle(workflow_id)), timeout=RESULT_TIMEOUT
                                )
                                runs = [
                                    await client.get_workflow_handle(workflow_id, run_id=r).fetch_history()
                                    for r in await run_ids(client, workflow_id)
                                ]
                    if len(runs) < 2:
                        raise RuntimeError(f"{workflow_id} never continued as new ({len(runs)} run)")
                    forget_runs(out, sc.name)
                    shown = []
                    for n, history in enumerate(runs, start=1):
                        continued = (
                            history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
                        )
                        line = run_line(sc.description, n, len(runs), len(history.events), continued)
                        save_history(out, f"{sc.name}.run{n}", history.to_json(), line)
                        shown.append(str(len(history.events)))
                    where = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
                    print(
                        f"{sc.name}: {len(runs)} runs of {'+'.join(shown)} events -> {where}/{sc.name}.run*.json "
                        f"({time.monotonic() - began:.1f}s)"
                    )
                except Exception as exc:  # report every scenario, fail at the end
                    failed.append(sc.name)
                    print(f"{sc.name}: FAILED {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            server.stop()
    return failed


def main(argv: list[str] | None = None) -> int:
    from tests.workflows.record_histories import tag_exists

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=[], help="dev scenario names (default: all)")
    parser.add_argument("--out", type=Path, help="directory (default: histories/v<version>)")
    parser.add_argument("--version", help="release the recorded code is (decides which scenarios apply)")
    args = parser.parse_args(argv)
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    if args.out is None and tag_exists(current_release()):
        # A released corpus is re-recorded only from its tag's code, which `make histories` takes care of.
        raise SystemExit(f"{current_release()} is tagged: run `make histories ONLY=...` (records the tag's code)")
    out = (args.out or HISTORY_ROOT / current_release()).resolve()
    failed = asyncio.run(record_dev(args.only, out, args.version or current_version()))
    if failed:
        print(f"failed: {' '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
