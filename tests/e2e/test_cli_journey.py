"""The whole journey from the command line, against a real dev server and the real worker:
request with `grantflow`, approve with `temporal workflow signal` (refused: the flow enforces verified
decisions) and with `grantflow approve` (the CLI holds the decision key), see the script's effect, revoke,
see it gone, read the audit trail; then replay the recorded histories."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from grantflow.temporal import data_converter
from tests.e2e.conftest import TEST_ENCRYPTION_KEYS, Stack
from tests.workflows.corpus import HISTORY_ROOT, RECORD_FLAG, current_release, save_history
from worker import ALL_WORKFLOWS

REQUEST = [
    "request",
    "--as",
    "alice@example.com",
    "--integration",
    "reports",
    "--resource-type",
    "folder",
    "--resource",
    "finance",
    "--permission",
    "write",
    "--duration",
    "1h",
    "--justification",
    "quarter close, ünïcode ok",
]


async def wait_event(stack: Stack, rid: str, action: str, reason_start: str) -> dict:
    for _ in range(100):
        for e in await stack.cli_json("audit", "--request", rid):
            if e["action"] == action and e["reason"].startswith(reason_start):
                return dict(e)
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {action} event starting {reason_start!r}")


async def test_cli_journey_with_temporal_cli_signal(stack: Stack, tmp_path: Path) -> None:
    out = await stack.cli_json(*REQUEST)
    rid, wid = out["request_id"], out["workflow_id"]
    assert wid == f"access-request-{rid}"
    await stack.wait_status(rid, "PENDING_APPROVAL")

    # An operator's malformed signal is refused and audited; the workflow stays healthy.
    bad = await stack.temporal(
        "workflow", "signal", "--workflow-id", wid, "--name", "approve", "--input", '{"approver": 5}'
    )
    assert bad.returncode == 0, bad.stderr
    ok = await stack.temporal(
        "workflow",
        "signal",
        "--workflow-id",
        wid,
        "--name",
        "approve",
        "--input",
        '{"approver": "bob@example.com", "comment": "fine"}',
    )
    assert ok.returncode == 0, ok.stderr
    # The example's write flows are `decisions: enforce`: an approval nobody proved is refused, audited.
    refusal = await wait_event(stack, rid, "approve", "unverified approve refused")
    assert refusal["actor"] == "bob@example.com" and (await stack.cli_json("status", rid))["approvals"] == []
    # The CLI holding the decision key (an operator door) proves it.
    approved = await stack.cli("approve", rid, "--as", "bob@example.com", "--comment", "fine")
    assert approved.returncode == 0, approved.stderr
    view = await stack.wait_status(rid, "ACTIVE")
    assert [(a["approver"], a["via"], a["verified"]) for a in view["approvals"]] == [("bob@example.com", "cli", True)]
    marker = stack.state_dir / "reports" / "finance" / "alice@example.com.json"
    assert json.loads(marker.read_text())["permission"] == "write"

    status = await stack.cli_json("status", rid)
    assert status["status"] == "ACTIVE" and status["grants"][0]["resource"] == "finance"
    assert set(status) >= {
        "request_id",
        "status",
        "requester",
        "grantee",
        "grants",
        "approvals",
        "approvals_required",
        "expires_at",
        "extensions_used",
        "status_reason",
    }
    listed = await stack.cli_json("list", "--status", "ACTIVE")
    assert [v["request_id"] for v in listed] == [rid]

    # Not allowed: a stranger revoking. One line, exit 2, nothing changes.
    refused = await stack.cli("revoke", rid, "--as", "mallory@example.com")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "may not revoke" in refused.stderr

    revoked = await stack.cli("revoke", rid, "--as", "alice@example.com", "--reason", "done")
    assert revoked.returncode == 0, revoked.stderr
    view = await stack.wait_status(rid, "REVOKED")
    assert view["status_reason"] == "revoked by alice@example.com: done"
    assert not marker.exists()

    again = await stack.cli("revoke", rid, "--as", "alice@example.com")
    assert again.returncode == 2 and f"request {rid} is already REVOKED" in again.stderr

    events = await stack.cli_json("audit", "--request", rid)
    trail = [(e["action"], e["outcome"]) for e in events]
    for needed in [
        ("request", "ok"),
        ("approve", "refused"),
        ("approve", "ok"),
        ("grant", "ok"),
        ("revoke", "refused"),
        ("revoke_request", "ok"),
        ("revoke", "ok"),
        ("revoked", "ok"),
    ]:
        assert needed in trail, (needed, trail)
    assert any("malformed approve payload" in e["reason"] for e in events)

    # Record this history and replay it with the current workflow code: non-determinism fails here.
    history = await stack.client.get_workflow_handle(wid).fetch_history()
    await Replayer(workflows=ALL_WORKFLOWS, data_converter=data_converter(TEST_ENCRYPTION_KEYS)).replay_workflow(
        history
    )
    (tmp_path / "journey.json").write_text(history.to_json())
    if RECORD_FLAG.exists():
        save_history(
            HISTORY_ROOT / current_release(),
            "cli_journey",
            history.to_json(),
            "CLI journey on the dev server (example config): malformed approve signal from the temporal "
            "CLI, approval, refused revoke, revoke by the requester",
        )
    assert WorkflowHistory.from_json(wid, (tmp_path / "journey.json").read_text()).events


async def test_cli_bad_input_is_one_line_and_exit_2(stack: Stack) -> None:
    cases = [
        (
            [
                "request",
                "--as",
                "alice@example.com",
                "--integration",
                "nope",
                "--resource-type",
                "folder",
                "--resource",
                "x",
                "--permission",
                "read",
                "--duration",
                "1h",
                "--justification",
                "j",
            ],
            'unknown integration "nope"',
        ),
        ([*REQUEST[:-4], "--duration", "99h", "--justification", "j"], "over the flow's maximum"),
        ([*REQUEST[:-4], "--duration", "9x", "--justification", "j"], '"9x" is not a duration'),
        ([*REQUEST[:-2]], "a justification is required"),
        (
            [
                "request",
                "--as",
                "nobody@example.com",
                "--integration",
                "reports",
                "--resource-type",
                "folder",
                "--resource",
                "finance",
                "--permission",
                "read",
                "--duration",
                "1h",
            ],
            "not a requestor",
        ),
        (
            [
                "request",
                "--as",
                "alice@example.com",
                "--integration",
                "reports",
                "--resource-type",
                "folder",
                "--resource",
                "hr",
                "--permission",
                "read",
                "--duration",
                "1h",
            ],
            'unknown folder "hr"',
        ),
        (
            [
                "request",
                "--as",
                "alice@example.com",
                "--integration",
                "reports",
                "--resource-type",
                "folder",
                "--resource",
                "finance",
                "--permission",
                "delete",
                "--duration",
                "1h",
            ],
            'unknown permission "delete"',
        ),
        (["status", "doesnotexist"], "unknown request id doesnotexist"),
        (["approve", "doesnotexist", "--as", "bob@example.com"], "unknown request id"),
        (["list", "--status", "SLEEPING"], 'unknown status "SLEEPING"'),
        (["request", "--bogus"], "No such option"),
    ]
    for args, message in cases:
        proc = await stack.cli(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert await stack.cli_json("list") == []
    refusals = await stack.facade.audit()
    assert any(e.action == "request" and e.outcome == "refused" and "not a requestor" in e.reason for e in refusals)


async def test_updates_answer_at_once(stack: Stack) -> None:
    """Updates (what the CLI and Slack use) refuse with the policy's reason before touching history."""
    from grantflow.client import Refused

    out = await stack.cli_json(*REQUEST)
    rid = out["request_id"]
    await stack.wait_status(rid, "PENDING_APPROVAL")
    for actor, reason in [
        ("mallory@example.com", "mallory@example.com is not an approver for this flow"),
        ("alice@example.com", "you cannot approve your own request"),
    ]:
        try:
            await stack.facade.approve(rid, actor)
        except Refused as exc:
            assert str(exc) == reason
        else:
            raise AssertionError("approval should be refused")
    proc = await stack.cli("approve", rid, "--as", "mallory@example.com")
    assert proc.returncode == 2 and "not an approver for this flow" in proc.stderr
    view = await stack.facade.approve(rid, "dave@example.com", "ok")
    assert [a.approver for a in view.approvals] == ["dave@example.com"]
    await stack.wait_status(rid, "ACTIVE")
    ext = await stack.facade.status(rid)
    try:
        await stack.facade.extend(rid, "alice@example.com")
    except Refused as exc:
        assert str(exc) == "the access flow does not allow extensions"
    else:
        raise AssertionError("extension should be refused")
    assert (await stack.facade.status(rid)).expires_at == ext.expires_at
    events = await stack.facade.audit(request_id=rid)
    assert sum(1 for e in events if e.action == "approve" and e.outcome == "refused") == 3
    await stack.facade.revoke(rid, "alice@example.com")
    await stack.wait_status(rid, "REVOKED")


async def test_idempotency_key_from_the_cli(stack: Stack) -> None:
    a = await stack.cli_json(*REQUEST, "--idempotency-key", "k1")
    b = await stack.cli_json(*REQUEST, "--idempotency-key", "k1")
    assert a == b
    await stack.facade.revoke(a["request_id"], "alice@example.com")
