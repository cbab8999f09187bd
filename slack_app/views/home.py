"""The App Home tab: new requests, my access, my sessions, and what waits for my approval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from grantflow.domain.durations import format_duration
from grantflow.domain.models import AccessStatus, RequestSpec, StatusView
from slack_app import ids
from slack_app.views.blocks import (
    AGAIN_STATUSES,
    BADGE,
    MAX_MODAL_BLOCKS,
    Block,
    actions,
    button,
    clip,
    confirm,
    context,
    header,
    quote,
    section,
    slack_date,
    what,
    who,
)
from slack_app.views.messages import approver_actions


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
                button("Create New Request", ids.NEW_REQUEST, "new", "primary"),
                button("Request a bundle", ids.NEW_BUNDLE, "new"),
                button("Ask Assist", ids.ASSIST_OPEN, "home"),
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
        row = [button("More details", ids.MORE, v.request_id)]
        if v.status in AGAIN_STATUSES or v.status == AccessStatus.ACTIVE:
            row.insert(0, button("Request again", ids.AGAIN, v.request_id))
        if v.requester == viewer:
            row.append(button("Add to favorites", ids.FAV_ADD, v.request_id))
        blocks.append(actions(f"recent|{v.request_id}", row))
    for fid, name, spec in favorites[:10]:
        blocks.append(section(f":star: *{name}*\n{what(spec)} · {format_duration(spec.duration_seconds)}"))
        blocks.append(
            actions(
                f"fav|{fid}",
                [button("Request", ids.FAV_USE, str(fid), "primary"), button("Remove", ids.FAV_REMOVE, str(fid))],
            )
        )
    blocks += [{"type": "divider"}, header("My Sessions")]
    if not active:
        blocks.append(context("No active access."))
    for v in active[:10]:
        blocks.append(section(f"*{what(v)}*\n:alarm_clock: until {slack_date(v.expires_at)} · `{v.request_id}`"))
        row = []
        if v.grantee == viewer:
            row.append(button("Access Details", ids.DETAILS, v.request_id, "primary"))
        if v.extension_enabled and v.extensions_used < v.max_extensions:
            row.append(button("Extend", ids.EXTEND, v.request_id))
        row.append(
            button("Revoke", ids.REVOKE, v.request_id, "danger", confirm("Revoke access?", "It ends now.", "Revoke"))
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
                    [*approver_actions(v, viewer), button("More details", ids.MORE, v.request_id)],
                )
            )
    return {"type": "home", "blocks": blocks[:MAX_MODAL_BLOCKS]}
