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
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from grantflow.domain.models import RequestSpec, WorkflowInput
from tests.workflows.conftest import Harness, settle

ScenarioFn = Callable[[Harness], Awaitable[str]]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    run: ScenarioFn
    env: dict[str, str] = field(default_factory=dict)
    since: str = "0.0.0"  # first release whose workflow has this path


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    name: str, description: str, *, env: dict[str, str] | None = None, since: str = "0.0.0"
) -> Callable[[ScenarioFn], ScenarioFn]:
    def register(fn: ScenarioFn) -> ScenarioFn:
        if name in SCENARIOS:
            raise ValueError(f"scenario {name} registered twice")
        SCENARIOS[name] = Scenario(name, description, fn, env or {}, since)
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
    "extended after the reminder but the target's extend fails every retry: extend_target failed, then expired",
)
async def extension_refused_by_target(h: Harness) -> str:
    rid = await submit(h, spec(h))
    await approve_and_activate(h, rid)
    await h.env.sleep(46 * 60)
    await until(h, rid, lambda v: v["extension_offered"], "offered an extension")
    # The script's extend rewrites the grant's file; without its folder, it fails (exit 1).
    shutil.rmtree(h.state_dir / "files" / "alpha")
    await signal(h, rid, "extend", {"actor": "alice@example.com"})
    await audited(h, rid, "extend_target", "failed", timeout=90)
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
    await audited(h, rid, "extend", "refused")
    await approve_and_activate(h, rid)
    await signal(h, rid, "approve", {"approver": "carol@example.com"})  # already decided
    await signal(h, rid, "revoke", {"actor": "mallory@example.com"})  # may not revoke
    await signal(h, rid, "extend", {"actor": "dan@example.com"})  # may not extend
    await signal(h, rid, "extend", {"actor": "alice@example.com"})
    await signal(h, rid, "extend", {"actor": "alice@example.com"})
    await signal(h, rid, "extend", {"actor": "alice@example.com"})  # over max_extensions: 2
    await audited(h, rid, "extend", "refused", count=3)
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
