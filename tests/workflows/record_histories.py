"""Record the history corpus: every scenario of tests/workflows/scenarios.py, on the time-skipping server.

    python -m tests.workflows.record_histories                 # into histories/v<version of pyproject.toml>
    python -m tests.workflows.record_histories --ref 55ba3ad --out tests/workflows/histories/pre-v0.1.0-55ba3ad
    python -m tests.workflows.record_histories --only rejected break_glass

`make histories` runs the first form. Scenarios marked `server="dev"` (continue-as-new, which the
time-skipping server never suggests) are recorded after the others on a real dev server, one history per
run (tests/workflows/record_dev_histories.py); `--no-dev` leaves them out.

A release's histories must come from that release's workflow code: when the tag v<version> exists, the code is
taken from the tag (git archive into a temporary directory, put first on sys.path before anything imports
it), so re-recording a released corpus from a changed tree cannot silently replace it with new behaviour;
`--ref` does the same for any commit. Histories are recorded with the committed test encryption key, as a
production worker would write them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.workflows.corpus import HISTORY_ROOT, ROOT, current_release, current_version, save_history, version_tuple

# The first commit with this recorder, whose harness drove v0.1.0's code for its corpus.
RECORDER_COMMIT = "698d00d"
# The packages a worker runs; tests/ always comes from this tree (it drives the scenarios).
CODE_PATHS = ("grantflow", "workflows", "activities", "slack_app", "worker.py")


def tag_exists(tag: str) -> bool:
    return (
        subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "-q", "--verify", f"refs/tags/{tag}"], capture_output=True
        ).returncode
        == 0
    )


def export_ref(ref: str, into: Path) -> Path:
    """The worker's code at `ref`, unpacked into `into`."""
    archive = into / "code.tar"
    subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), ref, *CODE_PATHS], check=True
    )
    with tarfile.open(archive) as tar:
        tar.extractall(into / "code", filter="data")
    return into / "code"


def has_recorder(ref: str) -> bool:
    probe = ["git", "-C", str(ROOT), "cat-file", "-e", f"{ref}:tests/workflows/record_histories.py"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def has_layout_of_this_tree(ref: str) -> bool:
    probe = ["git", "-C", str(ROOT), "cat-file", "-e", f"{ref}:grantflow/domain/models.py"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def export_tree(ref: str, into: Path) -> Path:
    """The whole tree at `ref` (code, tests and fixtures), unpacked into `into`/tree."""
    archive = into / "tree.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), ref], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def use_code_from(code_root: Path) -> None:
    """Make `code_root`'s packages the ones every later import finds (nothing imported them yet)."""
    loaded = [m for m in ("grantflow", "workflows", "activities", "worker") if m in sys.modules]
    if loaded:
        raise RuntimeError(f"already imported from this tree: {loaded}")
    sys.path.insert(0, str(code_root))
    import workflows.access_request

    where = Path(workflows.access_request.__file__ or "").resolve()
    if code_root.resolve() not in where.parents:
        raise RuntimeError(f"workflow code loaded from {where}, not {code_root}")


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def record(names: list[str], out: Path, version: str) -> list[str]:
    from temporalio.testing import WorkflowEnvironment

    from grantflow.client import final_view
    from grantflow.temporal import data_converter, register_search_attributes
    from tests.conftest import venv_binary
    from tests.e2e.conftest import TEST_ENCRYPTION_KEYS
    from tests.workflows.conftest import make_harness
    from tests.workflows.scenarios import SCENARIOS

    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenarios: {unknown}; known: {sorted(SCENARIOS)}")
    failed: list[str] = []
    for name in names or sorted(SCENARIOS):
        sc = SCENARIOS[name]
        if sc.server == "dev":
            continue  # record_dev_histories
        if version_tuple(sc.since) > version_tuple(version):
            print(f"skip {name}: since {sc.since}")
            continue
        began = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"gf-hist-{name}-") as tmp:
            tmp_path = Path(tmp)
            state = tmp_path / "state"
            state.mkdir()
            env = await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=venv_binary("temporal-test-server"),
                data_converter=data_converter(TEST_ENCRYPTION_KEYS),
            )
            try:
                await register_search_attributes(env.client)
                with environment(
                    {"GRANTFLOW_STATE_DIR": str(state), "GRANTFLOW_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS, **sc.env}
                ):
                    async for h in make_harness(env, tmp_path, state):
                        rid = await sc.run(h)
                        handle = env.client.get_workflow_handle(f"access-request-{rid}")
                        await asyncio.wait_for(final_view(handle), timeout=60)
                        history = await handle.fetch_history()
                path = save_history(out, name, history.to_json(), sc.description)
                print(f"{name}: {len(history.events)} events -> {_shown(path)} ({time.monotonic() - began:.1f}s)")
            except Exception as exc:  # report every scenario, fail at the end
                failed.append(name)
                print(f"{name}: FAILED {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                await env.shutdown()
    return failed


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=[], help="scenario names (default: all)")
    parser.add_argument(
        "--ref",
        help="record with the worker code of this git ref (default: the tag of "
        "the current version when it exists, else this tree)",
    )
    parser.add_argument("--out", type=Path, help="directory (default: histories/v<version>)")
    parser.add_argument("--version", help="release the recorded code is (decides which scenarios apply)")
    parser.add_argument("--no-dev", action="store_true", help="leave out the dev-server scenarios")
    args = parser.parse_args(argv)
    # Activities that fail on purpose (broken targets) log a traceback per attempt; the outcome is what counts.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    release = current_release()
    ref = args.ref or (release if tag_exists(release) else None)
    out = (args.out or HISTORY_ROOT / release).resolve()
    version = args.version or (current_version() if args.ref is None else "999")
    with tempfile.TemporaryDirectory(prefix="gf-code-") as tmp:
        if ref and has_recorder(ref):
            # The ref carries its own recorder and harness: run those, so that the scenarios drive the ref's
            # code through the API it had (this tree's tests may import modules the ref does not have).
            tree = export_tree(ref, Path(tmp))
            print(f"recording with the code and scenarios of {ref} into {out}")
            cmd = [sys.executable, "-m", "tests.workflows.record_histories", "--out", str(out)]
            cmd += ["--version", version] + (["--only", *args.only] if args.only else [])
            cmd += ["--no-dev"] if args.no_dev else []
            return subprocess.run(cmd, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}).returncode
        if ref and not has_layout_of_this_tree(ref):
            # This tree's harness imports modules such a ref does not have (v0.1.0 predates the regrouping
            # of grantflow/): record it with the harness that recorded its corpus.
            raise SystemExit(
                f"{ref} predates this tree's layout; record it with the harness that recorded its corpus: "
                f"git worktree add /tmp/gf-rec {RECORDER_COMMIT} && cd /tmp/gf-rec && "
                f"make histories REF={ref} OUT={out}"
            )
        if ref:
            code = export_ref(ref, Path(tmp))
            use_code_from(code)
            print(f"recording with the workflow code of {ref} into {out}")
        else:
            print(f"recording with this tree's workflow code into {out}")
        failed = asyncio.run(record(args.only, out, version))
        if not args.no_dev:
            from tests.workflows.record_dev_histories import record_dev

            failed += asyncio.run(record_dev(args.only, out, version))
    if failed:
        print(f"failed: {' '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
