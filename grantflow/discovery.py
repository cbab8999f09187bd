"""The facade's cache of discovered resources: one lookup per integration and resource type per TTL.

`ResourceCatalog.names` returns the names that exist, None when there is nothing to check against, and
remembers why a lookup could not be made (`unchecked`), so the request's summary can say its resources
were not checked. The lookup itself (a `DiscoveryWorkflow` on the worker) is passed in by the facade.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from grantflow.domain.config import GrantflowConfig
from grantflow.domain.discovery import DISCOVERY_TTL_SECONDS, DiscoveryAnswer, DiscoveryQuery, discoverable
from grantflow.domain.models import GrantItem

Lookup = Callable[[DiscoveryQuery], Awaitable[DiscoveryAnswer]]


@dataclass(frozen=True)
class _Entry:
    at: float
    answer: DiscoveryAnswer


class ResourceCatalog:
    def __init__(self, lookup: Lookup, ttl: float = DISCOVERY_TTL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.lookup = lookup
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[tuple[str, str], _Entry] = {}

    def _fresh(self, key: tuple[str, str]) -> DiscoveryAnswer | None:
        entry = self._cache.get(key)
        if entry is None or self.clock() - entry.at > self.ttl:
            return None
        return entry.answer

    async def answer(self, integration: str, resource_type: str) -> DiscoveryAnswer:
        key = (integration, resource_type)
        found = self._fresh(key)
        if found is None:
            try:
                found = await self.lookup(DiscoveryQuery(integration=integration, resource_type=resource_type))
            except Exception as exc:  # a worker that is down or a failed run: say why, do not refuse
                found = DiscoveryAnswer(error=f"discovery did not answer: {type(exc).__name__}: {exc}")
            self._cache[key] = _Entry(self.clock(), found)
        return found

    async def names(self, cfg: GrantflowConfig, item: GrantItem) -> list[str] | None:
        """What exists of the item's type at its integration, or None when it cannot be (or need not be) listed."""
        if not discoverable(cfg, item):
            return None
        return (await self.answer(item.integration, item.resource_type)).names

    def unchecked(self, cfg: GrantflowConfig, items: list[GrantItem]) -> list[str]:
        """One sentence per integration/resource type whose resources were not checked, and why."""
        out: list[str] = []
        for item in items:
            how = discoverable(cfg, item)
            if how is None:
                continue
            what = f"{item.integration}/{item.resource_type}"
            if how is False:
                line = f"{what}: resources not checked (the integration lists no resources)"
            else:
                cached = self._fresh((item.integration, item.resource_type))
                if cached is None or cached.names is not None:
                    continue
                line = f"{what}: resources not checked ({cached.error})"
            if line not in out:
                out.append(line)
        return out
