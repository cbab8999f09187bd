"""Policy resolution as an activity, so the decision made with the config of that moment is recorded in
the workflow's history and replays identically even after the config changes."""

from __future__ import annotations

from temporalio import activity

from grantflow.domain import policy
from grantflow.domain.config import ConfigSource
from grantflow.domain.models import PolicyDecision, RequestSpec


class PolicyActivities:
    def __init__(self, config: ConfigSource):
        self.config = config

    @activity.defn(name="resolve_policy")
    async def resolve_policy(self, spec: RequestSpec) -> PolicyDecision:
        return policy.decide(self.config.get(), spec)

    @activity.defn(name="still_eligible")
    async def still_eligible(self, spec: RequestSpec, flow_id: str) -> str | None:
        """At a scheduled start: why the requester or grantee may no longer have it by today's config."""
        return policy.still_eligible(self.config.get(), flow_id, spec)
