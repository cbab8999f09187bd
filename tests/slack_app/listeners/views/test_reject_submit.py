"""The reject modal (slack_app/listeners/views/reject_submit.py), then Request again."""

from __future__ import annotations

import json

from tests.slack_app.conftest import Stack
from tests.slack_app.helpers import buttons


async def test_reject_with_reason_then_request_again(stack: Stack) -> None:
    s = stack.slack
    mark = s.mark()
    rid, _ = await stack.request_via_modal("UDAN", "folder", ["beta", "gamma"], "quarterly report")
    to_carol = await stack.posted_to("UCAROL", rid, since=mark)
    to_bob = await stack.posted_to("UBOB", rid, since=mark)
    mine = await stack.posted_to("UDAN", rid, since=mark)

    mark = s.mark()
    await stack.click("UCAROL", "gf_reject", rid, message=to_carol)
    reject_view = await stack.opened(mark)
    assert reject_view["callback_id"] == "gf_reject_modal"
    status, answer = await stack.submit("UCAROL", reject_view, {"reason": "use the shared dashboard"})
    assert status == 200 and answer == {}
    v = await stack.wait_status(rid, "REJECTED")
    assert v.rejected_by == "carol@example.com"
    bob_copy = await stack.updated(to_bob, lambda c: "Rejected by" in c.text(), since=mark)
    assert "use the shared dashboard" in bob_copy.text() and not buttons(bob_copy)
    dan_copy = await stack.updated(mine, lambda c: "gf_again" in buttons(c), since=mark)
    assert "use the shared dashboard" in dan_copy.text()

    mark = s.mark()
    await stack.click("UDAN", "gf_again", rid, message=dan_copy)
    again = await stack.opened(mark)
    assert f"`{rid}`" in json.dumps(again["blocks"]), "says which request it repeats"
    resources = next(b for b in again["blocks"] if b.get("block_id", "").startswith("resources|"))
    assert [o["value"] for o in resources["element"]["initial_options"]] == ["beta", "gamma"]
    status, answer = await stack.submit("UDAN", again, {"justification": "dashboard lacks the Q3 numbers"})
    assert answer.get("response_action") == "update"
    new_rid = answer["view"]["blocks"][0]["text"]["text"].split("`")[1]
    assert new_rid != rid
    v = await stack.wait_status(new_rid, "PENDING_APPROVAL")
    assert [g.resource for g in v.grants] == ["beta", "gamma"] and v.justification == "dashboard lacks the Q3 numbers"
