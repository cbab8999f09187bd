"""The request form submitted (slack_app/listeners/views/request_submit.py)."""

from __future__ import annotations

import json
import time

from tests.slack_app.conftest import Stack


async def test_request_on_behalf_of_someone_the_flow_does_not_allow(stack: Stack) -> None:
    """ "Request on behalf of" someone who is neither a requestor nor a grantee of the flow: the error is inline on
    that field, names the flow, and nothing starts. A colleague in the flow is fine."""
    s = stack.slack
    mark = s.mark()
    await stack.command("UALICE", "")
    view = await stack.opened(mark)
    await stack.choose("UALICE", view, "req_resource_type", "resource_type", "folder")
    form = await stack.opened(mark, "views.update")
    on_behalf_block = next(b["block_id"] for b in form["blocks"] if b.get("block_id", "").startswith("on_behalf"))
    before = await stack.client.list_requests(person="mallory@example.com")
    values = {"resources": ["gamma"], "permission": "read", "justification": "for mallory", "on_behalf": "UMALLORY"}
    status, answer = await stack.submit("UALICE", form, values)
    assert status == 200 and answer["response_action"] == "errors", answer
    assert list(answer["errors"]) == [on_behalf_block]
    assert 'access flow "Read folders" may not grant access to mallory@example.com' in answer["errors"][on_behalf_block]
    assert await stack.client.list_requests(person="mallory@example.com") == before
    refusals = [e for e in await stack.client.audit() if e.actor == "alice@example.com" and e.outcome == "refused"]
    assert refusals and "mallory@example.com" in refusals[-1].reason

    status, answer = await stack.submit("UALICE", form, {**values, "on_behalf": "UDAN"})
    assert answer.get("response_action") == "update", answer
    rid = answer["view"]["blocks"][0]["text"]["text"].split("`")[1]
    v = await stack.wait_status(rid, "PENDING_APPROVAL")
    assert (v.requester, v.grantee) == ("alice@example.com", "dan@example.com")
    await stack.client.revoke(rid, "alice@example.com")


async def test_the_start_picker_schedules_the_request(stack: Stack) -> None:
    """The request form's date-time picker (optional): the request carries the chosen start, an approval
    makes it SCHEDULED (not ACTIVE), the requester's message says when it starts; a start in the past is an
    error on the picker itself and nothing starts."""
    s = stack.slack
    mark = s.mark()
    await stack.command("UALICE", "")
    view = await stack.opened(mark)
    picker = next(b for b in view["blocks"] if b.get("block_id") == "start_at")
    assert picker["element"]["type"] == "datetimepicker" and picker["optional"] is True
    await stack.choose("UALICE", view, "req_resource_type", "resource_type", "folder")
    form = await stack.opened(mark, "views.update")
    values = {"resources": ["alpha"], "permission": "read", "justification": "maintenance window"}

    status, answer = await stack.submit("UALICE", form, {**values, "start_at": int(time.time()) - 3600})
    assert status == 200 and answer["response_action"] == "errors", answer
    assert list(answer["errors"]) == ["start_at"] and "is in the past" in answer["errors"]["start_at"]

    start = int(time.time()) + 2 * 3600
    status, answer = await stack.submit("UALICE", form, {**values, "start_at": start})
    assert answer.get("response_action") == "update", answer
    rid = answer["view"]["blocks"][0]["text"]["text"].split("`")[1]
    v = await stack.wait_status(rid, "PENDING_APPROVAL")
    assert v.start_at is not None and int(v.start_at.timestamp()) == start
    mark = s.mark()
    await stack.client.approve(rid, "bob@example.com")
    v = await stack.wait_status(rid, "SCHEDULED")
    assert v.granted_at is None
    update = await s.wait("chat.update", lambda c: "Scheduled" in json.dumps(c.args), since=mark)
    assert f"<!date^{start}^" in json.dumps(update.args)
    await stack.client.revoke(rid, "alice@example.com", "no longer needed")
    await stack.wait_status(rid, "REVOKED")
