"""What every listener shares (slack_app/listeners/common.py): bad input of any kind gets a sentence, never a 500."""

from __future__ import annotations

import asyncio
import time

from tests.slack_app.conftest import Stack


async def test_bad_input(stack: Stack) -> None:
    s = stack.slack
    # bolt asks Slack who it is (auth.test) on the app's first request: let that happen before counting calls
    # (in test_journeys.py, where this test came from, earlier tests of the module had done it).
    status, _ = await stack.command("UALICE", "help")
    assert status == 200
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
