"""Verified decisions on the real stack (dev server, real worker, the CLI as a subprocess, `temporal`):
a CLI holding the decision key proves its decisions; `temporal workflow signal` proves nothing, so its
approval is refused under the example's `enforce` write flows and counts marked unverified under `audit`,
visibly in `grantflow status`, `grantflow audit` (every format) and the Web UI's details line; neither the
raw nor the decoded history holds the decision key."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from grantflow.payloads.codec import EncryptionCodec, parse_keys
from grantflow.payloads.codec_server import start as start_codec_server
from tests.conftest import EXAMPLE_CONFIG, TEST_DECISION_KEYS, DevServer, free_port
from tests.e2e.conftest import TEST_ENCRYPTION_KEYS, Stack, start_stack
from tests.e2e.test_postgres_journey import payload_texts

WRITE = ["--integration", "reports", "--resource-type", "folder", "--resource", "sales", "--permission", "write"]


def request_args(who: str = "alice@example.com") -> list[str]:
    return ["request", "--as", who, *WRITE, "--duration", "1h", "--justification", "quarter close"]


async def raw_approve(stack: Stack, wid: str, approver: str) -> None:
    """What anyone with Temporal access can do: an approval in someone's name, with no proof."""
    payload = json.dumps({"approver": approver, "comment": "via temporal"})
    done = await stack.temporal("workflow", "signal", "--workflow-id", wid, "--name", "approve", "--input", payload)
    assert done.returncode == 0, done.stderr


async def events(stack: Stack, rid: str, until: Any) -> list[dict[str, Any]]:
    for _ in range(150):
        rows = await stack.cli_json("audit", "--request", rid)
        if any(until(e) for e in rows):
            return list(rows)
        await asyncio.sleep(0.2)
    raise AssertionError(f"the audit trail of {rid} never showed what was awaited: {rows}")


@pytest.fixture()
async def audit_stack(dev_server: DevServer, tmp_path: Path) -> AsyncIterator[Stack]:
    """The example config with its write flow under `decisions: audit`."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    next(f for f in data["access_flows"] if f["id"] == "reports-write")["decisions"] = "audit"
    config = tmp_path / "grantflow.yml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "scripts").symlink_to(EXAMPLE_CONFIG.parent / "scripts")
    async for s in start_stack(dev_server, tmp_path, config=config):
        yield s


async def test_a_raw_signal_is_refused_under_enforce_and_the_history_holds_no_decision_key(stack: Stack) -> None:
    out = await stack.cli_json(*request_args())
    rid, wid = out["request_id"], out["workflow_id"]
    await stack.wait_status(rid, "PENDING_APPROVAL")
    await raw_approve(stack, wid, "bob@example.com")
    rows = await events(stack, rid, lambda e: e["action"] == "approve" and e["outcome"] == "refused")
    refused = next(e for e in rows if e["action"] == "approve")
    assert refused["actor"] == "bob@example.com" and refused["reason"].startswith("unverified approve refused")
    assert (await stack.cli_json("status", rid))["approvals"] == []

    # An admin's break-glass without a proof is refused too.
    glass = json.dumps({"approver": "ops@example.com", "break_glass": True, "reason": "outage"})
    done = await stack.temporal("workflow", "signal", "--workflow-id", wid, "--name", "approve", "--input", glass)
    assert done.returncode == 0, done.stderr
    await events(stack, rid, lambda e: e["actor"] == "ops@example.com" and e["outcome"] == "refused")
    assert (await stack.cli_json("status", rid))["status"] == "PENDING_APPROVAL"

    approved = await stack.cli("approve", rid, "--as", "bob@example.com")
    assert approved.returncode == 0, approved.stderr
    status = await stack.wait_status(rid, "ACTIVE")
    assert [(a["via"], a["verified"]) for a in status["approvals"]] == [("cli", True)]
    rows = await events(stack, rid, lambda e: e["action"] == "approve" and e["outcome"] == "ok")
    assert next(e for e in rows if e["action"] == "request")["verified"] is True

    raw = (await stack.client.get_workflow_handle(wid).fetch_history()).to_json()
    runner = await start_codec_server(EncryptionCodec(parse_keys(TEST_ENCRYPTION_KEYS)), "127.0.0.1", free_port())
    try:
        port = runner.addresses[0][1]
        shown = await stack.temporal(
            "workflow", "show", "--workflow-id", wid, "--output", "json", "--codec-endpoint", f"http://127.0.0.1:{port}"
        )
    finally:
        await runner.cleanup()
    assert shown.returncode == 0, shown.stderr
    decoded = payload_texts(json.loads(shown.stdout))
    assert '"mac"' in decoded, "the proofs are in history"
    # Their check is in history: an activity (workflows/steps.py) given the proof, returning the verdict.
    scheduled = [
        e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
        for e in json.loads(shown.stdout)["events"]
        if "activityTaskScheduledEventAttributes" in e
    ]
    assert "verify_decision" in scheduled, "their check is in history"
    _, _, encoded = TEST_DECISION_KEYS.partition(":")
    key = base64.b64decode(encoded)
    for text in (raw, shown.stdout, decoded, payload_texts(json.loads(raw))):
        assert encoded not in text and encoded.rstrip("=") not in text
        assert key.decode("latin-1") not in text and key.hex() not in text


async def test_a_raw_approval_refused_under_enforce_is_in_status_json_and_text(stack: Stack) -> None:
    """The refusal is not only in the audit trail: `grantflow status` lists it (`refused` in `--json`, a
    `refused` line in the text), and keeps it once the request is approved through grantflow."""
    out = await stack.cli_json(*request_args())
    rid, wid = out["request_id"], out["workflow_id"]
    await stack.wait_status(rid, "PENDING_APPROVAL")
    await raw_approve(stack, wid, "bob@example.com")
    for _ in range(150):
        status = await stack.cli_json("status", rid)
        if status["refused"]:
            break
        await asyncio.sleep(0.2)
    [refused] = status["refused"]
    assert (refused["action"], refused["actor"]) == ("approve", "bob@example.com")
    assert refused["reason"].startswith("unverified approve refused") and refused["at"]
    assert status["approvals"] == [] and status["status"] == "PENDING_APPROVAL"
    text = (await stack.cli("status", rid, check=True)).stdout
    assert re.search(r"\n  refused     approve by bob@example\.com at [^\n]+ — unverified approve refused: ", text), (
        text
    )

    approved = await stack.cli("approve", rid, "--as", "bob@example.com")
    assert approved.returncode == 0, approved.stderr
    await stack.wait_status(rid, "ACTIVE")
    assert [r["actor"] for r in (await stack.cli_json("status", rid))["refused"]] == ["bob@example.com"]


async def test_a_raw_signal_counts_unverified_under_audit_and_shows_everywhere(audit_stack: Stack) -> None:
    stack = audit_stack
    out = await stack.cli_json(*request_args())
    rid, wid = out["request_id"], out["workflow_id"]
    await stack.wait_status(rid, "PENDING_APPROVAL")
    await raw_approve(stack, wid, "bob@example.com")
    view = await stack.wait_status(rid, "ACTIVE")
    assert [(a["approver"], a["via"], a["verified"]) for a in view["approvals"]] == [
        ("bob@example.com", "temporal", False)
    ]
    status = await stack.cli_json("status", rid)
    assert status["approvals"][0]["verified"] is False and status["approvals"][0]["via"] == "temporal"
    text = (await stack.cli("status", rid, check=True)).stdout
    # Each approval is one line: who, when, then how ("(UNVERIFIED: Temporal API)" for an unproven one).
    assert re.search(r"- bob@example\.com at [^\n]*\(UNVERIFIED: Temporal API\)", text), text

    await events(stack, rid, lambda e: e["action"] == "approve" and e["outcome"] == "ok")
    stack.env["COLUMNS"] = "250"  # the table is not wrapped
    table = (await stack.cli("audit", "--request", rid, check=True)).stdout
    header = next(line for line in table.splitlines() if "actor" in line)
    assert "via" in header and "verified" in header
    row = next(line for line in table.splitlines() if " approve " in line and "bob@example.com" in line)
    assert "temporal" in row and " no " in row
    lines = [
        json.loads(x) for x in (await stack.cli("audit", "--request", rid, "--format", "jsonl")).stdout.splitlines()
    ]
    approve = next(e for e in lines if e["action"] == "approve")
    assert (approve["via"], approve["verified"]) == ("temporal", False)
    assert next(e for e in lines if e["action"] == "request")["verified"] is True
    data = (await stack.cli("audit", "--request", rid, "--format", "csv")).stdout.lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(data)))
    approve_row = next(r for r in rows if r["action"] == "approve")
    assert (approve_row["via"], approve_row["verified"]) == ("temporal", "no")
    assert next(r for r in rows if r["action"] == "request")["verified"] == "yes"

    # The Web UI's details line of the run says so too.
    described = await stack.client.get_workflow_handle(wid).describe()
    details = await described.static_details()
    assert details is not None and "Requester" in details
    meta = await stack.client.get_workflow_handle(wid).query("__temporal_workflow_metadata")
    assert "UNVERIFIED approval as bob@example.com (Temporal API)" in json.dumps(meta, default=str)
