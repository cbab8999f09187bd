"""Decision proofs checked with the worker's keys, as an activity (workflows/steps.py): the key never enters
workflow history, only the verdict does (as the activity's result), so the decision replays identically."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from temporalio import activity

from grantflow.domain.proofs import ProofCheck, Verdict, verify


class DecisionActivities:
    def __init__(self, keys: Mapping[str, bytes]):
        self._keys = dict(keys)

    @activity.defn(name="verify_decision")
    async def verify_decision(self, check: ProofCheck) -> Verdict:
        return verify(self._keys, check, datetime.now(UTC))
