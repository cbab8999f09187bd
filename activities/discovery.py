"""What exists at an integration (`list_resources`), for the facade's check of a request at submission."""

from __future__ import annotations

from pathlib import Path

import structlog
from temporalio import activity

from activities.integrations import registry
from activities.integrations.base import IntegrationError
from grantflow.domain.config import ConfigSource
from grantflow.domain.discovery import DISCOVERY_ACTIVITY, DiscoveryAnswer, DiscoveryQuery

log = structlog.get_logger("grantflow.discovery")


class DiscoveryActivities:
    def __init__(self, config: ConfigSource, state_dir: Path):
        self.config = config
        self.state_dir = state_dir

    @activity.defn(name=DISCOVERY_ACTIVITY)
    async def list_resources(self, query: DiscoveryQuery) -> DiscoveryAnswer:
        """The names, or the reason they cannot be listed (an answer, never a failure: the caller decides)."""
        try:
            driver = registry.build(self.config.get(), query.integration, self.state_dir)
            return DiscoveryAnswer(names=await driver.list_resources(query.resource_type))
        except IntegrationError as exc:
            log.info(
                "discovery failed", integration=query.integration, resource_type=query.resource_type, reason=str(exc)
            )
            return DiscoveryAnswer(error=str(exc))
