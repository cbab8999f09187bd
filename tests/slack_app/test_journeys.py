"""End to end through Slack: signed requests in, Web API calls out, a real Temporal dev server between."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

from grantflow.domain.models import Transition
from tests.slack_app.conftest import Stack
from tests.slack_app.fake_slack import Call


def buttons(call: Call) -> list[str]:
    return call.action_ids()


def in_sessions(home: Call, request_id: str) -> bool:
    """Whether the Home tab lists the request under *My Sessions* (active access)."""
    return any(b.get("block_id") == f"session|{request_id}" for b in home.args["view"]["blocks"])


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
    assert reject_view["callback_id"] == "gf_reject"
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


async def test_non_approver_and_cli_decision_update_every_copy(stack: Stack) -> None:
    s = stack.slack
    mark = s.mark()
    rid, _ = await stack.request_via_modal("UALICE", "folder", ["gamma"], "debugging")
    to_bob = await stack.posted_to("UBOB", rid, since=mark)
    to_carol = await stack.posted_to("UCAROL", rid, since=mark)

    mark = s.mark()
    await stack.click("UMALLORY", "gf_approve", rid, message=to_bob)
    note = await s.wait("chat.postEphemeral", lambda c: c.args.get("user") == "UMALLORY", since=mark)
    assert "not an approver" in note.text()
    await stack.click("UALICE", "gf_approve", rid, message=to_bob)
    note = await s.wait("chat.postEphemeral", lambda c: c.args.get("user") == "UALICE", since=mark)
    assert "own request" in note.text()
    assert (await stack.client.status(rid)).status.value == "PENDING_APPROVAL"
    assert not s.since(mark, "chat.update"), "nothing changed"

    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "GRANTFLOW_TASK_QUEUE": stack.settings.task_queue,
        "DATABASE_URL": stack.settings.database_url,
        "GRANTFLOW_CONFIG": str(stack.settings.config_file),
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-c",
            "from grantflow.cli import main; main()",
            "reject",
            rid,
            "--as",
            "bob@example.com",
            "--reason",
            "not now",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    await stack.wait_status(rid, "REJECTED")
    for copy in (to_bob, to_carol):
        decided = await stack.updated(copy, lambda c: "Rejected by" in c.text(), since=mark)
        assert "gf_approve" not in buttons(decided) and "not now" in decided.text()


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


async def test_favorites_bundle_home_and_my_requests(stack: Stack) -> None:
    s = stack.slack
    mark = s.mark()
    rid, _ = await stack.request_via_modal("UCAROL", "folder", ["alpha"], "audit prep")
    mine = await stack.posted_to("UCAROL", rid, since=mark)
    assert "gf_fav_add" in buttons(mine)

    mark = s.mark()
    await stack.click("UCAROL", "gf_fav_add", rid, message=mine)
    await s.wait("chat.postEphemeral", lambda c: "favorites" in c.text(), since=mark)
    home = await s.wait(
        "views.publish", lambda c: c.args.get("user_id") == "UCAROL" and "gf_fav_use" in c.action_ids(), since=mark
    )
    assert "My Sessions" in home.text()

    mark = s.mark()
    await stack.command("UCAROL", "favorites")
    listed = await s.wait("response_url", since=mark)
    fav_id = next(
        e["value"]
        for b in listed.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "gf_fav_use"
    )
    await stack.click("UCAROL", "gf_fav_use", fav_id)
    fav_view = await stack.opened(mark)
    _, answer = await stack.submit("UCAROL", fav_view, {"justification": "audit, day two"})
    fav_rid = answer["view"]["blocks"][0]["text"]["text"].split("`")[1]
    v = await stack.wait_status(fav_rid, "PENDING_APPROVAL")
    assert v.grants[0].resource == "alpha" and v.justification == "audit, day two"

    mark = s.mark()
    await stack.command("UDAN", "bundle")
    bundle_view = await stack.opened(mark)
    checks = next(b for b in bundle_view["blocks"] if b["block_id"].startswith("bundle_resources|"))
    assert [o["value"] for o in checks["element"]["initial_options"]] == ["alpha", "beta"], "all selected by default"
    _, answer = await stack.submit("UDAN", bundle_view, {"justification": "on call"})
    b_rid = answer["view"]["blocks"][0]["text"]["text"].split("`")[1]
    v = await stack.wait_status(b_rid, "PENDING_APPROVAL")
    assert v.bundle == "pair" and len(v.grants) == 2
    await stack.posted_to("UBOB", b_rid, since=mark)

    mark = s.mark()
    status, _ = await stack.event({"type": "app_home_opened", "user": "UBOB", "channel": "DBOB", "tab": "home"})
    assert status == 200
    home = await s.wait("views.publish", lambda c: c.args.get("user_id") == "UBOB", since=mark)
    assert "Pending my approval" in home.text() and b_rid in home.text() and "gf_new" in home.action_ids()

    mark = s.mark()
    await stack.command("UCAROL", "my requests")
    listing = await s.wait("response_url", since=mark)
    assert rid in listing.text() and fav_rid in listing.text()
    assert listing.args.get("response_type") == "ephemeral"


async def test_bad_input(stack: Stack) -> None:
    s = stack.slack
    mark = s.mark()
    status, _ = await stack.command("UALICE", "", secret="forged-secret")
    assert status == 401
    status, _ = await stack.command("UALICE", "", timestamp=int(time.time()) - 6 * 60)
    assert status == 401
    # A barrier instead of a sleep: a genuine request sent after them is answered, and it is all that was.
    status, _ = await stack.command("UALICE", "barrier-after-forged")
    assert status == 200
    answer = await s.wait("response_url", lambda c: "barrier-after-forged" in c.text(), since=mark)
    assert s.since(mark) == [answer], "a forged or stale request starts nothing"

    mark = s.mark()
    await stack.command("UALICE", "")
    view = await stack.opened(mark)
    await stack.choose("UALICE", view, "req_resource_type", "resource_type", "folder")
    form = await stack.opened(mark, "views.update")
    values = {"resources": ["beta"], "permission": "read", "justification": "twice", "duration": "86400"}
    status, answer = await stack.submit("UALICE", form, values)
    assert answer["response_action"] == "errors" and "maximum" in answer["errors"]["duration"]
    values["duration"] = "3600"
    _, first = await stack.submit("UALICE", form, values)
    _, second = await stack.submit("UALICE", form, values)
    assert first == second
    rid = first["view"]["blocks"][0]["text"]["text"].split("`")[1]
    await stack.wait_status(rid, "PENDING_APPROVAL")
    await asyncio.sleep(0.5)
    mine = [v for v in await stack.client.list_requests(person="alice@example.com") if v.justification == "twice"]
    assert [v.request_id for v in mine] == [rid], "one workflow for a view submitted twice"

    mark = s.mark()
    status, _ = await stack.click("UALICE", "gf_does_not_exist", rid)
    assert status == 200
    await s.wait(
        "chat.postMessage", lambda c: c.args.get("channel") == "UALICE" and "not one I know" in c.text(), since=mark
    )

    mark = s.mark()
    status, _ = await stack.command("UNOMAIL", "")
    assert status == 200
    told = await s.wait("response_url", since=mark)
    assert "no email" in told.text()
    assert not s.since(mark, "views.open")

    status, text = await stack.command("UALICE", "help")
    assert status == 200 and "/access bundle" in text
    mark = s.mark()
    await stack.command("UALICE", "frobnicate")
    assert "frobnicate" in (await s.wait("response_url", since=mark)).text()
    await stack.client.revoke(rid, "alice@example.com")


async def test_retried_notify_posts_nothing_twice(stack: Stack) -> None:
    s = stack.slack
    mark = s.mark()
    rid, _ = await stack.request_via_modal("UALICE", "folder", ["alpha"], "retry check")
    await stack.posted_to("UCAROL", rid, since=mark)
    v = await stack.client.status(rid)
    events = [e for e in await stack.client.audit(request_id=rid)]
    batch = [
        Transition(kind="submitted", status=v, events=events[:1]),
        Transition(kind="failed", status=v, events=events),
    ]
    await stack.notifier.notify(batch)
    before = len(s.of("chat.postMessage"))
    await stack.notifier.notify(batch)
    assert len(s.of("chat.postMessage")) == before, "the same batch again only edits"
    await stack.client.revoke(rid, "alice@example.com")


async def test_request_on_behalf_of_someone_the_flow_does_not_allow(stack: Stack) -> None:
    """"Request on behalf of" someone who is neither a requestor nor a grantee of the flow: the error is inline on
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
