"""Publishing a batch of lifecycle transitions: the request index row, the audit trail, notifications.

One activity per batch keeps round trips low. The database writes come first and are idempotent, so a
notifier failure retries the whole batch without duplicating a row. On SQLite and PostgreSQL the writes of
a batch are one transaction of two statements (an upsert and an insert that skips known audit keys):
through the ORM they were a quarter of the worker's CPU per request (bench/README.md).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from temporalio import activity

from activities.notifiers.base import Notifier
from grantflow import metrics
from grantflow.models import AuditEvent, StatusView
from grantflow.ops import PublishBatch
from grantflow.store import AuditRow, RequestRow, Store, utcnow


def _insert_for(dialect: str) -> Any:
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    return None


def write_batch(store: Store, view: StatusView, events: list[AuditEvent]) -> int:
    """Upsert the index row and add the audit events not yet recorded; return how many were new."""
    insert = _insert_for(store.engine.dialect.name)
    if insert is None:
        store.upsert_request(view)
        return store.append_audit(events)
    values: dict[str, Any] = {
        "request_id": view.request_id,
        "workflow_id": view.workflow_id,
        "status": view.status.value,
        "status_reason": view.status_reason,
        "requester": view.requester,
        "grantee": view.grantee,
        "flow_id": view.flow_id,
        "integrations": ",".join(sorted({g.integration for g in view.grants})),
        "view_json": view.model_dump_json(),
        "submitted_at": view.submitted_at,
        "updated_at": utcnow(),
        "expires_at": view.expires_at,
        "ended_at": view.ended_at,
    }
    requests, audit = RequestRow.__table__, AuditRow.__table__  # type: ignore[attr-defined]
    upsert = insert(requests).values(values)
    upsert = upsert.on_conflict_do_update(
        index_elements=[requests.c.request_id],
        set_={k: upsert.excluded[k] for k in values if k != "request_id"},
    )
    with store.engine.begin() as conn:
        conn.execute(upsert)
        if not events:
            return 0
        rows = [
            {
                "key": e.key,
                "request_id": e.request_id,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "outcome": e.outcome,
                "reason": e.reason,
                "detail_json": json.dumps(e.detail, default=str, sort_keys=True),
            }
            for e in events
        ]
        result = conn.execute(insert(audit).values(rows).on_conflict_do_nothing(index_elements=[audit.c.key]))
        return max(0, result.rowcount)


class RecordActivities:
    def __init__(self, store: Store, notifier: Notifier):
        self.store = store
        self.notifier = notifier

    def _write(self, batch: PublishBatch) -> None:
        events = [e for t in batch.transitions for e in t.events]
        new = write_batch(self.store, batch.transitions[-1].status, events)
        if new or not events:
            metrics.observe(batch)
        metrics.refresh_request_gauge(self.store.count_by_status)

    @activity.defn(name="publish_transitions")
    async def publish_transitions(self, batch: PublishBatch) -> None:
        if not batch.transitions:
            return
        await asyncio.to_thread(self._write, batch)
        await self.notifier.notify(batch.transitions)
