"""Verified decisions inside the workflow: each decision's proof is checked by an activity (workflows/steps.py;
the key stays on the worker; the verdict is recorded as the activity's result), each proof's nonce counts once
per request, and the flow's `decisions:` mode says whether an unproven decision is refused or only marked.

Histories begun before verification (VERIFY_PATCH) replay without any of it: their decisions are unmarked.
Deterministic, no I/O: it runs inside the workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.decisions import DecisionActivities
    from grantflow.domain.proofs import UNPROVEN, Proof, ProofCheck, Verdict, refusal, spec_digest

if TYPE_CHECKING:
    from workflows.state import RequestState
    from workflows.steps import Steps

M = TypeVar("M")

VERIFY_PATCH = "verified-decisions"
VERIFY_TIMEOUT = timedelta(seconds=10)
VERIFY_RETRY = RetryPolicy(maximum_attempts=3)


class Verifier:
    def __init__(self, nonces: list[str], steps: Steps) -> None:
        """`nonces`: those the previous run accepted (workflows/carry.py); `steps` runs the checks."""
        self.nonces: list[str] = list(nonces)
        self._checking: set[str] = set()
        self._enabled: bool | None = None
        self._steps = steps

    def enabled(self) -> bool:
        """Whether this run verifies (False while replaying a history begun before verification)."""
        if self._enabled is None:
            self._enabled = workflow.patched(VERIFY_PATCH)
        return self._enabled

    async def check(
        self, action: str, actor: str, proof: Proof | None, *, break_glass: bool = False, reason: str = ""
    ) -> Verdict:
        """The verdict on one decision: unproven without a proof, else what the worker's keys say of it."""
        if proof is None:
            return UNPROVEN
        if proof.nonce in self._checking or proof.nonce in self.nonces:
            return Verdict(verified=False, via=proof.via, problem="bad proof: replayed (its nonce was used before)")
        self._checking.add(proof.nonce)
        check = ProofCheck(
            workflow_id=workflow.info().workflow_id,
            action=action,
            actor=actor,
            break_glass=break_glass,
            reason=reason,
            proof=proof,
        )
        try:
            verdict = await self._steps.run(
                DecisionActivities.verify_decision,
                check,
                start_to_close_timeout=VERIFY_TIMEOUT,
                retry_policy=VERIFY_RETRY,
                summary=f"verify {action}",
            )
        except (ActivityError, ApplicationError):
            verdict = Verdict(verified=False, via=proof.via)
        finally:
            self._checking.discard(proof.nonce)
        if verdict.verified:
            self.nonces.append(proof.nonce)
        return verdict

    async def judge(
        self, p: Any, action: str, actor: str, mode: str, why_not: Callable[[M], str | None]
    ) -> tuple[str | None, Verdict | None]:
        """(why the decision `p` is refused or None, its proof's verdict): the policy judges first, then the
        proof under the flow's mode, then the policy again (the state may have changed meanwhile)."""
        why = why_not(p)
        if why or not self.enabled():
            return why, None
        glass, reason = getattr(p, "break_glass", False), getattr(p, "reason", "")
        verdict = await self.check(action, actor, p.proof, break_glass=glass, reason=reason)
        return refusal(mode, action, verdict) or why_not(p), verdict

    async def submission(self, s: RequestState, proof: Proof | None) -> dict[str, object]:
        """Check the submission's proof (bound to the spec); the marks for the `request` audit event."""
        digest = spec_digest(s.spec.model_dump(mode="json"))
        s.submission(await self.check("request", s.spec.requester, proof, reason=digest))
        return {"via": s.submitted_via, "verified": s.submission_verified}


def marks(verdict: Verdict | None) -> dict[str, object]:
    """How a decision was proven, for its audit event (nothing for histories begun before verification)."""
    return verdict.detail() if verdict is not None else {}
