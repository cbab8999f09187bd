"""The default notifier: one structured log line per person to tell, so `make dev` shows the flow."""

from __future__ import annotations

import structlog

from grantflow.domain.models import AccessStatus, Transition

log = structlog.get_logger("grantflow.notify")


OWNER_KINDS = frozenset(
    {"active", "rejected", "revoked", "expired", "failed", "approval_timeout", "extended", "extend_failed"}
)


def break_glass_messages(t: Transition) -> list[tuple[str, str]]:
    """A break-glass approval bypasses the flow's approvers, so each of them is told who did it and why."""
    v = t.status
    what = ", ".join(g.label() for g in v.grants)
    out: list[tuple[str, str]] = []
    for e in t.events:
        if e.action == "approve" and e.outcome == "ok" and e.detail.get("break_glass"):
            text = (
                f"[{v.request_id}] {v.grantee} → {what}: BREAK-GLASS approval by admin {e.actor} "
                f"(reason: {e.reason}); the flow's approval was skipped"
            )
            out += [(a, text) for a in v.approvers]
    return out


def unverified_messages(t: Transition) -> list[tuple[str, str]]:
    """A decision that counted although no front door proved who made it: the approvers are told."""
    v = t.status
    out: list[tuple[str, str]] = []
    for e in t.events:
        decision = e.action in ("approve", "reject", "extend", "revoke_request") and e.actor != "grantflow"
        if decision and e.outcome == "ok" and e.detail.get("verified") is False:
            text = f"[{v.request_id}] UNVERIFIED {e.action} as {e.actor} via the Temporal API — unverified"
            out += [(a, text) for a in v.approvers]
    return out


def messages(t: Transition) -> list[tuple[str, str]]:
    """(recipient, text) pairs for one transition: who would be told what."""
    return break_glass_messages(t) + unverified_messages(t) + _lifecycle_messages(t)


def _lifecycle_messages(t: Transition) -> list[tuple[str, str]]:
    v = t.status
    what = ", ".join(g.label() for g in v.grants)
    head = f"[{v.request_id}] {v.grantee} → {what}"
    if t.kind == "submitted":
        if v.approvals_required == 0:
            return [(v.requester, f"{head}: submitted, approved automatically (the flow needs no approver)")]
        return [
            (a, f"{head}: approval requested by {v.requester} ({v.justification or 'no justification'})")
            for a in v.approvers
        ] + [(v.requester, f"{head}: submitted, waiting for approval")]
    if t.kind == "approval_reminder":
        return [(a, f"{head}: still waiting for your approval") for a in v.approvers]
    if t.kind == "expiry_reminder":
        return [
            (
                v.grantee,
                f"{head}: expires at {v.expires_at:%H:%M} UTC; extend with `grantflow extend "
                f"{v.request_id} --as {v.grantee}`",
            )
        ]
    if t.kind in OWNER_KINDS:
        text = f"{head}: {v.status.value}"
        if v.status == AccessStatus.ACTIVE and v.expires_at:
            text += f" until {v.expires_at:%Y-%m-%d %H:%M} UTC"
        if v.status_reason:
            text += f" ({v.status_reason})"
        people = {v.requester, v.grantee}
        return [(p, text) for p in sorted(people)]
    return []


class ConsoleNotifier:
    async def notify(self, transitions: list[Transition]) -> None:
        for t in transitions:
            for recipient, text in messages(t):
                log.info("notify", to=recipient, request_id=t.status.request_id, kind=t.kind, message=text)

    async def announce(self, channel: str | None, text: str) -> None:
        log.warning("announce", channel=channel or "admins", message=text)
