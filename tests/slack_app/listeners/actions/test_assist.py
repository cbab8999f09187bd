"""Ask Assist and Choose (slack_app/listeners/actions/assist.py) lead to a filled-in request form."""

from __future__ import annotations

import json

from tests.slack_app.conftest import Stack
from tests.slack_app.helpers import field, new_request_id, picks


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
