"""One driver per lifecycle path of AccessRequestWorkflow, for the history corpus (`make histories`).

Each scenario drives a request through one path on the time-skipping server with the test catalog
(tests/fixtures/grantflow.yml, script integration tests/fixtures/scripts/files.py) and returns its
request id; the recorder waits for the workflow to close and stores its history. Adding a path is one
function:

    @scenario("name", "one line saying which path this is")
    async def name(h: Harness) -> str:
        ...
        return request_id

A scenario only uses what the harness offered at the release it records (`since`), so that older
releases can be re-recorded with their own code (`make histories REF=v0.1.0`).

Paths the time-skipping server cannot reach (it never suggests continue-as-new) are `server="dev"`
scenarios: tests/workflows/record_dev_histories.py drives them on a real dev server started with a low
`limit.historyCount.suggestContinueAsNew`, with short durations (DEV_FLOW), and stores every run of the
workflow as its own history, `<name>.run<N>.json`.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from grantflow.domain.models import RequestSpec, WorkflowInput
from grantflow.domain.proofs import Signer, parse_keys
from tests.conftest import TEST_DECISION_KEYS
from tests.workflows.conftest import Harness, settle

ScenarioFn = Callable[[Harness], Awaitable[str]]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    run: ScenarioFn
    env: dict[str, str] = field(default_factory=dict)
    since: str = "0.0.0"  # first release whose workflow has this path
    server: str = "time-skipping"  # or "dev": recorded run by run on a dev server (record_dev_histories)


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    name: str,
    description: str,
    *,
    env: dict[str, str] | None = None,
    since: str = "0.0.0",
    server: str = "time-skipping",
) -> Callable[[ScenarioFn], ScenarioFn]:
    def register(fn: ScenarioFn) -> ScenarioFn:
        if name in SCENARIOS:
            raise ValueError(f"scenario {name} registered twice")
        if "." in name:
            raise ValueError(f"scenario {name}: no dots (a dev scenario's runs are <name>.run<N>)")
        SCENARIOS[name] = Scenario(name, description, fn, env or {}, since, server)
        return fn

    return register


# --- helpers -------------------------------------------------------------------------------------------


def spec(
    h: Harness,
    requester: str = "alice@example.com",
    resources: tuple[str, ...] = ("alpha",),
    permission: str = "read",
    duration: str = "1h",
    justification: str = "investigating an incident",
) -> RequestSpec:
    return h.client.build_spec(
        requester=requester,
        integration="files",
        resource_type="folder",
        resources=list(resources),
        permission=permission,
        duration=duration,
        justification=justification,
    )


async def submit(h: Harness, s: RequestSpec) -> str:
    rid = (await h.client.submit(s)).request_id
    await settle(h, rid, {"PENDING_APPROVAL", "GRANTING", "ACTIVE", "FAILED"})
    return rid


async def signal(h: Harness, rid: str, name: str, payload: object) -> None:
    await h.env.client.get_workflow_handle(f"access-request-{rid}").signal(name, payload)


async def until(h: Harness, rid: str, test: Callable[[dict], bool], what: str, timeout: float = 20) -> dict:
    """Poll the status query until `test` holds (no time skipping)."""
    handle = h.env.client.get_workflow_handle(f"access-request-{rid}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        view = await handle.query("status")
        if test(view):
            return view
        if loop.time() > deadline:
            raise AssertionError(f"{rid}: never {what}; status {view['status']} ({view['status_reason']})")
        await asyncio.sleep(0.05)


async def audited(h: Harness, rid: str, action: str, outcome: str, count: int = 1, timeout: float = 20) -> None:
    """Wait until the audit trail holds `count` events of action/outcome (publishing is asynchronous)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while sum(1 for e in h.store.audit(request_id=rid) if e.action == action and e.outcome == outcome) < count:
        if loop.time() > deadline:
            raise AssertionError(f"{rid}: fewer than {count} {action}/{outcome} audit events")
        await asyncio.sleep(0.05)


async def audited_any(h: Harness, rid: str, wanted: set[tuple[str, str]], timeout: float = 20) -> None:
    """Wait until the audit trail holds an event of one of the action/outcome pairs (releases differ)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not any((e.action, e.outcome) in wanted for e in h.store.audit(request_id=rid)):
        if loop.time() > deadline:
            raise AssertionError(f"{rid}: no audit event of {sorted(wanted)}")
        await asyncio.sleep(0.05)


async def handled(h: Harness, rid: str, timeout: float = 20) -> None:
    """Wait until a workflow task completed after the last signal in history: every signal sent so far was
    handled (refusals leave no visible trace when they are only counted)."""
    from temporalio.api.enums.v1 import EventType

    handle = h.env.client.get_workflow_handle(f"access-request-{rid}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        last_signal = last_completed = 0
        async for e in handle.fetch_history_events():
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                last_signal = e.event_id
            elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                last_completed = e.event_id
        if last_completed > last_signal:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{rid}: the signal of event {last_signal} was never handled")
        await asyncio.sleep(0.05)


async def approve_and_activate(h: Harness, rid: str, approver: str = "bob@example.com") -> dict:
    await signal(h, rid, "approve", {"approver": approver, "comment": "ok"})
    return await settle(h, rid, {"ACTIVE"})


# --- the paths -----------------------------------------------------------------------------------------


@scenario("auto_approval", "approvals_required 0: approved automatically, granted, ACTIVE for 2h, expired and revoked")
async def auto_approval(h: Harness) -> str:
    s = h.client.build_spec(
        requester="erin@example.com",
        integration="files",
        resource_type="folder",
        resources=["gamma"],
        permission="read",
        duration="2h",
    )
    rid = await submit(h, s)
    await settle(h, rid, {"ACTIVE"})
    await settle(h, rid, {"EXPIRED"}, max_skip=3 * 3600)
    return rid


@scenario(
    "approved_then_expired",
    "one approval by signal; ACTIVE 1h with the expiry reminder at 45m, no extension; expired and revoked",
)
async def approved_then_expired(h: Harness) -> str:
    rid = await submit(h, spec(h))
    await approve_and_activate(h, rid)
    await settle(h, rid, {"EXPIRED"}, max_skip=2 * 3600)
    return rid


@scenario(
    "quorum_of_two",
    "write flow needing 2 approvals: one by signal (approval transition), one by update; expired, no extension",
)
async def quorum_of_two(h: Harness) -> str:
    rid = await submit(h, spec(h, permission="write"))
    await signal(h, rid, "approve", {"approver": "bob@example.com", "comment": "first"})
    await until(h, rid, lambda v: len(v["approvals"]) == 1, "one approval")
    await h.client.approve(rid, "erin@example.com", "second")
    await settle(h, rid, {"ACTIVE"})
    await settle(h, rid, {"EXPIRED"}, max_skip=2 * 3600)
    return rid


@scenario("rejected", "rejected with a reason by an approver through the reject update; nothing granted")
async def rejected(h: Harness) -> str:
    rid = await submit(h, spec(h))
    await h.client.reject(rid, "carol@example.com", "use staging")
    await settle(h, rid, {"REJECTED"})
    return rid


@scenario("withdrawn_while_pending", "the requester revokes (withdraws) by signal while PENDING_APPROVAL")
async def withdrawn_while_pending(h: Harness) -> str:
    rid = await submit(h, spec(h))
    await signal(h, rid, "revoke", {"actor": "alice@example.com"})
    await settle(h, rid, {"REVOKED"})
    return rid


@scenario(
    "approval_timeout_after_reminders",
    "nobody decides: 6 daily approval reminders, then FAILED 'approval timed out' after 7 days",
)
async def approval_timeout_after_reminders(h: Harness) -> str:
    rid = await submit(h, spec(h))
    await settle(h, rid, {"FAILED"}, max_skip=7 * 86400 + 3600, timeout=60)
    return rid


@scenario(
    "extension_offered_at_once",
    "10m grant, shorter than the 15m reminder lead: extension offered at ACTIVE, extended 1h, reminded, expired",
)
async def extension_offered_at_once(h: Harness) -> str:
    rid = await submit(h, spec(h, duration="10m"))
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    await until(h, rid, lambda v: v["status"] == "ACTIVE" and v["extension_offered"], "offered an extension")
    await signal(h, rid, "extend", {"actor": "alice@example.com"})
    await until(h, rid, lambda v: v["extensions_used"] == 1, "extended")
    await audited(h, rid, "extend", "ok")
    await settle(h, rid, {"EXPIRED"}, max_skip=2 * 3600)
    return rid


@scenario(
    "extension_near_expiry",
    "1h grant: reminder at 45m, extended by update at 59m (a minute before expiry), reminded again, expired at 2h",
)
async def extension_near_expiry(h: Harness) -> str:
    rid = await submit(h, spec(h))
    await approve_and_activate(h, rid)
    await h.env.sleep(59 * 60)
    await until(h, rid, lambda v: v["extension_offered"], "offered an extension")
    await h.client.extend(rid, "alice@example.com")
    await audited(h, rid, "extend", "ok")
    await settle(h, rid, {"EXPIRED"}, max_skip=3 * 3600)
    return rid


@scenario(
    "extension_refused_by_target",
    "extended after the reminder but the target's extend fails every retry (v0.1.0: extend_target failed, the "
    "extension counted; from v0.2.0: extend_failed, the old expiry kept and told); then expired",
)
async def extension_refused_by_target(h: Harness) -> str:
    rid = await submit(h, spec(h))
    await approve_and_activate(h, rid)
    await h.env.sleep(46 * 60)
    await until(h, rid, lambda v: v["extension_offered"], "offered an extension")
    # The script's extend rewrites the grant's file; without its folder, it fails (exit 1).
    shutil.rmtree(h.state_dir / "files" / "alpha")
    await signal(h, rid, "extend", {"actor": "alice@example.com"})
    await audited_any(h, rid, {("extend_target", "failed"), ("extend_failed", "failed")}, timeout=90)
    await settle(h, rid, {"EXPIRED"}, max_skip=3 * 3600)
    return rid


@scenario(
    "revoke_during_granting",
    "a slow grant (3s) is revoked by an admin while GRANTING: the grant finishes, then is revoked: REVOKED",
    env={"GF_TEST_SLOW_SECONDS": "3"},
)
async def revoke_during_granting(h: Harness) -> str:
    rid = await submit(h, spec(h, resources=("slow",)))
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    await settle(h, rid, {"GRANTING"})
    await signal(h, rid, "revoke", {"actor": "ops@example.com", "reason": "wrong person"})
    await settle(h, rid, {"REVOKED"}, timeout=30)
    return rid


@scenario(
    "partial_grant_failure_compensated",
    "two items, one target broken: its grant fails all retries, the granted one is revoked (REVOKING), FAILED",
)
async def partial_grant_failure_compensated(h: Harness) -> str:
    rid = await submit(h, spec(h, resources=("alpha", "broken")))
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    await settle(h, rid, {"FAILED"}, timeout=60)
    return rid


@scenario(
    "revoke_retried_while_target_down",
    "revoked while ACTIVE with the target down: revoke rounds fail and back off, then succeed once it is back",
)
async def revoke_retried_while_target_down(h: Harness) -> str:
    rid = await submit(h, spec(h))
    await approve_and_activate(h, rid)
    blocker = h.state_dir / "revoke-blocked"
    blocker.write_text("down")
    await signal(h, rid, "revoke", {"actor": "alice@example.com", "reason": "done"})
    await until(h, rid, lambda v: "retrying" in v["status_reason"], "retrying the revoke", timeout=60)
    blocker.unlink()
    await settle(h, rid, {"REVOKED"}, max_skip=600, timeout=60)
    return rid


@scenario(
    "break_glass", "an admin approves alone with break_glass and a reason (update); ACTIVE, then revoked by the admin"
)
async def break_glass(h: Harness) -> str:
    rid = await submit(h, spec(h, permission="write"))
    await h.client.approve(rid, "ops@example.com", break_glass=True, reason="prod is down, approvers asleep")
    await settle(h, rid, {"ACTIVE"})
    await h.client.revoke(rid, "ops@example.com", "incident over")
    await settle(h, rid, {"REVOKED"})
    return rid


@scenario(
    "refused_and_malformed_messages",
    "refused signals (stranger, self-approval, wrong state, over the limit) and malformed ones, pending and "
    "ACTIVE; "
    "approved, extended twice, revoked",
)
async def refused_and_malformed_messages(h: Harness) -> str:
    rid = await submit(h, spec(h))
    await signal(h, rid, "approve", {"approver": "mallory@example.com"})  # not an approver
    await signal(h, rid, "approve", {"approver": "alice@example.com"})  # the requester
    await signal(h, rid, "approve", {"who": "bob"})  # malformed
    await signal(h, rid, "approve", "bob@example.com")  # not an object
    await signal(h, rid, "approve", None)  # no payload
    await signal(h, rid, "reject", {"approver": 5})  # wrong type
    await signal(h, rid, "extend", {"actor": "alice@example.com"})  # wrong state
    await handled(h, rid)  # from v0.2.0, alice's second refusal within the minute is only counted
    await approve_and_activate(h, rid)
    await signal(h, rid, "approve", {"approver": "carol@example.com"})  # already decided
    await signal(h, rid, "revoke", {"actor": "mallory@example.com"})  # may not revoke
    await signal(h, rid, "extend", {"actor": "dan@example.com"})  # may not extend
    await signal(h, rid, "extend", {"actor": "alice@example.com"})
    await signal(h, rid, "extend", {"actor": "alice@example.com"})
    await signal(h, rid, "extend", {"actor": "alice@example.com"})  # over max_extensions: 2
    await handled(h, rid)
    await until(h, rid, lambda v: v["extensions_used"] == 2, "extended twice")
    await signal(h, rid, "revoke", {"actor": "alice@example.com", "reason": "done"})
    await signal(h, rid, "revoke", {"actor": "alice@example.com"})  # already being revoked
    await settle(h, rid, {"REVOKED"})
    return rid


@scenario("revoked_while_active", "approved by update, revoked by the requester by update while ACTIVE")
async def revoked_while_active(h: Harness) -> str:
    rid = await submit(h, spec(h))
    await h.client.approve(rid, "bob@example.com", "fine")
    await settle(h, rid, {"ACTIVE"})
    await h.client.revoke(rid, "alice@example.com", "done early")
    await settle(h, rid, {"REVOKED"})
    return rid


@scenario("bundle_two_items", "a bundle of two items granted in parallel, expired, both revoked in parallel")
async def bundle_two_items(h: Harness) -> str:
    s = h.client.build_spec(
        requester="alice@example.com", bundle="pair", duration="30m", justification="pairing on the report"
    )
    rid = await submit(h, s)
    await approve_and_activate(h, rid, "carol@example.com")
    await settle(h, rid, {"EXPIRED"}, max_skip=3600)
    return rid


@scenario(
    "policy_refused_at_start",
    "a spec the policy refuses (requester in no flow) started directly: FAILED at once with the policy's reason",
)
async def policy_refused_at_start(h: Harness) -> str:
    s = spec(h).model_copy(update={"requester": "nobody@example.com", "grantee": "nobody@example.com"})
    rid = "policyrefused1"
    await h.env.client.start_workflow(
        "AccessRequestWorkflow",
        WorkflowInput(request_id=rid, spec=s, submitted_at=datetime.now(UTC)),
        id=f"access-request-{rid}",
        task_queue=h.worker.task_queue,
    )
    await settle(h, rid, {"FAILED"})
    return rid


@scenario(
    "grant_slower_than_duration",
    "a 2-second grant whose target takes 3s: ACTIVE only after expires_at has passed, then expired at once",
    env={"GF_TEST_SLOW_SECONDS": "3"},
)
async def grant_slower_than_duration(h: Harness) -> str:
    rid = await submit(h, spec(h, resources=("slow",), duration="2"))
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    await settle(h, rid, {"EXPIRED"}, timeout=30)
    return rid


@scenario(
    "extended_as_it_expires",
    "the expiry timer fires and an extend signal arrives in one workflow task (no worker meanwhile): extended",
    env={"GRANTFLOW_MAX_CACHED_WORKFLOWS": "0"},  # no sticky queue: the next worker gets the task
)
async def extended_as_it_expires(h: Harness) -> str:
    from grantflow.domain.config import ConfigSource
    from grantflow.settings import Settings
    from tests.conftest import TEST_CONFIG
    from worker import build_worker

    rid = await submit(h, spec(h))
    await approve_and_activate(h, rid)
    await h.env.sleep(46 * 60)
    await until(h, rid, lambda v: v["extension_offered"], "offered an extension")
    await audited(h, rid, "expiry_reminder", "info")
    await h.worker.shutdown()
    # With no worker, the expiry timer's task waits and the signal joins it.
    await h.env.sleep(14 * 60 + 1)
    await signal(h, rid, "extend", {"actor": "alice@example.com"})
    settings = Settings(
        GRANTFLOW_TASK_QUEUE=h.worker.task_queue,
        GRANTFLOW_STATE_DIR=str(h.state_dir),
        GRANTFLOW_CONFIG=str(TEST_CONFIG),
    )
    replacement = build_worker(
        h.env.client, settings, config=ConfigSource(TEST_CONFIG), store=h.store, notifier=h.notifier
    )
    async with replacement:
        await until(h, rid, lambda v: v["extensions_used"] == 1, "extended")
        await settle(h, rid, {"EXPIRED"}, max_skip=3 * 3600)
        await h.env.client.get_workflow_handle(f"access-request-{rid}").result()
    return rid


# --- v0.2.0: refusals counted once a minute, failed extensions told (time-skipping server) ---------------


async def refusal_summaries(h: Harness, rid: str, count: int, timeout: float = 20) -> None:
    """Wait until the audit trail holds `count` refusal summaries (events that carry `suppressed`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while sum(1 for e in h.store.audit(request_id=rid) if "suppressed" in e.detail) < count:
        if loop.time() > deadline:
            raise AssertionError(f"{rid}: fewer than {count} refusal summaries")
        await asyncio.sleep(0.05)


@scenario(
    "refusal_flood_counted_once_a_minute",
    "while pending, 40 refused signals from 4 actors (stranger, requester, wrong state, malformed): the first of "
    "each audited, the rest counted; a minute later the summary timer writes one summary per actor; approved, "
    "revoked",
    since="0.2.0",
)
async def refusal_flood_counted_once_a_minute(h: Harness) -> str:
    rid = await submit(h, spec(h))
    handle = h.env.client.get_workflow_handle(f"access-request-{rid}")
    flood: list[tuple[str, object]] = [
        ("approve", {"approver": "mallory@example.com"}),  # not an approver
        ("approve", {"approver": "alice@example.com"}),  # the requester
        ("extend", {"actor": "dan@example.com"}),  # wrong state
        ("approve", {"who": "bob"}),  # malformed (actor unknown)
    ]
    for _ in range(10):
        for name, payload in flood:
            await handle.signal(name, payload)
    await audited(h, rid, "approve", "refused", count=3)
    await h.env.sleep(61)  # the summary timer of the oldest window fires
    await refusal_summaries(h, rid, 4)
    await approve_and_activate(h, rid)
    await h.client.revoke(rid, "alice@example.com", "done")
    await settle(h, rid, {"REVOKED"})
    return rid


@scenario(
    "extension_failed_then_extended",
    "the target refuses an extension every retry: extend_failed, the old expiry kept and the extension not "
    "counted; the target is back, a second extension (update) works; reminded again, expired an hour later",
    since="0.2.0",
)
async def extension_failed_then_extended(h: Harness) -> str:
    rid = await submit(h, spec(h))
    await approve_and_activate(h, rid)
    await h.env.sleep(46 * 60)
    await until(h, rid, lambda v: v["extension_offered"], "offered an extension")
    blocker = h.state_dir / "extend-blocked"  # the script's extend exits 1 while it exists
    blocker.write_text("no")
    await signal(h, rid, "extend", {"actor": "alice@example.com"})
    handle = h.env.client.get_workflow_handle(f"access-request-{rid}")
    for _ in range(60):  # the extend activity's retries back off: skip a few seconds at a time
        if (await handle.query("status"))["status_reason"].startswith("extension failed"):
            break
        await h.env.sleep(5)
    await audited(h, rid, "extend_failed", "failed")
    blocker.unlink()
    await h.client.extend(rid, "alice@example.com")
    await until(h, rid, lambda v: v["extensions_used"] == 1 and not v["status_reason"], "extended")
    await audited(h, rid, "extend", "ok")
    await settle(h, rid, {"EXPIRED"}, max_skip=3 * 3600)
    return rid


# --- v0.2.0: continue-as-new (dev server, record_dev_histories) -----------------------------------------

# Each refused for its own reason: not an approver, own request, may not extend, malformed, may not revoke.
REFUSED_SIGNALS: list[tuple[str, object]] = [
    ("approve", {"approver": "mallory@example.com"}),
    ("approve", {"approver": "alice@example.com"}),
    ("extend", {"actor": "dan@example.com"}),
    ("approve", {"who": "bob"}),
    ("revoke", {"actor": "mallory@example.com"}),
]


async def refuse_until_continued(h: Harness, rid: str, limit: int = 200) -> int:
    """Send refused signals one at a time until the workflow continues as new (a new run); how many it took."""
    handle = h.env.client.get_workflow_handle(f"access-request-{rid}")
    first = (await handle.describe()).run_id
    for sent in range(limit):
        name, payload = REFUSED_SIGNALS[sent % len(REFUSED_SIGNALS)]
        await handle.signal(name, payload)
        await asyncio.sleep(0.1)
        if (await handle.describe()).run_id != first:
            return sent + 1
    raise AssertionError(f"{rid}: no continue-as-new after {limit} refused signals")


@scenario(
    "oncall_auto_approval",
    "erin, on call for `night` (rotation), asks for gamma write: the on-call lookup (an activity) names her, "
    "grantflow approves (automatic: on call for night), ACTIVE, revoked by her",
    since="0.3.0",
)
async def oncall_auto_approval(h: Harness) -> str:
    s = spec(h, requester="erin@example.com", resources=("gamma",), permission="write")
    rid = await submit(h, s)
    await settle(h, rid, {"ACTIVE"})
    await h.client.revoke(rid, "erin@example.com", "done")
    await settle(h, rid, {"REVOKED"})
    return rid


@scenario(
    "oncall_lookup_not_on_call",
    "frank, not on call for `night`, asks for gamma write: the lookup says so (audited), bob approves, ACTIVE, "
    "withdrawn by frank",
    since="0.3.0",
)
async def oncall_lookup_not_on_call(h: Harness) -> str:
    s = spec(h, requester="frank@example.com", resources=("gamma",), permission="write")
    rid = await submit(h, s)
    await audited(h, rid, "oncall_check", "info")
    await approve_and_activate(h, rid)
    await h.client.revoke(rid, "frank@example.com", "done")
    await settle(h, rid, {"REVOKED"})
    return rid


@scenario(
    "scheduled_start",
    "start_at 2h ahead: approved at once, SCHEDULED, granted at its start (duration from the grant), ACTIVE 1h, "
    "expired",
    since="0.3.0",
)
async def scheduled_start(h: Harness) -> str:
    now = await h.env.get_current_time()
    s = spec(h, requester="dan@example.com").model_copy(update={"start_at": now + timedelta(hours=2)})
    rid = await submit(h, s)
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    await settle(h, rid, {"SCHEDULED"})
    await settle(h, rid, {"ACTIVE"}, max_skip=3 * 3600)
    await settle(h, rid, {"EXPIRED"}, max_skip=2 * 3600)
    return rid


@scenario(
    "scheduled_then_withdrawn",
    "start_at 3h ahead: approved, SCHEDULED, withdrawn by the requester before the start: REVOKED, nothing granted",
    since="0.3.0",
)
async def scheduled_then_withdrawn(h: Harness) -> str:
    now = await h.env.get_current_time()
    s = spec(h, requester="dan@example.com").model_copy(update={"start_at": now + timedelta(hours=3)})
    rid = await submit(h, s)
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    await settle(h, rid, {"SCHEDULED"})
    await h.client.revoke(rid, "dan@example.com", "plans changed")
    await settle(h, rid, {"REVOKED"})
    return rid


@scenario(
    "continue_as_new_while_pending",
    "refused signals while pending until the server suggests continue-as-new: the request continues as new "
    "with its carried state, still pending; approved in the new run, ACTIVE 20s, reminded, expired",
    since="0.2.0",
    server="dev",
)
async def continue_as_new_while_pending(h: Harness) -> str:
    rid = await submit(h, spec(h, duration="20s"))
    await refuse_until_continued(h, rid)
    await settle(h, rid, {"PENDING_APPROVAL"})
    await approve_and_activate(h, rid)
    await settle(h, rid, {"EXPIRED"}, timeout=60)
    return rid


@scenario(
    "continue_as_new_while_active",
    "approved, ACTIVE 60s; refused signals until the server suggests continue-as-new: it continues as new "
    "while ACTIVE (same expiry); extended by update in the new run, then revoked by the requester",
    since="0.2.0",
    server="dev",
)
async def continue_as_new_while_active(h: Harness) -> str:
    rid = await submit(h, spec(h, duration="60s"))
    await approve_and_activate(h, rid)
    await refuse_until_continued(h, rid)
    await settle(h, rid, {"ACTIVE"})
    await h.client.extend(rid, "alice@example.com")
    await until(h, rid, lambda v: v["extensions_used"] == 1, "extended")
    await audited(h, rid, "extend", "ok")
    await h.client.revoke(rid, "alice@example.com", "done")
    await settle(h, rid, {"REVOKED"})
    return rid


# --- next release: escalation (time-skipping server) -----------------------------------------------------


@scenario(
    "escalated_then_approved",
    "read flow with an escalation step at 4h: nobody decides, the step adds the seniors (escalate event, escalated "
    "transition, patch 'escalation'), a senior approves by update; ACTIVE, then expired",
    since="0.3.0",
)
async def escalated_then_approved(h: Harness) -> str:
    from grantflow.domain.config import ConfigSource
    from grantflow.settings import Settings
    from tests.workflows.conftest import config_with
    from worker import build_worker

    steps = [{"after": "4h", "approvers": ["group:seniors"], "notify": "#access-escalations"}]
    config = config_with(h.state_dir.parent / "escalation-config", "read-folders", escalation=steps)
    # The policy is resolved by the worker: this one reads the config with the escalation step.
    await h.worker.shutdown()
    settings = Settings(
        GRANTFLOW_TASK_QUEUE=h.worker.task_queue, GRANTFLOW_STATE_DIR=str(h.state_dir), GRANTFLOW_CONFIG=str(config)
    )
    worker = build_worker(h.env.client, settings, config=ConfigSource(config), store=h.store, notifier=h.notifier)
    async with worker:
        rid = await submit(h, spec(h))
        await h.env.sleep(4 * 3600 + 60)
        await until(h, rid, lambda v: bool(v.get("escalated_to")), "escalated")
        await audited(h, rid, "escalate", "info")
        await h.client.approve(rid, "erin@example.com", "escalated to me")
        await settle(h, rid, {"ACTIVE"})
        await settle(h, rid, {"EXPIRED"}, max_skip=3 * 3600)
        await h.env.client.get_workflow_handle(f"access-request-{rid}").result()
    return rid


# --- verified decisions: proofs checked by a local activity (time-skipping server) ---------------------

DECISION_KEYS_ENV = {"GRANTFLOW_DECISION_KEYS": TEST_DECISION_KEYS}


def signing(h: Harness, via: str = "cli") -> Signer:
    """The harness's client signs as a front door holding the test decision key (the worker verifies with it)."""
    h.client.signer = Signer(parse_keys(TEST_DECISION_KEYS), via)  # type: ignore[arg-type]
    return h.client.signer


@scenario(
    "verified_and_unverified_approvals",
    "write flow (2 approvals, decisions: audit), submitted with a proof: a raw approve signal counts marked "
    "unverified, an approve with a bad mac is refused, a proven approve (update) makes it ACTIVE; revoked by "
    "a raw signal (an unverified revoke always counts)",
    env=DECISION_KEYS_ENV,
    since="0.3.0",
)
async def verified_and_unverified_approvals(h: Harness) -> str:
    signer = signing(h)
    rid = await submit(h, spec(h, permission="write"))
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    await until(h, rid, lambda v: len(v["approvals"]) == 1, "one approval")
    forged = signer.sign(f"access-request-{rid}", "approve", "carol@example.com", datetime.now(UTC))
    bad = {"approver": "carol@example.com", "proof": forged.model_copy(update={"mac": "0" * 64}).model_dump()}
    await signal(h, rid, "approve", bad)
    await audited(h, rid, "approve", "refused")
    await h.client.approve(rid, "carol@example.com")
    await settle(h, rid, {"ACTIVE"})
    await signal(h, rid, "revoke", {"actor": "alice@example.com", "reason": "done"})
    await settle(h, rid, {"REVOKED"})
    return rid


@scenario(
    "replayed_proof_refused",
    "read flow with proofs everywhere: approved (update), extended (update); the same extend payload sent again "
    "as a signal is refused (its nonce was used); revoked (update)",
    env=DECISION_KEYS_ENV,
    since="0.3.0",
)
async def replayed_proof_refused(h: Harness) -> str:
    signer = signing(h)
    rid = await submit(h, spec(h))
    await h.client.approve(rid, "bob@example.com")
    await settle(h, rid, {"ACTIVE"})
    proof = signer.sign(f"access-request-{rid}", "extend", "alice@example.com", datetime.now(UTC))
    extend = {"actor": "alice@example.com", "proof": proof.model_dump()}
    await h.env.client.get_workflow_handle(f"access-request-{rid}").execute_update("extend", extend)
    await signal(h, rid, "extend", extend)
    await audited(h, rid, "extend", "refused")
    await h.client.revoke(rid, "alice@example.com", "done")
    await settle(h, rid, {"REVOKED"})
    return rid


@scenario(
    "unverified_start_waits_for_a_human",
    "an automatic flow under decisions: enforce, started straight through Temporal (no proof): not approved "
    "automatically, waits for a human approver; approved with a proof, ACTIVE, revoked",
    env=DECISION_KEYS_ENV,
    since="0.3.0",
)
async def unverified_start_waits_for_a_human(h: Harness) -> str:
    import yaml

    from grantflow.domain.config import ConfigSource
    from grantflow.settings import Settings
    from tests.conftest import TEST_CONFIG
    from worker import build_worker

    data = yaml.safe_load(TEST_CONFIG.read_text())
    auto = next(f for f in data["access_flows"] if f["id"] == "auto-gamma")
    auto.update(decisions="enforce", approvers=["group:approvers"])
    folder = h.state_dir.parent / "enforce"
    folder.mkdir(exist_ok=True)
    (folder / "scripts").symlink_to(TEST_CONFIG.parent / "scripts")
    config = folder / "grantflow.yml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    await h.worker.shutdown()
    settings = Settings(
        GRANTFLOW_TASK_QUEUE=h.worker.task_queue, GRANTFLOW_STATE_DIR=str(h.state_dir), GRANTFLOW_CONFIG=str(config)
    )
    enforcing = build_worker(h.env.client, settings, config=ConfigSource(config), store=h.store, notifier=h.notifier)
    signing(h)
    s = h.client.build_spec(
        requester="erin@example.com",
        integration="files",
        resource_type="folder",
        resources=["gamma"],
        permission="read",
        duration="2h",
    )
    rid = "unverified01"
    async with enforcing:
        await h.env.client.start_workflow(
            "AccessRequestWorkflow",
            WorkflowInput(request_id=rid, spec=s, submitted_at=datetime.now(UTC)),
            id=f"access-request-{rid}",
            task_queue=h.worker.task_queue,
        )
        await until(h, rid, lambda v: v["approvals_required"] == 1, "waiting for a human")
        await h.client.approve(rid, "bob@example.com")
        await settle(h, rid, {"ACTIVE"})
        await h.client.revoke(rid, "erin@example.com", "done")
        await settle(h, rid, {"REVOKED"})
        await h.env.client.get_workflow_handle(f"access-request-{rid}").result()
    return rid


# --- unreleased: a FAILED request fails its workflow with the reason (workflows/ending.py) -------------------

scenario(
    "failed_grant_ends_failed",
    "two items, one target broken: the granted one is revoked, FAILED; the workflow ends failed with the reason "
    "(patch failed-ends-failed)",
    since="0.3.0",
)(partial_grant_failure_compensated)
scenario(
    "policy_refused_ends_failed",
    "a spec the policy refuses, started directly: FAILED at once; the workflow ends failed with the policy's reason",
    since="0.3.0",
)(policy_refused_at_start)
scenario(
    "approval_timeout_ends_failed",
    "nobody decides for 7 days: FAILED 'approval timed out'; the workflow ends failed with that reason",
    since="0.3.0",
)(approval_timeout_after_reminders)


# --- unreleased: short steps as regular activities, no local activity (workflows/steps.py) -------------------

scenario(
    "scheduled_start_regular_steps",
    "as scheduled_start, with the policy, the start-time check and every publish as regular activities "
    "(patch steps-not-local)",
    since="0.4.0",
)(scheduled_start)
scenario(
    "scheduled_then_withdrawn_regular_steps",
    "as scheduled_then_withdrawn (a revoke Update while SCHEDULED), no local activity (patch steps-not-local)",
    since="0.4.0",
)(scheduled_then_withdrawn)
scenario(
    "verified_approvals_regular_steps",
    "as verified_and_unverified_approvals, each proof checked by a regular activity (patch steps-not-local)",
    env=DECISION_KEYS_ENV,
    since="0.4.0",
)(verified_and_unverified_approvals)
