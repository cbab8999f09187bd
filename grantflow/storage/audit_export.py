"""The audit trail as evidence for auditors: one row per event, as CSV for spreadsheets or JSON lines.

Reading goes straight to the database (not through Temporal): the audit trail is what outlives Temporal's
retention, and an export must work while Temporal is down.

CSV is written for spreadsheets: UTF-8 with a byte-order mark (Excel otherwise guesses a legacy code
page), CRLF line ends, every field quoted, and cells that a spreadsheet would run as a formula (`=`, `+`,
`-`, `@`, tab, CR at the start: text typed by requesters) prefixed with an apostrophe, which is what
spreadsheets themselves use to mark "this is text". JSON lines are the `AuditEvent`s with `via` and
`verified` lifted to the top (null when the event records no decision). Both have `via` and `verified` columns.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime

from grantflow.domain.models import AuditEvent
from grantflow.storage.store import Store

CSV_FIELDS = [
    "at",
    "request_id",
    "actor",
    "action",
    "outcome",
    "reason",
    "comment",
    "break_glass",
    "via",
    "verified",
    "what",
    "detail",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def load_events(store: Store, request_id: str | None = None, since: datetime | None = None) -> list[AuditEvent]:
    store.create_all()
    return store.audit(request_id=request_id, since=since)


def what_by_request(store: Store, events: Iterable[AuditEvent]) -> dict[str, str]:
    """Request id → what it asked for, so that each row says what an approval or revocation was about."""
    out: dict[str, str] = {}
    for rid in sorted({e.request_id for e in events if e.request_id}):
        view = store.get_request(rid)
        if view is not None:
            out[rid] = "; ".join(g.label() for g in view.grants)
    return out


def row(e: AuditEvent, what: dict[str, str]) -> dict[str, str]:
    comment = e.detail.get("comment")
    return {
        "at": e.at.isoformat(),
        "request_id": e.request_id,
        "actor": e.actor,
        "action": e.action,
        "outcome": e.outcome,
        "reason": e.reason,
        "comment": comment if isinstance(comment, str) else "",
        "break_glass": "yes" if e.detail.get("break_glass") else "",
        "via": via(e),
        "verified": verified(e),
        "what": what.get(e.request_id, ""),
        "detail": json.dumps(e.detail, sort_keys=True, default=str, ensure_ascii=False),
    }


def via(e: AuditEvent) -> str:
    """The front door a decision was proven to come from (`temporal`: none proved it); empty when not recorded."""
    value = e.detail.get("via")
    return value if isinstance(value, str) else ""


def verified(e: AuditEvent) -> str:
    """`yes`, `no` (the event says who decided, but no front door proved it), or empty when not a decision."""
    value = e.detail.get("verified")
    return "" if value is None else ("yes" if value is True else "no")


def to_csv(events: list[AuditEvent], what: dict[str, str]) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    w.writeheader()
    for e in events:
        w.writerow({k: neutralise(v) for k, v in row(e, what).items()})
    return buf.getvalue().encode("utf-8-sig")


def as_json(e: AuditEvent) -> dict[str, object]:
    """One event as JSON, with its `via` and `verified` at the top (null when it records no decision)."""
    value = e.detail.get("verified")
    return {**e.model_dump(mode="json"), "via": via(e) or None, "verified": value if isinstance(value, bool) else None}


def to_jsonl(events: list[AuditEvent]) -> bytes:
    return "".join(json.dumps(as_json(e), ensure_ascii=False) + "\n" for e in events).encode("utf-8")
