"""Helpers the Slack journeys share: reading what the fake Slack received."""

from __future__ import annotations

from typing import Any

from tests.slack_app.conftest import Stack
from tests.slack_app.fake_slack import Call

SENTENCE = "read the beta folder for 90 minutes to check the Q3 numbers"


def buttons(call: Call) -> list[str]:
    return call.action_ids()


def in_sessions(home: Call, request_id: str) -> bool:
    """Whether the Home tab lists the request under *My Sessions* (active access)."""
    return any(b.get("block_id") == f"session|{request_id}" for b in home.args["view"]["blocks"])


def picks(view: dict[str, Any]) -> list[str]:
    return [
        b["accessory"]["value"]
        for b in view["blocks"]
        if (b.get("accessory") or {}).get("action_id") == "gf_assist_pick"
    ]


def field(view: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(next(b for b in view["blocks"] if b.get("block_id", "").split("|")[0] == name)["element"])


def new_request_id(answer: dict[str, Any]) -> str:
    assert answer.get("response_action") == "update", answer
    return str(answer["view"]["blocks"][0]["text"]["text"].split("`")[1])


async def ephemeral(stack: Stack, user: str, text: str) -> Call:
    mark = stack.slack.mark()
    status, _ = await stack.command(user, text)
    assert status == 200
    told = await stack.slack.wait("response_url", since=mark)
    assert told.args.get("response_type") == "ephemeral"
    assert not stack.slack.since(mark, "views.open")
    return told
