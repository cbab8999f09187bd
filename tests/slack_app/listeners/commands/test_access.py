"""`/access assist <text>` (slack_app/listeners/commands/access.py)."""

from __future__ import annotations

import json

from tests.slack_app.conftest import Stack
from tests.slack_app.helpers import SENTENCE, ephemeral, field, new_request_id, picks


async def test_assist_command_opens_a_prefilled_request(stack: Stack) -> None:
    s = stack.slack
    mark = s.mark()
    status, _ = await stack.command("UALICE", f"assist {SENTENCE}")
    assert status == 200
    results = await stack.opened(mark)
    assert results["callback_id"] == "gf_assist_results"
    assert json.loads(results["private_metadata"]) == {"text": SENTENCE}
    values = picks(results)
    assert values and json.loads(values[0]) == {"i": "files", "t": "folder", "r": ["beta"], "p": "read", "d": 5400}

    mark = s.mark()
    await stack.click("UALICE", "gf_assist_pick", values[0], view=results)
    form = await stack.opened(mark, "views.update")
    assert form["id"] == results["id"], "the suggestions give way to the form in the same modal"
    assert form["callback_id"] == "gf_request"
    assert field(form, "integration")["initial_option"]["value"] == "files"
    assert field(form, "resource_type")["initial_option"]["value"] == "folder"
    assert [o["value"] for o in field(form, "resources")["initial_options"]] == ["beta"]
    assert field(form, "permission")["initial_option"]["value"] == "read"
    assert field(form, "duration")["initial_option"] == {
        "text": {"type": "plain_text", "text": "1h30m", "emoji": True},
        "value": "5400",
    }
    assert field(form, "justification")["initial_value"] == SENTENCE

    _, answer = await stack.submit("UALICE", form, {})
    rid = new_request_id(answer)
    v = await stack.wait_status(rid, "PENDING_APPROVAL")
    assert [(g.resource, g.permission) for g in v.grants] == [("beta", "read")]
    assert v.duration_seconds == 5400 and v.justification == SENTENCE
    await stack.client.revoke(rid, "alice@example.com")


async def test_assist_bad_input_gets_a_polite_ephemeral(stack: Stack) -> None:
    told = await ephemeral(stack, "UALICE", "assist")
    assert "say what you need" in told.text()
    told = await ephemeral(stack, "UALICE", "assist " + "x" * 10_240)
    assert "at most 2000" in told.text() and "10240" in told.text()
    told = await ephemeral(stack, "UMALLORY", "assist read the alpha folder")
    assert "not a requestor in any access flow" in told.text()
    told = await ephemeral(stack, "UALICE", "assist xylophone quartet")
    assert "Assist found nothing" in told.text()
    told = await ephemeral(stack, "UNOMAIL", "assist read the alpha folder")
    assert "no email" in told.text()

    mark = stack.slack.mark()
    forged = {"id": "VFORGED", "type": "modal", "private_metadata": "{}", "blocks": []}
    status, _ = await stack.click("UALICE", "gf_assist_pick", '{"i": "files"}', view=forged)
    assert status == 200
    note = await stack.slack.wait("chat.postMessage", lambda c: c.args.get("channel") == "UALICE", since=mark)
    assert "ask Assist again" in note.text()
    assert not stack.slack.since(mark, "views.update")
