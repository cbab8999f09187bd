"""Owner buttons (slack_app/listeners/actions/owner.py): extend, access details, revoke, in a full journey."""

from __future__ import annotations

from tests.slack_app.conftest import Stack
from tests.slack_app.helpers import buttons, in_sessions


async def test_request_approve_extend_details_revoke(stack: Stack) -> None:
    s = stack.slack
    mark = s.mark()
    s.fail("chat.postMessage", status=429, retry_after=1)
    rid, _ = await stack.request_via_modal("UALICE", "folder", ["alpha"], "incident 42")

    mine = await stack.posted_to("UALICE", rid, since=mark)
    assert "Your access request" in mine.text() and "incident 42" in mine.text()
    assert next(c.status for c in s.calls[mark:] if c.method == "chat.postMessage") == 429, "the 429 was retried"
    to_bob = await stack.posted_to("UBOB", rid, since=mark)
    to_carol = await stack.posted_to("UCAROL", rid, since=mark)
    assert buttons(to_bob)[:2] == ["gf_approve", "gf_reject"]
    assert (
        len(
            [
                c
                for c in s.since(mark, "chat.postMessage")
                if c.args.get("channel") == "UALICE" and not c.args.get("thread_ts")
            ]
        )
        == 1
    )

    status, _ = await stack.click("UBOB", "gf_approve", rid, message=to_bob)
    assert status == 200
    v = await stack.wait_status(rid, "ACTIVE")
    assert v.approvals[0].approver == "bob@example.com"
    carol_copy = await stack.updated(to_carol, lambda c: "Approved by" in c.text() and not buttons(c), since=mark)
    assert "gf_approve" not in buttons(carol_copy)
    alice_copy = await stack.updated(mine, lambda c: "gf_extend" in buttons(c), since=mark)
    assert {"gf_details", "gf_revoke"} <= set(buttons(alice_copy))
    assert "<!date^" in alice_copy.text(), "expiry in the viewer's timezone"
    await s.wait("chat.postMessage", lambda c: c.args.get("thread_ts") == mine.response["ts"] and "active" in c.text())
    home = await s.wait(
        "views.publish", lambda c: c.args.get("user_id") == "UALICE" and in_sessions(c, rid), since=mark
    )
    assert "gf_revoke" in home.action_ids(), "the Home tab was republished once the access became active"

    mark = s.mark()
    status, _ = await stack.click("UALICE", "gf_extend", rid, message=alice_copy)
    assert status == 200
    await s.wait("chat.postEphemeral", lambda c: "Extended" in c.text(), since=mark)
    v = await stack.client.status(rid)
    assert v.extensions_used == 1

    mark = s.mark()
    await stack.click("UALICE", "gf_details", rid, message=alice_copy)
    details = await s.wait("views.open", since=mark)
    assert "Access details" in details.text() and "alpha" in details.text()
    mark = s.mark()
    await stack.click("UBOB", "gf_details", rid, message=to_bob)
    refusal = await s.wait("chat.postEphemeral", lambda c: c.args.get("user") == "UBOB", since=mark)
    assert "only the grantee" in refusal.text()
    assert not s.since(mark, "views.open")

    mark = s.mark()
    await stack.click("UALICE", "gf_revoke", rid, message=alice_copy)
    v = await stack.wait_status(rid, "REVOKED")
    assert v.revoked_by == "alice@example.com"
    final = await stack.updated(mine, lambda c: "gf_again" in buttons(c), since=mark)
    assert "Revoked" in final.text()
    await s.wait(
        "views.publish",
        lambda c: (
            c.args.get("user_id") == "UALICE" and rid in c.text() and "Revoked" in c.text() and not in_sessions(c, rid)
        ),
        since=mark,
    )

    # A payload for the finished request: a polite ephemeral note, never a 500.
    mark = s.mark()
    status, _ = await stack.click("UCAROL", "gf_approve", rid, message=to_carol)
    assert status == 200
    note = await s.wait("chat.postEphemeral", lambda c: c.args.get("user") == "UCAROL", since=mark)
    assert "REVOKED" in note.text()
