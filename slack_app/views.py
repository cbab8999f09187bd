"""Block Kit for every surface of the app, as pure functions of the models (no I/O, easy to snapshot).

Everything a person sees is built here and kept within Slack's limits (see `problems`), clipping long
text instead of letting Slack refuse a message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from grantflow.assist import MAX_TEXT as ASSIST_MAX_TEXT
from grantflow.assist import Suggestion
from grantflow.domain.durations import format_duration
from grantflow.domain.models import AccessStatus, GrantItem, RequestSpec, StatusView
from slack_app.catalog import Choice, FormChoices
from slack_app.forms import (
    ASSIST_CALLBACK,
    ASSIST_RESULTS_CALLBACK,
    ASSIST_TEXT,
    BUNDLE_CALLBACK,
    FAVORITE_CALLBACK,
    REJECT_CALLBACK,
    REQUEST_CALLBACK,
    AssistPick,
    BundleForm,
    RequestForm,
)

Block = dict[str, Any]
Audience = Literal["requester", "grantee", "approver", "channel"]

# Action ids: one per thing a person can do, the request id (or favorite id) as the value.
APPROVE = "gf_approve"
REJECT = "gf_reject"
REVOKE = "gf_revoke"
EXTEND = "gf_extend"
DETAILS = "gf_details"
AGAIN = "gf_again"
MORE = "gf_more"
FAV_ADD = "gf_fav_add"
FAV_USE = "gf_fav_use"
FAV_REMOVE = "gf_fav_remove"
NEW_REQUEST = "gf_new"
NEW_BUNDLE = "gf_new_bundle"
ASSIST_OPEN = "gf_assist_open"
ASSIST_PICK = "gf_assist_pick"
PICK_INTEGRATION = "req_integration"
PICK_TYPE = "req_resource_type"
PICK_RESOURCES = "req_resources"
PICK_BUNDLE = "bundle_pick"
KNOWN_ACTIONS = frozenset(
    {
        APPROVE,
        REJECT,
        REVOKE,
        EXTEND,
        DETAILS,
        AGAIN,
        MORE,
        FAV_ADD,
        FAV_USE,
        FAV_REMOVE,
        NEW_REQUEST,
        NEW_BUNDLE,
        ASSIST_OPEN,
        ASSIST_PICK,
    }
)

BADGE = {
    AccessStatus.PENDING_APPROVAL: ":hourglass_flowing_sand: Pending approval",
    AccessStatus.GRANTING: ":gear: Granting",
    AccessStatus.ACTIVE: ":white_check_mark: Active",
    AccessStatus.REJECTED: ":x: Rejected",
    AccessStatus.REVOKING: ":gear: Revoking",
    AccessStatus.REVOKED: ":no_entry_sign: Revoked",
    AccessStatus.EXPIRED: ":checkered_flag: Expired",
    AccessStatus.FAILED: ":warning: Failed",
}
AGAIN_STATUSES = frozenset({AccessStatus.EXPIRED, AccessStatus.REVOKED, AccessStatus.REJECTED, AccessStatus.FAILED})

# Slack's limits (https://docs.slack.dev/reference/block-kit): checked by `problems`, respected by the builders.
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_OPTION_TEXT = 75
MAX_OPTIONS = 100
MAX_BUTTON_TEXT = 75
MAX_MESSAGE_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
MAX_TITLE = 24
MAX_HEADER = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_VALUE = 2000
MAX_METADATA = 3000
MAX_PLACEHOLDER = 150
MAX_ID = 255
MAX_MESSAGE_TEXT = 3000


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def md(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def section(text: str, **extra: Any) -> Block:
    return {"type": "section", "text": md(text), **extra}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [md(t) for t in texts[:MAX_CONTEXT_ELEMENTS]]}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, MAX_HEADER)}


def option(choice: Choice) -> dict[str, Any]:
    return {"text": plain(choice.label, MAX_OPTION_TEXT), "value": clip(choice.value, 150)}


def button(
    text: str, action_id: str, value: str, style: str | None = None, confirm: dict[str, Any] | None = None
) -> dict[str, Any]:
    b: dict[str, Any] = {"type": "button", "text": plain(text, MAX_BUTTON_TEXT), "action_id": action_id, "value": value}
    if style:
        b["style"] = style
    if confirm:
        b["confirm"] = confirm
    return b


def confirm(title: str, text: str, yes: str) -> dict[str, Any]:
    return {"title": plain(title, 100), "text": md(text, 300), "confirm": plain(yes, 30), "deny": plain("Cancel", 30)}


def actions(block_id: str, elements: list[dict[str, Any]]) -> Block:
    return {"type": "actions", "block_id": clip(block_id, MAX_ID), "elements": elements[:MAX_ACTIONS_ELEMENTS]}


def slack_date(dt: datetime | None, fmt: str = "{date_short_pretty} at {time}") -> str:
    """Slack renders this in each viewer's own timezone; the fallback is UTC."""
    if dt is None:
        return "—"
    return f"<!date^{int(dt.timestamp())}^{fmt}|{dt:%Y-%m-%d %H:%M} UTC>"


def esc(text: str) -> str:
    """People's text in mrkdwn: no accidental markup, no @channel pings (Slack's own escaping rules)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quote(text: str) -> str:
    return "\n".join(">" + line for line in esc(text).splitlines() or [""])


def who(email: str | None, names: Mapping[str, str]) -> str:
    if not email:
        return "—"
    return names.get(email.lower(), email)


def items_text(grants: Sequence[GrantItem], limit: int = 20) -> str:
    lines = [f"• `{g.integration}` {g.resource_type} *{g.resource}* — {g.permission}" for g in grants[:limit]]
    if len(grants) > limit:
        lines.append(f"• … and {len(grants) - limit} more")
    return "\n".join(lines)


def what(v: StatusView | RequestSpec) -> str:
    grants = v.grants if isinstance(v, StatusView) else v.items
    first = ", ".join(f"{g.resource} ({g.permission})" for g in grants[:3])
    more = f" +{len(grants) - 3} more" if len(grants) > 3 else ""
    return (f"bundle {v.bundle}: " if v.bundle else "") + first + more


def headline(v: StatusView) -> str:
    return f"Access request {v.request_id}: {what(v)} for {v.grantee} — {v.status.value}"


# --- request messages ---------------------------------------------------------------------------------


def _outcome(v: StatusView, names: Mapping[str, str]) -> list[str]:
    lines: list[str] = []
    for a in v.approvals:
        note = " (break-glass)" if a.break_glass else ""
        lines.append(
            f":white_check_mark: Approved by {who(a.approver, names)}{note}"
            + (f": {esc(a.comment)}" if a.comment else "")
        )
    if v.status == AccessStatus.PENDING_APPROVAL and v.approvals_required > len(v.approvals):
        lines.append(f"Approvals: {len(v.approvals)} of {v.approvals_required}")
    if v.rejected_by:
        reason = v.status_reason.split(": ", 1)[1] if ": " in v.status_reason else ""
        lines.append(f":x: Rejected by {who(v.rejected_by, names)}" + (f": {esc(reason)}" if reason else ""))
    elif v.status_reason and v.status == AccessStatus.ACTIVE:
        lines.append(f":warning: {esc(v.status_reason)}")
    elif v.status_reason:
        lines.append(f"_{esc(v.status_reason)}_")
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
            out.append(button("Access details", DETAILS, rid, "primary"))
        if v.extension_enabled and v.extension_offered and v.extensions_used < v.max_extensions:
            out.append(button("Extend access", EXTEND, rid))
        out.append(
            button(
                "Revoke access",
                REVOKE,
                rid,
                "danger",
                confirm("Revoke access?", f"Access to {what(v)} ends now.", "Revoke"),
            )
        )
    elif v.status == AccessStatus.PENDING_APPROVAL:
        out.append(
            button(
                "Withdraw request",
                REVOKE,
                rid,
                confirm=confirm("Withdraw?", "Nobody will be asked anymore.", "Withdraw"),
            )
        )
    elif v.status in AGAIN_STATUSES:
        out.append(button("Request again", AGAIN, rid, "primary"))
    if viewer == v.requester:
        out.append(button("Add to favorites", FAV_ADD, rid))
    return out


def approver_actions(v: StatusView, viewer: str | None) -> list[dict[str, Any]]:
    # Between a decision and the workflow acting on it the status still says pending.
    if v.status != AccessStatus.PENDING_APPROVAL or v.rejected_by or v.revoked_by:
        return []
    if viewer and viewer in {a.approver for a in v.approvals}:
        return []
    return [button("Approve", APPROVE, v.request_id, "primary"), button("Reject", REJECT, v.request_id, "danger")]


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


# --- modals -------------------------------------------------------------------------------------------


def modal(callback_id: str, title: str, blocks: list[Block], submit: str | None, metadata: str = "") -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, MAX_TITLE),
        "close": plain("Cancel", MAX_TITLE),
        "blocks": blocks[:MAX_MODAL_BLOCKS],
        "private_metadata": metadata,
    }
    if submit:
        view["submit"] = plain(submit, MAX_TITLE)
    return view


def _select(choices: Sequence[Choice], action_id: str, placeholder: str, selected: str | None) -> dict[str, Any]:
    el: dict[str, Any] = {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": plain(placeholder, MAX_PLACEHOLDER),
        "options": [option(c) for c in choices[:MAX_OPTIONS]],
    }
    chosen = next((c for c in choices[:MAX_OPTIONS] if c.value == selected), None)
    if chosen:
        el["initial_option"] = option(chosen)
    return el


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    dispatch: bool = False,
    optional: bool = False,
    hint: str = "",
) -> Block:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": clip(block_id, MAX_ID),
        "label": plain(label, 2000),
        "element": element,
        "optional": optional,
    }
    if dispatch:
        block["dispatch_action"] = True
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _on_behalf(user_id: str, selected: str | None) -> Block:
    return _input(
        "on_behalf",
        "Request on behalf of",
        {"type": "users_select", "action_id": "on_behalf", "initial_user": selected or user_id},
    )


def _duration(choices: FormChoices, selected: str | None) -> Block:
    pick = selected if any(c.value == selected for c in choices.durations) else choices.default_duration
    return _input("duration", "Duration", _select(choices.durations, "duration", "How long?", pick))


def _justification(required: bool, value: str = "") -> Block:
    el: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "justification",
        "multiline": True,
        "max_length": 3000,
        "placeholder": plain("Why do you need it? (ticket, incident, task)", MAX_PLACEHOLDER),
    }
    if value:
        el["initial_value"] = value
    return _input("justification", "Justification", el, optional=not required)


def request_modal(form: RequestForm, choices: FormChoices, title: str = "Request access") -> dict[str, Any]:
    blocks: list[Block] = []
    if form.again_of:
        blocks.append(context(f"Asking again for request `{form.again_of}`: give a new justification."))
    elif choices.integrations:
        blocks.append(
            section(
                "Not sure what to pick? Say what you need in a sentence.",
                block_id="assist",
                accessory=button("Ask Assist", ASSIST_OPEN, "modal"),
            )
        )
    blocks.append(_on_behalf(form.user_id, form.on_behalf))
    if not choices.integrations:
        blocks.append(section(":no_entry: None of your access flows lets you request anything here. Ask an admin."))
        return modal(REQUEST_CALLBACK, title, blocks, None, form.metadata())
    blocks.append(
        _input(
            "integration",
            "Integration",
            _select(choices.integrations, PICK_INTEGRATION, "Choose a system", form.integration),
            dispatch=True,
        )
    )
    if form.integration and choices.resource_types:
        blocks.append(
            _input(
                f"resource_type|{form.integration}",
                "Resource type",
                _select(choices.resource_types, PICK_TYPE, "Choose a resource type", form.resource_type),
                dispatch=True,
            )
        )
    if form.integration and form.resource_type and any(c.value == form.resource_type for c in choices.resource_types):
        key = f"{form.integration}|{form.resource_type}"
        chosen = [Choice(r, r) for r in form.resources][:MAX_OPTIONS]
        el: dict[str, Any]
        if choices.resources is not None:
            known = [c for c in chosen if any(k.value == c.value for k in choices.resources)]
            el = {
                "type": "multi_static_select",
                "action_id": PICK_RESOURCES,
                "placeholder": plain("Choose one or more", MAX_PLACEHOLDER),
                "options": [option(c) for c in choices.resources[:MAX_OPTIONS]],
            }
            if known:
                el["initial_options"] = [option(c) for c in known]
        else:
            el = {
                "type": "multi_external_select",
                "action_id": PICK_RESOURCES,
                "placeholder": plain("Type to search", MAX_PLACEHOLDER),
                "min_query_length": 0,
            }
            if chosen:
                el["initial_options"] = [option(c) for c in chosen]
        blocks.append(_input(f"resources|{key}", "Resources", el))
        blocks.append(
            _input(
                f"permission|{key}",
                "Permission",
                _select(choices.permissions, "permission", "Choose a permission", form.permission),
            )
        )
    blocks.append(_duration(choices, form.duration))
    blocks.append(_justification(choices.justification_required, form.justification))
    return modal(REQUEST_CALLBACK, title, blocks, "Request", form.metadata())


def bundle_modal(
    form: BundleForm, bundles: Sequence[Choice], resources: Sequence[Choice], choices: FormChoices
) -> dict[str, Any]:
    blocks: list[Block] = [_on_behalf(form.user_id, form.on_behalf)]
    if not bundles:
        blocks.append(section(":no_entry: None of your access flows offers a bundle. Ask an admin."))
        return modal(BUNDLE_CALLBACK, "Request a bundle", blocks, None, form.metadata())
    blocks.append(
        _input("bundle", "Bundle", _select(bundles, PICK_BUNDLE, "Choose a bundle", form.bundle), dispatch=True)
    )
    if form.bundle and resources:
        chosen = [c for c in resources if form.resources is None or c.value in form.resources]
        el: dict[str, Any] = {
            "type": "checkboxes" if len(resources) <= 10 else "multi_static_select",
            "action_id": "bundle_resources",
            "options": [option(c) for c in resources[:MAX_OPTIONS]],
        }
        if el["type"] == "multi_static_select":
            el["placeholder"] = plain("Choose resources", MAX_PLACEHOLDER)
        if chosen:
            el["initial_options"] = [option(c) for c in chosen[:MAX_OPTIONS]]
        blocks.append(_input(f"bundle_resources|{form.bundle}", "Resources in this bundle", el))
    blocks.append(_duration(choices, form.duration))
    blocks.append(_justification(choices.justification_required, form.justification))
    return modal(BUNDLE_CALLBACK, "Request a bundle", blocks, "Request", form.metadata())


def favorite_modal(favorite_id: int, name: str, spec: RequestSpec) -> dict[str, Any]:
    lines = items_text(spec.items)
    on_behalf = f"\nFor: {spec.grantee}" if spec.grantee != spec.requester else ""
    blocks: list[Block] = [
        section(f"*{name}*\n{lines}\nDuration: {format_duration(spec.duration_seconds)}{on_behalf}"),
        _justification(True),
    ]
    return modal(FAVORITE_CALLBACK, "Request a favorite", blocks, "Request", json.dumps({"favorite_id": favorite_id}))


def reject_modal(v: StatusView, channel: str | None, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    blocks = [
        section(f"Reject *{what(v)}* for {who(v.grantee, names or {})}?"),
        _input(
            "reason",
            "Reason",
            {
                "type": "plain_text_input",
                "action_id": "reason",
                "multiline": True,
                "max_length": 3000,
                "placeholder": plain("Tell the requester why", MAX_PLACEHOLDER),
            },
        ),
    ]
    meta = json.dumps({"request_id": v.request_id, "channel": channel})
    return modal(REJECT_CALLBACK, "Reject request", blocks, "Reject", meta)


def details_modal(v: StatusView, details: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    blocks: list[Block] = [
        section(f"*Access details for `{v.request_id}`*\nUntil {slack_date(v.expires_at)}. Keep these to yourself."),
    ]
    for label, info in list(details.items())[:40]:
        rows = "\n".join(f"*{k}*: `{val}`" for k, val in info.items()) or "_nothing to show_"
        blocks.append({"type": "divider"})
        blocks.append(section(f"*{label}*\n{rows}"))
    if not details:
        blocks.append(section("_This access needs no details: use your usual login._"))
    return modal("gf_details", "Access details", blocks, None)


def status_modal(v: StatusView, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    names = names or {}
    blocks = request_summary(v, names)
    facts = [
        f"Submitted {slack_date(v.submitted_at)}",
        f"Requested by {who(v.requester, names)}",
    ]
    if v.granted_at:
        facts.append(f"Granted {slack_date(v.granted_at)}")
    if v.revoked_by:
        facts.append(f"Revoked by {who(v.revoked_by, names)}")
    blocks.append(context(*facts))
    return modal("gf_status", "Request details", blocks, None)


def submitted_modal(request_id: str) -> dict[str, Any]:
    return modal(
        "gf_submitted",
        "Request sent",
        [section(f":white_check_mark: Request `{request_id}` is on its way. I'll message you as it moves.")],
        None,
    )


def assist_modal(text: str = "") -> dict[str, Any]:
    el: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ASSIST_TEXT,
        "multiline": True,
        "max_length": ASSIST_MAX_TEXT,
        "placeholder": plain('e.g. "read the finance folder for two hours to check the Q3 numbers"', MAX_PLACEHOLDER),
    }
    if text:
        el["initial_value"] = clip(text, ASSIST_MAX_TEXT)
    blocks = [
        section(
            "Say what you need and why, in your own words. I suggest requests your access flows allow; "
            "nothing is sent until you choose one and submit the form."
        ),
        _input(ASSIST_TEXT, "What do you need?", el),
    ]
    return modal(ASSIST_CALLBACK, "Ask Assist", blocks, "Suggest")


def assist_metadata(text: str) -> str:
    """The sentence becomes the justification of the chosen request, so it rides along (clipped to fit)."""
    meta = json.dumps({"text": text}, ensure_ascii=False)
    while len(meta) > MAX_METADATA:
        text = text[: len(text) - (len(meta) - MAX_METADATA) - 1]
        meta = json.dumps({"text": text}, ensure_ascii=False)
    return meta


def assist_results_modal(text: str, suggestions: Sequence[Suggestion]) -> dict[str, Any]:
    blocks: list[Block] = [section(f"*You asked*\n{quote(clip(text, 1000))}")]
    shown = 0
    for s in suggestions:
        pick = AssistPick(s.integration, s.resource_type, s.resources, s.permission, s.bundle, s.duration_seconds)
        value = pick.value()
        if len(value) > MAX_VALUE:
            continue
        title = f"*Bundle {esc(s.bundle)}*\n" if s.bundle else ""
        blocks.append({"type": "divider"})
        blocks.append(
            section(
                f"{title}{items_text(s.items, 5)}\n{esc(s.explanation)}",
                block_id=f"assist|{shown}",
                accessory=button("Choose", ASSIST_PICK, value, "primary"),
            )
        )
        shown += 1
    blocks.append(context("Choosing one opens the request form filled in: check it, then submit."))
    return modal(ASSIST_RESULTS_CALLBACK, "Assist suggests", blocks, None, assist_metadata(text))


# --- lists: my requests, favorites, help, Home tab ----------------------------------------------------


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
    buttons = [b for b in buttons if b["action_id"] != FAV_ADD] + [button("More details", MORE, v.request_id)]
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
                [button("Request", FAV_USE, str(fid), "primary"), button("Remove", FAV_REMOVE, str(fid))],
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


def home_view(
    viewer: str,
    recent: Sequence[StatusView],
    active: Sequence[StatusView],
    favorites: Sequence[tuple[int, str, RequestSpec]],
    pending: Sequence[StatusView],
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    names = names or {}
    blocks: list[Block] = [
        header("Access"),
        actions(
            "home_new",
            [
                button("Create New Request", NEW_REQUEST, "new", "primary"),
                button("Request a bundle", NEW_BUNDLE, "new"),
                button("Ask Assist", ASSIST_OPEN, "home"),
            ],
        ),
        {"type": "divider"},
        header("My Access"),
        section("*Recent & Favorites*"),
    ]
    if not recent:
        blocks.append(context("No requests yet."))
    for v in recent[:3]:
        asked = slack_date(v.submitted_at, "{date_short_pretty}")
        line = f"*{what(v)}*\n{BADGE[v.status]} · `{v.request_id}` · asked {asked}"
        blocks.append(section(line))
        row = [button("More details", MORE, v.request_id)]
        if v.status in AGAIN_STATUSES or v.status == AccessStatus.ACTIVE:
            row.insert(0, button("Request again", AGAIN, v.request_id))
        if v.requester == viewer:
            row.append(button("Add to favorites", FAV_ADD, v.request_id))
        blocks.append(actions(f"recent|{v.request_id}", row))
    for fid, name, spec in favorites[:10]:
        blocks.append(section(f":star: *{name}*\n{what(spec)} · {format_duration(spec.duration_seconds)}"))
        blocks.append(
            actions(
                f"fav|{fid}", [button("Request", FAV_USE, str(fid), "primary"), button("Remove", FAV_REMOVE, str(fid))]
            )
        )
    blocks += [{"type": "divider"}, header("My Sessions")]
    if not active:
        blocks.append(context("No active access."))
    for v in active[:10]:
        blocks.append(section(f"*{what(v)}*\n:alarm_clock: until {slack_date(v.expires_at)} · `{v.request_id}`"))
        row = []
        if v.grantee == viewer:
            row.append(button("Access Details", DETAILS, v.request_id, "primary"))
        if v.extension_enabled and v.extensions_used < v.max_extensions:
            row.append(button("Extend", EXTEND, v.request_id))
        row.append(
            button("Revoke", REVOKE, v.request_id, "danger", confirm("Revoke access?", "It ends now.", "Revoke"))
        )
        blocks.append(actions(f"session|{v.request_id}", row))
    if pending:
        blocks += [{"type": "divider"}, header("Pending my approval")]
        for v in pending[:10]:
            blocks.append(
                section(
                    f"{who(v.requester, names)} asks for *{what(v)}* ({format_duration(v.duration_seconds)})"
                    + (f"\n{quote(clip(v.justification, 500))}" if v.justification else "")
                )
            )
            blocks.append(
                actions(
                    f"pending|{v.request_id}",
                    [*approver_actions(v, viewer), button("More details", MORE, v.request_id)],
                )
            )
    return {"type": "home", "blocks": blocks[:MAX_MODAL_BLOCKS]}


# --- Slack's limits -----------------------------------------------------------------------------------


SurfaceKind = Literal["message", "modal", "home"]


def problems(surface: dict[str, Any] | list[Block], kind: SurfaceKind) -> list[str]:
    """Every way a surface breaks Slack's limits (empty when Slack would accept it)."""
    out: list[str] = []
    blocks: list[Block] = surface if isinstance(surface, list) else list(surface.get("blocks") or [])
    limit = MAX_MESSAGE_BLOCKS if kind == "message" else MAX_MODAL_BLOCKS
    if len(blocks) > limit:
        out.append(f"{len(blocks)} blocks (max {limit} in a {kind})")
    if isinstance(surface, dict) and kind == "modal":
        for key in ("title", "submit", "close"):
            if key in surface and len(surface[key]["text"]) > MAX_TITLE:
                out.append(f"{key} longer than {MAX_TITLE}")
        if len(surface.get("private_metadata") or "") > MAX_METADATA:
            out.append("private_metadata too long")
    ids: set[str] = set()

    def text_of(obj: dict[str, Any] | None) -> str:
        return str((obj or {}).get("text") or "")

    def check_options(where: str, opts: list[dict[str, Any]]) -> None:
        if len(opts) > MAX_OPTIONS:
            out.append(f"{where}: {len(opts)} options (max {MAX_OPTIONS})")
        for o in opts:
            if len(text_of(o.get("text"))) > MAX_OPTION_TEXT:
                out.append(f"{where}: option label over {MAX_OPTION_TEXT} chars")
            if len(str(o.get("value") or "")) > 150:
                out.append(f"{where}: option value over 150 chars")

    def check_element(where: str, el: dict[str, Any]) -> None:
        if len(str(el.get("action_id") or "")) > MAX_ID:
            out.append(f"{where}: action_id too long")
        if el.get("type") == "button":
            if len(text_of(el.get("text"))) > MAX_BUTTON_TEXT:
                out.append(f"{where}: button text over {MAX_BUTTON_TEXT}")
            if len(str(el.get("value") or "")) > MAX_VALUE:
                out.append(f"{where}: button value over {MAX_VALUE}")
        if "options" in el:
            check_options(where, el["options"])
        if len(text_of(el.get("placeholder"))) > MAX_PLACEHOLDER:
            out.append(f"{where}: placeholder over {MAX_PLACEHOLDER}")

    for i, b in enumerate(blocks):
        where = f"block {i} ({b.get('type')})"
        bid = b.get("block_id")
        if bid is not None:
            if len(bid) > MAX_ID:
                out.append(f"{where}: block_id too long")
            if bid in ids:
                out.append(f"{where}: duplicate block_id {bid}")
            ids.add(bid)
        t = b.get("type")
        if t == "section":
            if len(text_of(b.get("text"))) > MAX_SECTION_TEXT:
                out.append(f"{where}: text over {MAX_SECTION_TEXT} chars")
            fields = b.get("fields") or []
            if len(fields) > 10:
                out.append(f"{where}: more than 10 fields")
            out += [f"{where}: field over {MAX_FIELD_TEXT}" for f in fields if len(text_of(f)) > MAX_FIELD_TEXT]
            if "accessory" in b:
                check_element(where, b["accessory"])
        elif t == "header" and len(text_of(b.get("text"))) > MAX_HEADER:
            out.append(f"{where}: header over {MAX_HEADER}")
        elif t == "context":
            elements = b.get("elements") or []
            if len(elements) > MAX_CONTEXT_ELEMENTS:
                out.append(f"{where}: more than {MAX_CONTEXT_ELEMENTS} elements")
            out += [f"{where}: text over {MAX_SECTION_TEXT}" for e in elements if len(text_of(e)) > MAX_SECTION_TEXT]
        elif t == "actions":
            elements = b.get("elements") or []
            if len(elements) > MAX_ACTIONS_ELEMENTS:
                out.append(f"{where}: more than {MAX_ACTIONS_ELEMENTS} elements")
            seen = [e.get("action_id") for e in elements]
            if len(seen) != len(set(seen)):
                out.append(f"{where}: duplicate action_id")
            for e in elements:
                check_element(where, e)
        elif t == "input":
            if kind == "message":
                out.append(f"{where}: input blocks belong in modals")
            check_element(where, b.get("element") or {})
    return out
