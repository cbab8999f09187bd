"""Replay recorded histories with the current workflow code: a non-deterministic change fails here.

The histories in histories/ were recorded from real runs (tests/e2e records a fresh one on every run and
replays it too). To record anew after an intentional, patched change: `touch tests/workflows/histories/RECORD`
and run tests/e2e; then delete RECORD.
"""

from __future__ import annotations

from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from grantflow.temporal import data_converter
from tests.e2e.conftest import TEST_ENCRYPTION_KEYS
from worker import ALL_WORKFLOWS, sandbox_runner

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


async def test_recorded_histories_replay() -> None:
    assert HISTORIES, "no recorded histories"
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=data_converter(TEST_ENCRYPTION_KEYS),
                        workflow_runner=sandbox_runner())
    for path in HISTORIES:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
        assert result.replay_failure is None, (path.name, result.replay_failure)
