"""The modals: the request and bundle forms, a favorite, a rejection's reason, details, Assist.

Pure functions of the forms and models; what the person typed is read back in `slack_app/forms.py`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from grantflow.assist import MAX_TEXT as ASSIST_MAX_TEXT
from grantflow.assist import Suggestion
from grantflow.catalog import Choice, FormChoices
from grantflow.domain.durations import format_duration
from grantflow.domain.models import RequestSpec, StatusView
from slack_app import ids
from slack_app.forms import AssistPick, BundleForm, RequestForm
from slack_app.views.blocks import (
    MAX_METADATA,
    MAX_OPTIONS,
    MAX_PLACEHOLDER,
    MAX_VALUE,
    Block,
    button,
    clip,
    context,
    esc,
    input_block,
    items_text,
    modal,
    option,
    plain,
    quote,
    section,
    select,
    slack_date,
    what,
    who,
)
from slack_app.views.messages import request_summary


def _on_behalf(user_id: str, selected: str | None) -> Block:
    return input_block(
        "on_behalf",
        "Request on behalf of",
        {"type": "users_select", "action_id": "on_behalf", "initial_user": selected or user_id},
    )


def _start_at(selected: int | None) -> Block:
    """Optional: access begins at this time instead of at approval (the workflow waits as SCHEDULED)."""
    el: dict[str, Any] = {"type": "datetimepicker", "action_id": "start_at"}
    if selected:
        el["initial_date_time"] = selected
    return input_block(
        "start_at", "Start later (optional)", el, optional=True, hint="Empty: access starts as soon as it is approved."
    )


def _duration(choices: FormChoices, selected: str | None) -> Block:
    pick = selected if any(c.value == selected for c in choices.durations) else choices.default_duration
    return input_block("duration", "Duration", select(choices.durations, "duration", "How long?", pick))


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
    return input_block("justification", "Justification", el, optional=not required)


def request_modal(form: RequestForm, choices: FormChoices, title: str = "Request access") -> dict[str, Any]:
    blocks: list[Block] = []
    if form.again_of:
        blocks.append(context(f"Asking again for request `{form.again_of}`: give a new justification."))
    elif choices.integrations:
        blocks.append(
            section(
                "Not sure what to pick? Say what you need in a sentence.",
                block_id="assist",
                accessory=button("Ask Assist", ids.ASSIST_OPEN, "modal"),
            )
        )
    blocks.append(_on_behalf(form.user_id, form.on_behalf))
    if not choices.integrations:
        blocks.append(section(":no_entry: None of your access flows lets you request anything here. Ask an admin."))
        return modal(ids.REQUEST_CALLBACK, title, blocks, None, form.metadata())
    blocks.append(
        input_block(
            "integration",
            "Integration",
            select(choices.integrations, ids.PICK_INTEGRATION, "Choose a system", form.integration),
            dispatch=True,
        )
    )
    if form.integration and choices.resource_types:
        blocks.append(
            input_block(
                f"resource_type|{form.integration}",
                "Resource type",
                select(choices.resource_types, ids.PICK_TYPE, "Choose a resource type", form.resource_type),
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
                "action_id": ids.PICK_RESOURCES,
                "placeholder": plain("Choose one or more", MAX_PLACEHOLDER),
                "options": [option(c) for c in choices.resources[:MAX_OPTIONS]],
            }
            if known:
                el["initial_options"] = [option(c) for c in known]
        else:
            el = {
                "type": "multi_external_select",
                "action_id": ids.PICK_RESOURCES,
                "placeholder": plain("Type to search", MAX_PLACEHOLDER),
                "min_query_length": 0,
            }
            if chosen:
                el["initial_options"] = [option(c) for c in chosen]
        blocks.append(input_block(f"resources|{key}", "Resources", el))
        blocks.append(
            input_block(
                f"permission|{key}",
                "Permission",
                select(choices.permissions, "permission", "Choose a permission", form.permission),
            )
        )
    blocks.append(_duration(choices, form.duration))
    blocks.append(_start_at(form.start_at))
    blocks.append(_justification(choices.justification_required, form.justification))
    return modal(ids.REQUEST_CALLBACK, title, blocks, "Request", form.metadata())


def bundle_modal(
    form: BundleForm, bundles: Sequence[Choice], resources: Sequence[Choice], choices: FormChoices
) -> dict[str, Any]:
    blocks: list[Block] = [_on_behalf(form.user_id, form.on_behalf)]
    if not bundles:
        blocks.append(section(":no_entry: None of your access flows offers a bundle. Ask an admin."))
        return modal(ids.BUNDLE_CALLBACK, "Request a bundle", blocks, None, form.metadata())
    blocks.append(
        input_block("bundle", "Bundle", select(bundles, ids.PICK_BUNDLE, "Choose a bundle", form.bundle), dispatch=True)
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
        blocks.append(input_block(f"bundle_resources|{form.bundle}", "Resources in this bundle", el))
    blocks.append(_duration(choices, form.duration))
    blocks.append(_start_at(form.start_at))
    blocks.append(_justification(choices.justification_required, form.justification))
    return modal(ids.BUNDLE_CALLBACK, "Request a bundle", blocks, "Request", form.metadata())


def favorite_modal(favorite_id: int, name: str, spec: RequestSpec) -> dict[str, Any]:
    lines = items_text(spec.items)
    on_behalf = f"\nFor: {spec.grantee}" if spec.grantee != spec.requester else ""
    blocks: list[Block] = [
        section(f"*{name}*\n{lines}\nDuration: {format_duration(spec.duration_seconds)}{on_behalf}"),
        _justification(True),
    ]
    return modal(
        ids.FAVORITE_CALLBACK, "Request a favorite", blocks, "Request", json.dumps({"favorite_id": favorite_id})
    )


def reject_modal(v: StatusView, channel: str | None, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    blocks = [
        section(f"Reject *{what(v)}* for {who(v.grantee, names or {})}?"),
        input_block(
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
    return modal(ids.REJECT_CALLBACK, "Reject request", blocks, "Reject", meta)


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
    return modal(ids.DETAILS_CALLBACK, "Access details", blocks, None)


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
    return modal(ids.STATUS_CALLBACK, "Request details", blocks, None)


def submitted_modal(request_id: str) -> dict[str, Any]:
    return modal(
        ids.SUBMITTED_CALLBACK,
        "Request sent",
        [section(f":white_check_mark: Request `{request_id}` is on its way. I'll message you as it moves.")],
        None,
    )


def assist_modal(text: str = "") -> dict[str, Any]:
    el: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.ASSIST_TEXT,
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
        input_block(ids.ASSIST_TEXT, "What do you need?", el),
    ]
    return modal(ids.ASSIST_CALLBACK, "Ask Assist", blocks, "Suggest")


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
                accessory=button("Choose", ids.ASSIST_PICK, value, "primary"),
            )
        )
        shown += 1
    blocks.append(context("Choosing one opens the request form filled in: check it, then submit."))
    return modal(ids.ASSIST_RESULTS_CALLBACK, "Assist suggests", blocks, None, assist_metadata(text))
