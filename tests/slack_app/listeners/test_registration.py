"""Each listener is registered by its own id (slack_app/listeners/*/__init__.py): one listener per id, and no
listener that catches what it does not name (an unknown button is told apart by slack_app/listeners/actions/
unknown.py, not matched by a catch-all)."""

from __future__ import annotations

from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from slack_app import ids
from slack_app.app import build_app
from tests.slack_app.conftest import Stack

SUBMITTED = [
    ids.REQUEST_CALLBACK,
    ids.BUNDLE_CALLBACK,
    ids.FAVORITE_CALLBACK,
    ids.REJECT_CALLBACK,
    ids.ASSIST_CALLBACK,
]


def block_action(action_id: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": "UALICE"},
        "trigger_id": "t",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": "v"}],
    }


def view_payload(kind: str, callback_id: str) -> dict[str, Any]:
    return {"type": kind, "user": {"id": "UALICE"}, "view": {"id": "V1", "type": "modal", "callback_id": callback_id}}


async def test_one_listener_per_id_and_none_for_anything_else(stack: Stack) -> None:
    app = build_app(stack.settings, stack.client)

    async def listeners_for(body: dict[str, Any]) -> int:
        req = AsyncBoltRequest(body=body, mode="socket_mode")
        resp = BoltResponse(status=200)
        return sum([await listener.async_matches(req=req, resp=resp) for listener in app._async_listeners])

    for action_id in sorted(ids.ACTIONS):
        assert await listeners_for(block_action(action_id)) == 1, action_id
    assert await listeners_for(block_action("gf_from_another_version")) == 0
    assert await listeners_for(block_action(ids.PICK_RESOURCES)) == 0, "the resources select sends no action"
    for callback_id in SUBMITTED:
        assert await listeners_for(view_payload("view_submission", callback_id)) == 1, callback_id
    assert await listeners_for(view_payload("view_submission", "gf_unknown_modal")) == 0
    for callback_id in sorted(ids.MODALS):
        assert await listeners_for(view_payload("view_closed", callback_id)) == 1, callback_id
    options = {"type": "block_suggestion", "action_id": ids.PICK_RESOURCES, "block_id": "resources|files|folder"}
    assert await listeners_for({**options, "user": {"id": "UALICE"}, "value": ""}) == 1
    command = {"command": "/access", "user_id": "UALICE", "text": "help"}
    assert await listeners_for(command) == 1
    home = {"type": "event_callback", "event": {"type": "app_home_opened", "user": "UALICE", "tab": "home"}}
    assert await listeners_for(home) == 1
