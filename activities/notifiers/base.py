"""The one interface notifications go through. The workflow publishes transitions; a notifier turns
them into messages (console lines, Slack DMs, ...). It must tolerate being called twice with the same
transitions (activity retries) without telling people twice."""

from __future__ import annotations

from typing import Any, Protocol

import structlog

from grantflow.domain.models import Transition

log = structlog.get_logger("grantflow.notify")


class Notifier(Protocol):
    async def notify(self, transitions: list[Transition]) -> None: ...


class FanOutNotifier:
    """Several notifiers, each told every batch; the first failure is raised after all were tried."""

    def __init__(self, notifiers: list[Notifier]):
        self.notifiers = notifiers

    async def notify(self, transitions: list[Transition]) -> None:
        first: BaseException | None = None
        for n in self.notifiers:
            try:
                await n.notify(transitions)
            except Exception as exc:
                first = first or exc
        if first is not None:
            raise first

    async def announce(self, channel: str | None, text: str) -> None:
        """Forwarded to each notifier that can announce; with none, the log keeps the message."""
        first: BaseException | None = None
        told = False
        for n in self.notifiers:
            announce: Any = getattr(n, "announce", None)
            if announce is None:
                continue
            told = True
            try:
                await announce(channel, text)
            except Exception as exc:
                first = first or exc
        if not told:
            log.warning("announce", channel=channel, message=text)
        if first is not None:
            raise first
