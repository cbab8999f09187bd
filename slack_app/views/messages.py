"""The messages about a request, the thread notes under them, and the lists `/access` answers with.

Pure functions of the models: the notifier sends what these build, the listeners answer with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from grantflow.domain.durations import format_duration
from grantflow.domain.models import AccessStatus, Approval, RequestSpec, StatusView
from slack_app import ids
from slack_app.views.blocks import (
    AGAIN_STATUSES,
    BADGE,
    MAX_FIELD_TEXT,
    MAX_MESSAGE_BLOCKS,
    MAX_MESSAGE_TEXT,
    MAX_SECTION_TEXT,
    Block,
    actions,
    button,
    clip,
    confirm,
    context,
    esc,
    headline,
    items_text,
    md,
    quote,
    section,
    slack_date,
    what,
    who,
)

Audience = Literal["requester", "grantee", "approver", "channel"]
# The front doors a decision can be proven to come from (grantflow/domain/proofs.py).
DOORS = {"slack": "Slack", "mcp": "MCP", "cli": "the grantflow CLI", "temporal": "the Temporal API"}


def approval_line(a: Approval, names: Mapping[str, str]) -> str:
    """`Approved by Bob (Slack)`, or `Approved as Bob via the Temporal API — unverified`."""
    note = " (break-glass)" if a.break_glass else ""
    comment = f": {esc(a.comment)}" if a.comment else ""
    if a.verified is False:
        door = DOORS.get(a.via, DOORS["temporal"])
        return f":warning: Approved as {who(a.approver, names)} via {door} — unverified{note}{comment}"
    door = f" ({DOORS[a.via]})" if a.verified and a.via in DOORS else ""
    return f":white_check_mark: Approved by {who(a.approver, names)}{door}{note}{comment}"


def _outcome(v: StatusView, names: Mapping[str, str]) -> list[str]:
    lines: list[str] = [approval_line(a, names) for a in v.approvals]
    if v.status == AccessStatus.PENDING_APPROVAL and v.approvals_required > len(v.approvals):
        lines.append(f"Approvals: {len(v.approvals)} of {v.approvals_required}")
        if v.approvers:
            asked = ", ".join(who(a, names) for a in v.approvers[:10]) + (" …" if len(v.approvers) > 10 else "")
            where = f" in {esc(v.approval_channel)}" if v.approval_channel else ""
            lines.append(f":bust_in_silhouette: Asked{where}: {asked}")
        if v.escalates_at:
            to = ", ".join(who(e, names) for e in v.escalates_to[:10])
            lines.append(f":arrow_double_up: Escalates {slack_date(v.escalates_at)} to {to}")
        if v.approval_deadline:
            lines.append(f":hourglass: Times out {slack_date(v.approval_deadline)} without approval")
    if v.escalated_to:
        lines.append(":arrow_double_up: Escalated to " + ", ".join(who(e, names) for e in v.escalated_to))
    if v.rejected_by:
        reason = v.status_reason.split(": ", 1)[1] if ": " in v.status_reason else ""
        lines.append(f":x: Rejected by {who(v.rejected_by, names)}" + (f": {esc(reason)}" if reason else ""))
    elif v.status_reason and v.status == AccessStatus.ACTIVE:
        lines.append(f":warning: {esc(v.status_reason)}")
    elif v.status_reason:
        lines.append(f"_{esc(v.status_reason)}_")
    if v.status == AccessStatus.SCHEDULED and v.start_at:
        lines.append(f":calendar: Starts {slack_date(v.start_at)}")
    if v.status == AccessStatus.ACTIVE and v.expires_at:
        lines.append(f":alarm_clock: Until {slack_date(v.expires_at)}")
    elif v.ended_at and v.status.is_final:
        lines.append(f"Ended {slack_date(v.ended_at)}")
    return lines


def request_summary(v: StatusView, names: Mapping[str, str], lead: str | None = None) -> list[Block]:
    on_behalf = f" for {who(v.grantee, names)}" if v.grantee != v.requester else ""
    lead = lead or f"{who(v.requester, names)} asks for access{on_behalf}"
    fields = [
        md(f"*Status*\n{BADGE[v.status]}", MAX_FIELD_TEXT),
        md(f"*Duration*\n{format_duration(v.duration_seconds)}", MAX_FIELD_TEXT),
        md(f"*Flow*\n{v.flow_name or v.flow_id or '—'}", MAX_FIELD_TEXT),
        md(f"*Request*\n`{v.request_id}`", MAX_FIELD_TEXT),
    ]
    if (v.extension_enabled and v.status in (AccessStatus.ACTIVE, AccessStatus.REVOKING)) or v.extensions_used:
        fields.append(md(f"*Extensions*\n{v.extensions_used} of {v.max_extensions}", MAX_FIELD_TEXT))
    blocks: list[Block] = [
        section(f"*{lead}*" + (f" (bundle *{v.bundle}*)" if v.bundle else "") + "\n" + items_text(v.grants)),
        {"type": "section", "fields": fields},
        section(f"*Why*\n{quote(v.justification)}" if v.justification else "*Why*\n_no justification given_"),
    ]
    outcome = _outcome(v, names)
    if outcome:
        blocks.append(context(clip("\n".join(outcome), MAX_SECTION_TEXT)))
    return blocks


def owner_actions(v: StatusView, viewer: str) -> list[dict[str, Any]]:
    rid = v.request_id
    out: list[dict[str, Any]] = []
    if v.status == AccessStatus.ACTIVE:
        if viewer == v.grantee:
            out.append(button("Access details", ids.DETAILS, rid, "primary"))
        if v.extension_enabled and v.extension_offered and v.extensions_used < v.max_extensions:
            out.append(button("Extend access", ids.EXTEND, rid))
        out.append(
            button(
                "Revoke access",
                ids.REVOKE,
                rid,
                "danger",
                confirm("Revoke access?", f"Access to {what(v)} ends now.", "Revoke"),
            )
        )
    elif v.status in (AccessStatus.PENDING_APPROVAL, AccessStatus.SCHEDULED):
        out.append(
            button(
                "Withdraw request",
                ids.REVOKE,
                rid,
                confirm=confirm("Withdraw?", "Nobody will be asked anymore.", "Withdraw"),
            )
        )
    elif v.status in AGAIN_STATUSES:
        out.append(button("Request again", ids.AGAIN, rid, "primary"))
    if viewer == v.requester:
        out.append(button("Add to favorites", ids.FAV_ADD, rid))
    return out


def approver_actions(v: StatusView, viewer: str | None) -> list[dict[str, Any]]:
    # Between a decision and the workflow acting on it the status still says pending.
    if v.status != AccessStatus.PENDING_APPROVAL or v.rejected_by or v.revoked_by:
        return []
    if viewer and viewer in {a.approver for a in v.approvals}:
        return []
    return [
        button("Approve", ids.APPROVE, v.request_id, "primary"),
        button("Reject", ids.REJECT, v.request_id, "danger"),
    ]


def request_message(
    v: StatusView, audience: Audience, viewer: str | None = None, names: Mapping[str, str] | None = None
) -> tuple[str, list[Block]]:
    """(notification text, blocks) of the message about one request, as one recipient should see it."""
    names = names or {}
    if audience in ("approver", "channel"):
        lead = f"{who(v.requester, names)} asks for access" + (
            f" for {who(v.grantee, names)}" if v.grantee != v.requester else ""
        )
        blocks = request_summary(v, names, lead)
        if audience == "channel" and v.status == AccessStatus.PENDING_APPROVAL:
            approvers = ", ".join(who(a, names) for a in v.approvers[:20])
            blocks.append(context(clip(f"Any of these approvers can act: {approvers}", MAX_SECTION_TEXT)))
        buttons = approver_actions(v, viewer if audience == "approver" else None)
        text = f"{v.requester} asks for {what(v)} ({format_duration(v.duration_seconds)}) — {v.status.value}"
    else:
        lead = "Your access request" if viewer == v.requester else f"{who(v.requester, names)} requested access for you"
        blocks = request_summary(v, names, lead)
        buttons = owner_actions(v, viewer or "")
        text = headline(v)
    if buttons:
        blocks.append(actions(f"request|{v.request_id}", buttons))
    return clip(text, MAX_MESSAGE_TEXT), blocks


NOTE_TEXT = {
    "active": "Your access is active until {expires}.",
    "expiry_reminder": "Your access ends {expires}. Extend it from the message above if you still need it.",
    "extended": "Extended: access now ends {expires}.",
    "extend_failed": ":warning: Your access could not be extended, so it still ends {expires}. {reason}",
    "rejected": "Your request was rejected. {reason}",
    "revoked": "Access revoked. {reason}",
    "expired": "Your access has expired and was removed.",
    "failed": "The request failed: {reason}",
    "approval_timeout": "Nobody approved your request in time ({reason}). Use *Request again* to ask anew.",
    "approval_reminder": "Reminder: this request is still waiting for approval.",
}


def note_text(kind: str, v: StatusView) -> str | None:
    """The thread reply that tells people what just happened (editing a message does not notify anyone)."""
    template = NOTE_TEXT.get(kind)
    if template is None:
        return None
    return clip(template.format(expires=slack_date(v.expires_at), reason=v.status_reason or ""), MAX_MESSAGE_TEXT)


def _row(v: StatusView, viewer: str, names: Mapping[str, str]) -> list[Block]:
    line = f"*{what(v)}*" + (f" for {who(v.grantee, names)}" if v.grantee != viewer else "")
    line += f"\n{BADGE[v.status]} · `{v.request_id}`"
    if v.status == AccessStatus.ACTIVE and v.expires_at:
        line += f" · until {slack_date(v.expires_at)}"
    elif v.status.is_final and v.ended_at:
        line += f" · ended {slack_date(v.ended_at, '{date_short_pretty}')}"
    else:
        line += f" · asked {slack_date(v.submitted_at, '{date_short_pretty}')}"
    buttons = owner_actions(v, viewer)
    buttons = [b for b in buttons if b["action_id"] != ids.FAV_ADD] + [button("More details", ids.MORE, v.request_id)]
    return [section(line), actions(f"row|{v.request_id}", buttons)]


def my_requests_message(
    views: Sequence[StatusView], viewer: str, names: Mapping[str, str] | None = None
) -> list[Block]:
    names = names or {}
    if not views:
        return [section("You have no active requests and none from the last 7 days. `/access` asks for one.")]
    limit = (MAX_MESSAGE_BLOCKS - 2) // 2
    blocks: list[Block] = [section("*Your requests* — active, and everything from the last 7 days")]
    for v in views[:limit]:
        blocks += _row(v, viewer, names)
    if len(views) > limit:
        blocks.append(context(f"… and {len(views) - limit} more: see `grantflow list --as {viewer}`"))
    return blocks


def favorites_message(favorites: Sequence[tuple[int, str, RequestSpec]]) -> list[Block]:
    if not favorites:
        return [section("You have no favorites yet. Use *Add to favorites* on one of your requests.")]
    limit = (MAX_MESSAGE_BLOCKS - 1) // 2
    blocks: list[Block] = [section("*Your favorites* — choose one and give a justification")]
    for fid, name, spec in favorites[:limit]:
        blocks.append(section(f"*{name}*\n{what(spec)} · {format_duration(spec.duration_seconds)}"))
        blocks.append(
            actions(
                f"fav|{fid}",
                [button("Request", ids.FAV_USE, str(fid), "primary"), button("Remove", ids.FAV_REMOVE, str(fid))],
            )
        )
    return blocks


def help_message() -> list[Block]:
    return [
        section(
            "*/access* — temporary access, approved by the right people\n"
            "• `/access` or `/access request` — ask for access\n"
            "• `/access bundle` — ask for a bundle of resources at once\n"
            "• `/access favorites` — ask again for something you use often\n"
            "• `/access my requests` — your active requests and the last 7 days\n"
            "• `/access assist <what you need>` — describe it, get a suggestion\n"
            "• `/access help` — this message"
        ),
        context("Approvers get a message with Approve and Reject buttons. The Home tab shows everything at once."),
    ]


def escalation_note(v: StatusView, added: Sequence[str], after_seconds: int, names: Mapping[str, str]) -> str:
    """Told under the requester's message and in the step's `notify` channel: who was asked in addition."""
    to = ", ".join(who(e, names) for e in added) or "nobody new"
    return clip(
        f":arrow_double_up: Still waiting for approval after {format_duration(after_seconds)}: {what(v)} for "
        f"{who(v.grantee, names)} (`{v.request_id}`) was escalated to {to}.",
        MAX_MESSAGE_TEXT,
    )


def break_glass_note(actor: str, reason: str | None) -> str:
    """Told under each approver's copy: an admin bypassed the people the flow trusts, and why."""
    return esc(f":rotating_light: Break-glass approval by {actor}: {reason or 'no reason given'}")


UNVERIFIED_ACTIONS = frozenset({"approve", "reject", "extend", "revoke_request"})
UNVERIFIED_VERBS = {"approve": "approved", "reject": "rejected", "extend": "extended", "revoke_request": "revoked"}


def unverified_note(actor: str, action: str, request_id: str) -> str:
    """Told under each approver's copy and in the admin channel: a decision that counts although no front door
    proved who made it (someone with Temporal access sent it in that person's name)."""
    verb = UNVERIFIED_VERBS.get(action, action)
    return esc(
        f":warning: Unverified decision on {request_id}: {verb} as {actor} via the Temporal API — unverified "
        "(no front door proved who sent it; see `grantflow audit`)"
    )


# How the workflow's refusals of an unproven or badly proven decision begin (grantflow/domain/proofs.py).
PROOF_REFUSALS = ("unverified ", "bad proof", "stale proof")


def unproven_refusal_note(actor: str, action: str, request_id: str, reason: str) -> str:
    """Someone sent a decision in another person's name without a valid proof, and it was refused."""
    return esc(f":no_entry: Refused on {request_id}: a {action} as {actor} that no front door proved — {reason}")


def announcement(text: str) -> tuple[str, list[Block]]:
    """(notification text, blocks) of a free-text report for admins (reconciliation drift)."""
    body = clip(text, MAX_MESSAGE_TEXT)
    return body, [section(esc(body))]
