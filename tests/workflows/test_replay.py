"""Every committed history of every supported release replays with the current workflow code.

A change to workflows/ that takes a different path through a recorded history fails here, naming the
history (`<release>/<name>.json`) and the first command that did not match. Gate such a change with
`workflow.patched` (docs/contributing.md). The releases are listed in tests/workflows/histories/SUPPORTED;
`make histories` re-records the current release's corpus (tests/workflows/scenarios.py).
"""

from __future__ import annotations

import json
import re

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from grantflow.payloads.codec import EncryptionCodec, new_key_entry, parse_keys
from grantflow.temporal import data_converter
from tests.e2e.conftest import TEST_ENCRYPTION_KEYS
from tests.workflows.corpus import (
    HISTORY_ROOT,
    RecordedHistory,
    histories,
    known_incompatible,
    read_index,
    supported_releases,
    version_tuple,
)
from tests.workflows.mutated_workflow import SleepFirstAccessRequestWorkflow
from tests.workflows.reseal_history import reseal
from tests.workflows.scenarios import SCENARIOS
from worker import ALL_WORKFLOWS, sandbox_runner
from workflows.access_request import AccessRequestWorkflow

CORPUS = histories()
UNRELEASED = "unreleased"


def replayer(workflows: list[type]) -> Replayer:
    return Replayer(
        workflows=workflows, data_converter=data_converter(TEST_ENCRYPTION_KEYS), workflow_runner=sandbox_runner()
    )


async def replay_failure(replay: Replayer, recorded: RecordedHistory) -> str | None:
    """None when the history replays, else `<release>/<name>.json: <the SDK's error>`."""
    history = WorkflowHistory.from_json(recorded.name, recorded.path.read_text())
    result = await replay.replay_workflow(history, raise_on_replay_failure=False)
    if result.replay_failure is None:
        return None
    text = str(result.replay_failure)
    # The core's failure wraps the message that names the mismatching command; show that message.
    m = re.search(r'message: "((?:[^"\\]|\\.)*)"', text)
    return f"{recorded.label}: {m.group(1) if m else text}"


def test_every_supported_release_has_described_histories() -> None:
    releases = supported_releases()
    assert releases, "tests/workflows/histories/SUPPORTED lists no release"
    for release in releases:
        found = {h.name for h in CORPUS if h.release == release}
        assert found, f"{release}: no histories in {HISTORY_ROOT / release}"
        described = set(read_index(HISTORY_ROOT / release))
        assert found - described == set(), f"{release}: histories without a line in INDEX.md"
        assert described - found == set(), f"{release}: INDEX.md names histories that are not there"
        unlisted = set(known_incompatible(HISTORY_ROOT / release)) - found
        assert not unlisted, f"{release}: KNOWN_INCOMPATIBLE.md names histories that are not there"


def newest_release() -> str:
    """The newest supported release with a version; `unreleased` (paths of the next release) is not one."""
    return [r for r in supported_releases() if version_tuple(r)][-1]


def test_current_release_covers_every_scenario() -> None:
    """A scenario added to tests/workflows/scenarios.py is recorded (`make histories`) with its release; a
    dev-server scenario as every run of its chain, `<name>.run1.json` .. `<name>.run<N>.json` with N >= 2.
    A scenario of the next release is recorded in `unreleased` until that release is cut."""
    newest = newest_release()
    recorded = {h.name for h in CORPUS if h.release == newest}
    upcoming = {h.name for h in CORPUS if h.release == UNRELEASED}
    missing: list[str] = []
    for name, sc in SCENARIOS.items():
        if version_tuple(sc.since) > version_tuple(newest):
            if sc.server != "dev" and name not in upcoming:
                missing.append(f"{UNRELEASED}/{name}")
            continue
        if sc.server == "dev":
            runs = sorted(int(m.group(1)) for r in recorded if (m := re.fullmatch(rf"{re.escape(name)}\.run(\d+)", r)))
            if len(runs) < 2 or runs != list(range(1, len(runs) + 1)):
                missing.append(f"{name}.run1..runN (got runs {runs})")
        elif name not in recorded:
            missing.append(name)
    assert missing == [], f"not recorded in {newest}: run `make histories`"


def continued_runs(release: str) -> tuple[list[RecordedHistory], list[RecordedHistory]]:
    """The release's histories that end in ContinueAsNew, and those that start from a carried state."""
    ending: list[RecordedHistory] = []
    resuming: list[RecordedHistory] = []
    for recorded in (h for h in CORPUS if h.release == release):
        events = WorkflowHistory.from_json(recorded.name, recorded.path.read_text()).events
        if events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            ending.append(recorded)
        if events[0].workflow_execution_started_event_attributes.continued_execution_run_id:
            resuming.append(recorded)
    return ending, resuming


async def test_each_run_of_a_continued_workflow_replays_on_its_own() -> None:
    """The newest release has runs that end in ContinueAsNew and runs that start from the carried state (both
    recorded on the dev server, record_dev_histories); each replays alone, and the check can fail for them."""
    newest = newest_release()
    if not any(s.server == "dev" and version_tuple(s.since) <= version_tuple(newest) for s in SCENARIOS.values()):
        pytest.skip(f"{newest} predates continue-as-new")
    ending, resuming = continued_runs(newest)
    assert ending, f"{newest}: no history ends in ContinueAsNew"
    assert resuming, f"{newest}: no history starts from a continued-as-new input"
    current = replayer(ALL_WORKFLOWS)
    mutated = replayer([SleepFirstAccessRequestWorkflow, *(w for w in ALL_WORKFLOWS if w is not AccessRequestWorkflow)])
    for recorded in ending + resuming:
        assert await replay_failure(current, recorded) is None, recorded.label
        failure = await replay_failure(mutated, recorded)
        assert failure is not None and "nondetermin" in failure.lower(), recorded.label


@pytest.mark.parametrize("recorded", CORPUS, ids=[h.label.removesuffix(".json") for h in CORPUS])
async def test_history_replays(recorded: RecordedHistory) -> None:
    failure = await replay_failure(replayer(ALL_WORKFLOWS), recorded)
    why = known_incompatible(recorded.path.parent).get(recorded.name)
    if why is None:
        assert failure is None, failure
    else:
        # Listed in KNOWN_INCOMPATIBLE.md with the reason; it must still fail, or the list is stale.
        assert failure is not None and "Nondeterminism" in failure, f"{recorded.label} replays now: unlist it"


async def test_a_workflow_that_sleeps_first_fails_replay_naming_the_history() -> None:
    """The check can fail: a timer inserted at the start of run breaks every recorded history."""
    mutated = [SleepFirstAccessRequestWorkflow, *(w for w in ALL_WORKFLOWS if w is not AccessRequestWorkflow)]
    replay = replayer(mutated)
    for recorded in CORPUS:
        failure = await replay_failure(replay, recorded)
        assert failure is not None, f"{recorded.label} replayed with a workflow that sleeps first"
        assert failure.startswith(f"{recorded.label}: "), failure
        assert "nondetermin" in failure.lower(), failure


async def test_a_resealed_history_replays_as_before() -> None:
    """tests/workflows/reseal_history.py changes the key, not the history: a corpus history sealed with another
    key and back replays exactly as the committed one does (a known-incompatible one fails the same way)."""
    other = EncryptionCodec(parse_keys(new_key_entry("elsewhere")))
    test_key = EncryptionCodec(parse_keys(TEST_ENCRYPTION_KEYS))
    for recorded in [h for h in CORPUS if h.release == UNRELEASED]:
        original = json.loads(recorded.path.read_text())
        away, count = reseal(original, test_key, other)
        assert count > 0 and away != original, recorded.label
        sealed_away = WorkflowHistory.from_json(recorded.name, json.dumps(away))
        result = await replayer(ALL_WORKFLOWS).replay_workflow(sealed_away, raise_on_replay_failure=False)
        assert result.replay_failure is not None, f"{recorded.label}: read without its key"
        back, _ = reseal(away, other, test_key)
        history = WorkflowHistory.from_json(recorded.name, json.dumps(back))
        result = await replayer(ALL_WORKFLOWS).replay_workflow(history, raise_on_replay_failure=False)
        expected = await replay_failure(replayer(ALL_WORKFLOWS), recorded)
        assert (result.replay_failure is None) == (expected is None), recorded.label
