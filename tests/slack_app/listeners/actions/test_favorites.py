"""Favorites, bundles, the Home tab and my requests (slack_app/listeners/actions/favorites.py, the forms they open)."""

from __future__ import annotations

from tests.slack_app.conftest import Stack
from tests.slack_app.helpers import buttons


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
