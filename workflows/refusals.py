"""Refusal windows: a flood of refused messages cannot push a request to Temporal's history limit.

The first refusal of each actor within a minute goes to the audit trail; the rest are only counted, and
the count is summarised when the window closes (or before the run ends). Beyond MAX_REFUSAL_WINDOWS actors
within a minute the others share one window: random actor names in a flood must not each get an event.
Histories begun before the limit (REFUSAL_LIMIT_PATCH) record every refusal, as they did.

Deterministic, no I/O: it runs inside the workflow, on workflow time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from grantflow.domain.models import RefusalWindow

REFUSAL_LIMIT_PATCH = "refusals-once-a-minute"
REFUSAL_WINDOW = timedelta(minutes=1)
MAX_REFUSAL_WINDOWS = 20
OTHER_ACTORS = "(other actors)"
MIN_TIMER = timedelta(milliseconds=1)


class AuditTrail(Protocol):
    def event(
        self, actor: str, action: str, *, outcome: str = "ok", reason: str = "", detail: dict[str, object] | None = None
    ) -> None: ...


# Told of every refused message, counted or not: (action, actor, reason, at); the status view keeps the last few.
Noted = Callable[[str, str, str, datetime], None]


class Refusals:
    def __init__(self, audit: AuditTrail, windows: list[RefusalWindow], noted: Noted | None = None) -> None:
        """`windows` are those a previous run had open (workflows/carry.py); `noted` is told of each refusal
        (RequestState.note_refused)."""
        self._audit = audit
        self._noted = noted
        self._windows: dict[str, RefusalWindow] = {w.actor: w for w in windows}
        self._limited: bool | None = None
        self._summarizer: asyncio.Task[None] | None = None

    def refuse(self, action: str, actor: str, reason: str, raise_error: bool) -> None:
        """Audit (or count) a refused message; an update's caller gets the reason as its error."""
        actor = actor or "unknown"
        if self._noted is not None:
            self._noted(action, actor, reason, workflow.now())
        if not self._counted_only(actor, action, reason):
            self._audit.event(actor, action, outcome="refused", reason=reason)
        if raise_error:
            raise ApplicationError(reason, type="Refused", non_retryable=True)

    def carried(self) -> list[RefusalWindow]:
        return list(self._windows.values())

    def flush(self) -> None:
        """Make every count visible now (before the run ends); the windows stay, so the limit goes on."""
        for window in self._windows.values():
            self._summarize(window)

    def _counted_only(self, actor: str, action: str, reason: str) -> bool:
        """True when this refusal is only counted: its actor already has one recorded within the minute."""
        now = workflow.now()
        self._expire(now)
        key = actor if actor in self._windows or len(self._windows) < MAX_REFUSAL_WINDOWS else OTHER_ACTORS
        window = self._windows.get(key)
        if window is None:
            self._windows[key] = RefusalWindow(actor=key, started_at=now)
            return False
        if self._limited is None:
            self._limited = workflow.patched(REFUSAL_LIMIT_PATCH)
        if not self._limited:
            return False
        window.suppressed += 1
        window.action = action
        window.reason = reason
        if self._summarizer is None:
            self._summarizer = asyncio.create_task(self._summarize_when_due())
        return True

    def _expire(self, now: datetime) -> None:
        """Close the windows older than a minute, each with a summary of what it only counted."""
        for key, window in list(self._windows.items()):
            if now - window.started_at >= REFUSAL_WINDOW:
                self._summarize(window)
                del self._windows[key]

    def _summarize(self, window: RefusalWindow) -> None:
        if not window.suppressed:
            return
        self._audit.event(
            window.actor,
            window.action,
            outcome="refused",
            reason=f"and {window.suppressed} more refused in the last minute (last: {window.reason})",
            detail={"suppressed": window.suppressed, "since": window.started_at.isoformat()},
        )
        window.suppressed = 0

    async def _summarize_when_due(self) -> None:
        """A minute after a window began counting, its summary goes to the audit trail even if the flood
        stopped (otherwise the count would wait for the next message)."""
        while True:
            await workflow.wait_condition(lambda: any(w.suppressed for w in self._windows.values()))
            due = min(w.started_at for w in self._windows.values() if w.suppressed) + REFUSAL_WINDOW
            await workflow.sleep(max(due - workflow.now(), MIN_TIMER), summary="refusal summary")
            self._expire(workflow.now())
