"""Type-ahead resources (slack_app/listeners/options/resources.py), in an approval-channel journey."""

from __future__ import annotations

from tests.slack_app.conftest import Stack
from tests.slack_app.helpers import buttons


async def test_channel_approval_with_type_ahead(stack: Stack) -> None:
    s = stack.slack
    mark = s.mark()
    await stack.command("UALICE", "request")
    view = await stack.opened(mark)
    mark2 = s.mark()
    await stack.choose("UALICE", view, "req_resource_type", "resource_type", "box")
    updated = await stack.opened(mark2, "views.update")
    block = next(b for b in updated["blocks"] if b["block_id"].startswith("resources|"))
    assert block["element"]["type"] == "multi_external_select", "60 resources: type-ahead"
    found = await stack.suggest("UALICE", updated, block["block_id"], "box-0")
    assert [o["value"] for o in found["options"]][:3] == ["box-00", "box-01", "box-02"]
    assert len(found["options"]) == 10
    _status, answer = await stack.submit(
        "UALICE", updated, {"resources": ["box-07"], "permission": "read", "justification": "restore"}
    )
    rid = answer["view"]["blocks"][0]["text"]["text"].split("`")[1]
    await stack.wait_status(rid, "PENDING_APPROVAL")
    in_channel = await s.wait(
        "chat.postMessage", lambda c: c.args.get("channel") == "#db-approvals" and rid in c.text()
    )
    await stack.posted_to("UALICE", rid, since=mark)
    assert not [c for c in s.since(mark, "chat.postMessage") if c.args.get("channel") in ("UBOB", "UCAROL")]
    assert buttons(in_channel)[:2] == ["gf_approve", "gf_reject"]

    mark = s.mark()
    await stack.click("UCAROL", "gf_approve", rid, message=in_channel)
    await stack.wait_status(rid, "ACTIVE")
    decided = await stack.updated(in_channel, lambda c: "Approved by" in c.text() and not buttons(c), since=mark)
    assert "carol@example.com" in decided.text() or "<@UCAROL>" in decided.text()
    await stack.client.revoke(rid, "alice@example.com")
