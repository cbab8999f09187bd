"""Assist in Slack: `/access assist <text>` and the *Ask Assist* buttons lead to a filled-in request form."""

from __future__ import annotations

import json
from typing import Any

from tests.slack_app.conftest import Stack
from tests.slack_app.fake_slack import Call

SENTENCE = "read the beta folder for 90 minutes to check the Q3 numbers"


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


async def test_ask_assist_from_home_and_from_the_request_form(stack: Stack) -> None:
    s = stack.slack
    mark = s.mark()
    await stack.event({"type": "app_home_opened", "user": "UDAN", "channel": "DDAN", "tab": "home"})
    home = await s.wait("views.publish", lambda c: c.args.get("user_id") == "UDAN", since=mark)
    assert "gf_assist_open" in home.action_ids()

    mark = s.mark()
    await stack.click("UDAN", "gf_assist_open", "home", view={**home.args["view"], "id": "VHOME"})
    ask = await stack.opened(mark)
    assert ask["callback_id"] == "gf_assist"

    status, answer = await stack.submit("UDAN", ask, {"assist_text": "   "})
    assert status == 200 and answer["response_action"] == "errors"
    assert "say what you need" in answer["errors"]["assist_text"]
    _, answer = await stack.submit("UDAN", ask, {"assist_text": "xylophone quartet"})
    assert "Assist found nothing" in answer["errors"]["assist_text"]

    sentence = "the pair bundle, alpha and beta, while on call"
    _, answer = await stack.submit("UDAN", ask, {"assist_text": sentence})
    assert answer["response_action"] == "update" and answer["view"]["callback_id"] == "gf_assist_results"
    results = {**answer["view"], "id": ask["id"], "hash": "h"}
    bundle = next(v for v in picks(results) if json.loads(v).get("b") == "pair")
    mark = s.mark()
    await stack.click("UDAN", "gf_assist_pick", bundle, view=results)
    form = await stack.opened(mark, "views.update")
    assert form["callback_id"] == "gf_bundle"
    assert field(form, "bundle")["initial_option"]["value"] == "pair"
    assert [o["value"] for o in field(form, "bundle_resources")["initial_options"]] == ["alpha", "beta"]
    assert field(form, "justification")["initial_value"] == sentence
    _, answer = await stack.submit("UDAN", form, {})
    v = await stack.wait_status(new_request_id(answer), "PENDING_APPROVAL")
    assert v.bundle == "pair" and v.justification == sentence
    await stack.client.revoke(v.request_id, "dan@example.com")

    # Inside the request form the button swaps the form for the question (a modal cannot open a modal).
    mark = s.mark()
    await stack.command("UCAROL", "request")
    request_form = await stack.opened(mark)
    assert "gf_assist_open" in [(b.get("accessory") or {}).get("action_id") for b in request_form["blocks"]]
    mark = s.mark()
    await stack.click("UCAROL", "gf_assist_open", "modal", view=request_form)
    swapped = await s.wait("views.update", since=mark)
    assert swapped.args["view_id"] == request_form["id"] and swapped.args["view"]["callback_id"] == "gf_assist"
    assert not s.since(mark, "views.open")


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
