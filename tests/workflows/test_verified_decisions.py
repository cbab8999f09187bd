"""Verified decisions in the workflow (time-skipping server): proofs made by a front door count as verified,
an unproven message (a raw signal, a start straight through Temporal) is marked or refused by the flow's
`decisions:` mode, and a bad proof is refused with a one-line reason while the workflow stays healthy."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from grantflow.client import Refused
from grantflow.domain.models import AccessStatus, RequestSpec, StatusView, WorkflowInput
from grantflow.domain.proofs import Signer, parse_keys
from grantflow.domain.search_attributes import initial_search_attributes
from tests.conftest import TEST_CONFIG, TEST_DECISION_KEYS
from tests.workflows.conftest import Harness, make_harness, record_history, settle
from tests.workflows.test_lifecycle import audit, signal, spec
from workflows.state import summary_line

KEYS = parse_keys(TEST_DECISION_KEYS)
OTHER_KEY = parse_keys("k9:" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")


def verified_config(folder: Path) -> Path:
    """The test catalog with `read-folders` and the automatic flows under `enforce` (write-folders: audit),
    plus an automatic flow without approvers."""
    data = yaml.safe_load(TEST_CONFIG.read_text())
    flows = {f["id"]: f for f in data["access_flows"]}
    flows["read-folders"]["decisions"] = "enforce"
    flows["auto-gamma"].update(decisions="enforce", approvers=["group:approvers"])
    flows["read-folders"]["grants"] = [
        {"integration": "files", "resource_types": ["folder"], "resources": ["alpha", "beta"], "permissions": ["read"]}
    ]
    data["access_flows"].append(
        {
            "id": "auto-alone",
            "name": "Broken folder, automatic, nobody to ask",
            "requestors": ["group:seniors"],
            "grants": [
                {"integration": "files", "resource_types": ["folder"], "resources": ["slow"], "permissions": ["read"]}
            ],
            "approvals_required": 0,
            "justification_required": False,
            "decisions": "enforce",
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "grantflow.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    if not (folder / "scripts").exists():
        (folder / "scripts").symlink_to(TEST_CONFIG.parent / "scripts")
    return path


@pytest.fixture()
async def hv(
    time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    """A worker holding the test decision key, and a client (the CLI door) signing with it."""
    monkeypatch.setenv("GRANTFLOW_DECISION_KEYS", TEST_DECISION_KEYS)
    async for h in make_harness(time_env, tmp_path, state_dir, verified_config(tmp_path / "config")):
        h.client.signer = Signer(KEYS, "cli")
        yield h


def wid(rid: str) -> str:
    return f"access-request-{rid}"


async def update(h: Harness, rid: str, name: str, payload: dict[str, Any]) -> str:
    """Send an update straight through Temporal (as the SDK or the Web UI would); the refusal's reason."""
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await h.env.client.get_workflow_handle(wid(rid)).execute_update(name, payload)
    cause = info.value.cause
    return str(getattr(cause, "message", cause))


def event(h: Harness, rid: str, action: str, outcome: str = "ok") -> Any:
    return next(e for e in h.store.audit(request_id=rid) if e.action == action and e.outcome == outcome)


async def raw_start(h: Harness, s: RequestSpec) -> str:
    """A request started straight through the Temporal API: no proof of who submitted it."""
    rid = uuid.uuid4().hex[:12]
    inp = WorkflowInput(request_id=rid, spec=s, submitted_at=datetime.now(UTC))
    preview = StatusView(
        request_id=rid,
        workflow_id=wid(rid),
        status=AccessStatus.PENDING_APPROVAL,
        requester=s.requester,
        grantee=s.grantee,
        grants=s.items,
        duration_seconds=s.duration_seconds,
        submitted_at=inp.submitted_at,
    )
    await h.env.client.start_workflow(
        "AccessRequestWorkflow",
        inp,
        id=wid(rid),
        task_queue=h.worker.task_queue,
        search_attributes=initial_search_attributes(preview),
    )
    return rid


async def decided(h: Harness, rid: str) -> dict[str, Any]:
    """The status once the workflow has recorded its policy decision (the flow is known)."""
    for _ in range(200):
        view = await settle(h, rid, {"PENDING_APPROVAL", "ACTIVE", "FAILED"})
        if view["flow_id"]:
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"no policy decision for {rid}")


async def test_signed_decisions_are_verified_and_a_raw_signal_is_refused_under_enforce(hv: Harness) -> None:
    h = hv
    sub = await h.client.submit(spec(h))
    rid = sub.request_id
    await settle(h, rid, {"PENDING_APPROVAL"})
    request = event(h, rid, "request")
    assert (request.detail["via"], request.detail["verified"]) == ("cli", True)

    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    rows = await audit(h, rid, until="approve")
    assert rows[-1][:2] == ("approve", "refused") and rows[-1][2].startswith("unverified approve refused")
    view = await settle(h, rid, {"PENDING_APPROVAL"})
    assert view["approvals"] == []

    await h.client.approve(rid, "bob@example.com", "fine")
    view = await settle(h, rid, {"ACTIVE"})
    assert [(a["approver"], a["via"], a["verified"]) for a in view["approvals"]] == [("bob@example.com", "cli", True)]
    approved = event(h, rid, "approve")
    assert (approved.detail["via"], approved.detail["verified"]) == ("cli", True)
    await record_history(h, rid, "verified_approval_and_refused_raw_signal")

    # An unverified revoke always counts (taking access away fails safe), marked as such.
    await signal(h, rid, "revoke", {"actor": "alice@example.com", "reason": "done"})
    await settle(h, rid, {"REVOKED"})
    revoke = event(h, rid, "revoke_request")
    assert (revoke.detail["via"], revoke.detail["verified"]) == ("temporal", False)


async def test_refused_decisions_are_in_the_status_view_the_last_five_newest_last(hv: Harness) -> None:
    """A raw approval refused under `enforce` is in `status` too (`refused`), not only in the audit trail; the
    view keeps the last five refused decisions, newest last, whatever refused them (the proof, the policy)."""
    h = hv
    rid = (await h.client.submit(spec(h))).request_id
    await settle(h, rid, {"PENDING_APPROVAL"})
    await signal(h, rid, "approve", {"approver": "bob@example.com", "comment": "via temporal"})
    await audit(h, rid, until="approve")
    view = await settle(h, rid, {"PENDING_APPROVAL"})
    assert view["approvals"] == []
    [refused] = view["refused"]
    assert (refused["action"], refused["actor"]) == ("approve", "bob@example.com")
    assert refused["reason"].startswith("unverified approve refused: this flow accepts only decisions made through")
    assert datetime.fromisoformat(refused["at"]) >= datetime.fromisoformat(view["submitted_at"])

    # Six more refusals (not approvers of the flow): the view keeps the newest five, in order.
    for n in range(6):
        await signal(h, rid, "reject", {"approver": f"x{n}@example.com"})
    for _ in range(200):
        view = await settle(h, rid, {"PENDING_APPROVAL"})
        if view["refused"][-1]["actor"] == "x5@example.com":
            break
        await asyncio.sleep(0.05)
    assert [r["actor"] for r in view["refused"]] == [f"x{n}@example.com" for n in range(1, 6)]
    assert all(r["action"] == "reject" and "not an approver" in r["reason"] for r in view["refused"])

    await h.client.approve(rid, "bob@example.com")
    view = await settle(h, rid, {"ACTIVE"})
    assert [r["actor"] for r in view["refused"]] == [f"x{n}@example.com" for n in range(1, 6)]
    assert StatusView.model_validate(view).refused[-1].actor == "x5@example.com"


async def test_bad_proofs_are_refused_with_one_line_reasons_and_the_workflow_stays_healthy(hv: Harness) -> None:
    h = hv
    rid = (await h.client.submit(spec(h))).request_id
    await settle(h, rid, {"PENDING_APPROVAL"})
    now = datetime.now(UTC)
    cli = Signer(KEYS, "cli")
    bob = "bob@example.com"

    def approve(proof: Any, approver: str = bob) -> dict[str, Any]:
        return {"approver": approver, "comment": "", "proof": proof.model_dump()}

    good = cli.sign(wid(rid), "approve", bob, now)
    cases = {
        "wrong mac": approve(good.model_copy(update={"mac": "0" * 64})),
        "unknown key": approve(Signer(OTHER_KEY, "cli").sign(wid(rid), "approve", bob, now)),
        "stale": approve(cli.sign(wid(rid), "approve", bob, now - timedelta(minutes=11))),
        "other workflow": approve(cli.sign("access-request-someone-else", "approve", bob, now)),
        "other actor": approve(cli.sign(wid(rid), "approve", "carol@example.com", now)),
    }
    reasons = {name: await update(h, rid, "approve", payload) for name, payload in cases.items()}
    assert reasons["wrong mac"].startswith("bad proof: the mac does not match")
    assert reasons["unknown key"] == 'bad proof: unknown key id "k9"'
    assert reasons["stale"] == "stale proof: issued 11 minutes ago (limit 10)"
    assert reasons["other workflow"].startswith("bad proof: the mac does not match")
    assert reasons["other actor"].startswith("bad proof: the mac does not match")
    assert all("\n" not in r for r in reasons.values())
    # The first refusal of an actor within the minute is in the audit trail with its reason.
    rows = await audit(h, rid, until="approve")
    assert ("approve", "refused", reasons["wrong mac"]) in rows

    await h.env.client.get_workflow_handle(wid(rid)).execute_update("approve", approve(good))
    view = await settle(h, rid, {"ACTIVE"})
    assert view["approvals"][0]["verified"] is True

    # A replayed proof (the same extend again) is refused: its nonce was used.
    extend = {
        "actor": "alice@example.com",
        "proof": cli.sign(wid(rid), "extend", "alice@example.com", now).model_dump(),
    }
    await h.env.client.get_workflow_handle(wid(rid)).execute_update("extend", extend)
    assert await update(h, rid, "extend", extend) == "bad proof: replayed (its nonce was used before)"
    view = await settle(h, rid, {"ACTIVE"})
    assert view["extensions_used"] == 1


async def test_break_glass_without_a_valid_proof_is_refused_under_enforce_even_from_an_admin(hv: Harness) -> None:
    h = hv
    rid = (await h.client.submit(spec(h))).request_id
    await settle(h, rid, {"PENDING_APPROVAL"})
    raw = {"approver": "ops@example.com", "break_glass": True, "reason": "outage"}
    assert (await update(h, rid, "approve", raw)).startswith("unverified approve refused")
    assert (await settle(h, rid, {"PENDING_APPROVAL"}))["approvals"] == []
    await h.client.approve(rid, "ops@example.com", break_glass=True, reason="outage")
    view = await settle(h, rid, {"ACTIVE"})
    assert [(a["break_glass"], a["verified"], a["via"]) for a in view["approvals"]] == [(True, True, "cli")]


async def test_unverified_decisions_count_under_audit_marked_unverified(hv: Harness) -> None:
    h = hv
    rid = (await h.client.submit(spec(h, permission="write"))).request_id  # write-folders: audit, 2 approvals
    await settle(h, rid, {"PENDING_APPROVAL"})
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    await h.client.approve(rid, "carol@example.com")
    view = await settle(h, rid, {"ACTIVE"})
    marks = {a["approver"]: (a["via"], a["verified"]) for a in view["approvals"]}
    assert marks == {"bob@example.com": ("temporal", False), "carol@example.com": ("cli", True)}
    # The Web UI's current details line (set by the workflow from summary_line) says so.
    assert "UNVERIFIED approval as bob@example.com (Temporal API)" in summary_line(StatusView.model_validate(view))
    await record_history(h, rid, "unverified_approval_counts_under_audit")


async def test_an_automatic_flow_started_through_temporal_waits_for_a_human_under_enforce(hv: Harness) -> None:
    h = hv
    gamma = h.client.build_spec(
        requester="erin@example.com",
        integration="files",
        resource_type="folder",
        resources=["gamma"],
        permission="read",
        duration="2h",
    )
    # Through grantflow (signed): approved automatically.
    signed = (await h.client.submit(gamma)).request_id
    view = await settle(h, signed, {"ACTIVE"})
    assert (view["submitted_via"], view["submission_verified"], view["approvals_required"]) == ("cli", True, 0)

    rid = await raw_start(h, gamma)
    view = await decided(h, rid)
    assert view["approvals_required"] == 1 and view["submission_verified"] is False
    assert view["status_reason"] == "unverified submission (Temporal API): waiting for a human approval"
    await h.env.sleep(3600)
    assert (await settle(h, rid, {"PENDING_APPROVAL"}))["approvals"] == []
    await h.client.approve(rid, "bob@example.com")
    view = await settle(h, rid, {"ACTIVE"})
    assert view["approvals"][0]["approver"] == "bob@example.com"
    await record_history(h, rid, "unverified_automatic_submission_waits_for_a_human")

    alone = h.client.build_spec(
        requester="erin@example.com",
        integration="files",
        resource_type="folder",
        resources=["slow"],
        permission="read",
        duration="1h",
    )
    view = await settle(h, await raw_start(h, alone), {"FAILED"})
    assert view["status_reason"].startswith("unverified submission: this automatic flow accepts only requests")


async def test_key_rotation_the_old_key_verifies_while_the_new_one_signs(
    time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker holds `new,old`: a door still on the old key and a door on the new one are both verified;
    a proof made with a key the worker no longer holds is refused naming that key id."""
    new = "dk-2:" + base64.b64encode(b"the-second-decision-key-for-test").decode()
    monkeypatch.setenv("GRANTFLOW_DECISION_KEYS", f"{new},{TEST_DECISION_KEYS}")
    async for h in make_harness(time_env, tmp_path, state_dir, verified_config(tmp_path / "config")):
        rid = (await h.client.submit(spec(h, permission="write"))).request_id  # two approvals
        await settle(h, rid, {"PENDING_APPROVAL"})
        h.client.signer = Signer(KEYS, "cli")  # the old key alone
        await h.client.approve(rid, "bob@example.com")
        h.client.signer = Signer(parse_keys(f"{new},{TEST_DECISION_KEYS}"), "slack")  # signs with dk-2
        await h.client.approve(rid, "carol@example.com")
        view = await settle(h, rid, {"ACTIVE"})
        assert [(a["via"], a["verified"]) for a in view["approvals"]] == [("cli", True), ("slack", True)]

        rid = (await h.client.submit(spec(h))).request_id
        await settle(h, rid, {"PENDING_APPROVAL"})
        h.client.signer = Signer(OTHER_KEY, "cli")  # a key taken out of the worker's list
        with pytest.raises(Refused, match='bad proof: unknown key id "k9"'):
            await h.client.approve(rid, "bob@example.com")
        assert (await settle(h, rid, {"PENDING_APPROVAL"}))["approvals"] == []


def test_accepted_nonces_and_the_submission_marks_survive_continue_as_new() -> None:
    from grantflow.domain.models import PolicyDecision
    from workflows.carry import carry, restore
    from workflows.outbox import Outbox
    from workflows.refusals import Refusals
    from workflows.state import RequestState
    from workflows.steps import Steps

    now = datetime.now(UTC)
    s = spec_of("erin@example.com")
    inp = WorkflowInput(request_id="r1", spec=s, submitted_at=now)
    state = RequestState(inp, decision=PolicyDecision(allowed=True, approvers=["bob@example.com"]))
    state.submitted_via, state.submission_verified, state.human_required = "temporal", False, True
    out = Outbox("r1", lambda: state.view("w"), Steps())
    for n in range(7):
        state.note_refused("approve", f"x{n}@example.com", "unverified approve refused", now)
    carried = carry(state, out, Refusals(out, []), now, ["n1", "n2"])
    assert carried.nonces == ["n1", "n2"]
    again = restore(inp.model_copy(update={"carried": carried}), carried)
    assert (again.submitted_via, again.submission_verified, again.human_required) == ("temporal", False, True)
    assert again.required() == 1
    assert [r.actor for r in again.refused] == [f"x{n}@example.com" for n in range(2, 7)]
    assert again.view("w").refused == again.refused
    # A payload recorded before proofs existed still decodes (every new field has a default).
    old = carried.model_dump(mode="json")
    for key in ("nonces", "human_required", "submitted_via", "submission_verified", "refused"):
        old.pop(key)
    assert type(carried).model_validate(old).nonces == []
    assert type(carried).model_validate(old).refused == []


def spec_of(requester: str) -> RequestSpec:
    from grantflow.domain.models import GrantItem

    item = GrantItem(integration="files", resource_type="folder", resource="gamma", permission="read")
    return RequestSpec(requester=requester, grantee=requester, items=[item], duration_seconds=3600)
