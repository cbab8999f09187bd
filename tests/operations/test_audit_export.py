"""`grantflow audit --format jsonl|csv` over a full request lifecycle: every event round-trips, and the CSV is
what a spreadsheet opens correctly (BOM-marked UTF-8, quoting of commas, quotes and newlines, formulas
neutralised)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from grantflow.domain.models import AccessStatus, AuditEvent
from grantflow.storage.audit_export import CSV_FIELDS, row
from tests.operations.cli import grantflow
from tests.operations.conftest import Stack, eventually

JUSTIFICATION = '=HYPERLINK("http://evil") — Ticket #7, "prod"\nsecond line, Zoë ✓'
COMMENT = '=1+2 Looks "fine", go ahead\nJosé — 承認'
REASON = "done, thanks; ü"


async def lifecycle(stack: Stack) -> str:
    spec = stack.client.build_spec(
        requester="alice@example.com",
        integration="files",
        resource_type="folder",
        resources=["beta"],
        permission="read",
        duration="1h",
        justification=JUSTIFICATION,
    )
    rid = (await stack.client.submit(spec)).request_id
    await stack.client.approve(rid, "bob@example.com", COMMENT)
    assert (await stack.client.wait_for(rid, {AccessStatus.ACTIVE})).status == AccessStatus.ACTIVE
    await stack.client.revoke(rid, "alice@example.com", REASON)
    assert (await stack.client.wait_for(rid, {AccessStatus.REVOKED})).status == AccessStatus.REVOKED

    async def events() -> list[AuditEvent]:
        return stack.store.audit(request_id=rid)

    found = await eventually(events, lambda ev: any(e.action == "revoked" for e in ev))
    actions = [e.action for e in found]
    for needed in ("request", "approve", "grant", "revoke_request", "revoke", "revoked"):
        assert needed in actions, actions
    return rid


async def test_jsonl_and_csv_round_trip_a_whole_lifecycle(stack: Stack) -> None:
    rid = await lifecycle(stack)
    events = stack.store.audit(request_id=rid)

    jsonl = await grantflow(stack, "audit", "--request", rid, "--format", "jsonl")
    assert jsonl.returncode == 0, jsonl.stderr
    assert [AuditEvent.model_validate_json(line) for line in jsonl.stdout.decode("utf-8").splitlines()] == events

    exported = await grantflow(stack, "audit", "--request", rid, "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    data = exported.stdout
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert list(rows[0]) == CSV_FIELDS and len(rows) == len(events)
    what = "files/folder:beta (read)"
    for got, event in zip(rows, events, strict=True):
        want = row(event, {rid: what})
        assert {k: v.removeprefix("'") for k, v in got.items()} == want
        assert got["what"] == what
        assert json.loads(got["detail"].removeprefix("'")) == json.loads(json.dumps(event.detail, default=str))
    by_action = {r["action"]: r for r in rows}
    assert json.loads(by_action["request"]["detail"])["justification"] == JUSTIFICATION
    # A comment a spreadsheet would run as a formula is kept as text with the spreadsheet's own marker.
    assert (by_action["approve"]["actor"], by_action["approve"]["comment"]) == ("bob@example.com", "'" + COMMENT)
    assert (by_action["revoke_request"]["actor"], by_action["revoke_request"]["reason"]) == (
        "alice@example.com",
        REASON,
    )
    assert all(not v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())


async def test_since_filters_and_bad_input_is_one_line(stack: Stack) -> None:
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    empty = await grantflow(stack, "audit", "--since", future, "--format", "csv")
    assert empty.returncode == 0
    assert empty.stdout.decode("utf-8-sig").splitlines() == [",".join(f'"{f}"' for f in CSV_FIELDS)]
    recent = await grantflow(stack, "audit", "--since", "1d", "--format", "jsonl")
    assert recent.returncode == 0 and recent.stdout.count(b"\n") >= 1
    bad = await grantflow(stack, "audit", "--since", "yesterday-ish", "--format", "csv")
    assert bad.returncode == 2 and bad.stderr.count(b"\n") == 1
