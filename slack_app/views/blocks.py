"""Block Kit primitives and Slack's limits: every surface is built from these and checked by `problems`.

The builders clip long text instead of letting Slack refuse a message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from grantflow.catalog import Choice
from grantflow.domain.models import AccessStatus, GrantItem, RequestSpec, StatusView

Block = dict[str, Any]
SurfaceKind = Literal["message", "modal", "home"]

BADGE = {
    AccessStatus.PENDING_APPROVAL: ":hourglass_flowing_sand: Pending approval",
    AccessStatus.SCHEDULED: ":calendar: Scheduled",
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


# --- modal scaffolding --------------------------------------------------------------------------------


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


def select(choices: Sequence[Choice], action_id: str, placeholder: str, selected: str | None) -> dict[str, Any]:
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


def input_block(
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


# --- Slack's limits -----------------------------------------------------------------------------------


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
