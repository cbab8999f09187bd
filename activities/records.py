"""Publishing a batch of lifecycle transitions: the request index row, the audit trail, notifications.

One activity per batch keeps round trips low. The database writes come first and are idempotent, so a
notifier failure retries the whole batch without duplicating a row (`Store.record`).
"""

from __future__ import annotations

import asyncio

from temporalio import activity

from activities.notifiers.base import Notifier
from grantflow.domain.ops import PublishBatch
from grantflow.observability import metrics
from grantflow.storage.store import Store


class RecordActivities:
    def __init__(self, store: Store, notifier: Notifier):
        self.store = store
        self.notifier = notifier

    def _write(self, batch: PublishBatch) -> None:
        events = [e for t in batch.transitions for e in t.events]
        new = self.store.record(batch.transitions[-1].status, events)
        if new or not events:
            metrics.observe(batch)
        metrics.refresh_request_gauge(self.store.count_by_status)

    @activity.defn(name="publish_transitions")
    async def publish_transitions(self, batch: PublishBatch) -> None:
        if not batch.transitions:
            return
        await asyncio.to_thread(self._write, batch)
        await self.notifier.notify(batch.transitions)
