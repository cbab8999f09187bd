"""Slack identities are fresh: deactivated users and guests can neither request nor decide, and what users.info
said is trusted only for GRANTFLOW_SLACK_IDENTITY_TTL. Signed requests against the app, the fake Slack Web API
changing a person's record mid-test, a real Temporal dev server and worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from grantflow.domain.models import AccessStatus
from tests.conftest import DevServer
from tests.slack_app.conftest import CONFIG, Stack, slack_stack
from tests.slack_app.fake_slack import Call, FakeSlack

TTL_SECONDS = 2
USERS: dict[str, Any] = {
    "UALICE": "alice@example.com",
    "UDAN": "dan@example.com",
    "UBOB": "bob@example.com",
    # carol approves (group:approvers) and is a guest; erin is a requestor whose account is deactivated.
    "UCAROL": {"email": "carol@example.com", "is_restricted": True},
    "UERIN": {"email": "erin@example.com", "deleted": True},
    "UGUEST": {"email": "guest@example.com", "is_ultra_restricted": True},
}
MODULE_CONFIG = CONFIG.replace(
    "engineering: [alice@example.com, carol@example.com, dan@example.com]",
    "engineering: [alice@example.com, carol@example.com, dan@example.com, erin@example.com, guest@example.com]",
)
DEACTIVATED = "Your Slack account is deactivated"
GUEST = "Guests of this Slack workspace cannot request or decide access"


@pytest.fixture(scope="module")
async def stack(dev_server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("slack-identity")
    async for s in slack_stack(
        dev_server, tmp, FakeSlack(USERS), MODULE_CONFIG, GRANTFLOW_SLACK_IDENTITY_TTL=TTL_SECONDS
    ):
        yield s


async def told(stack: Stack, user: str, words: str, since: int, timeout: float = 20) -> Call:
    """What the app told `user` (ephemeral, DM or a slash command's response) containing `words`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for c in stack.slack.since(since):
            to_user = c.method == "response_url" or c.args.get("user") == user or c.args.get("channel") == user
            if to_user and words in c.text():
                return c
        if loop.time() > deadline:
            raise AssertionError(f"{user} was not told {words!r}: {[c.method for c in stack.slack.since(since)]}")
        await asyncio.sleep(0.05)


async def pending_request(stack: Stack, justification: str) -> tuple[str, Call]:
    """A request by alice for the alpha folder, and the approval message bob got."""
    mark = stack.slack.mark()
    rid, _ = await stack.request_via_modal("UALICE", "folder", ["alpha"], justification)
    return rid, await stack.posted_to("UBOB", rid, since=mark)


async def test_deactivated_and_guest_users_cannot_request(stack: Stack) -> None:
    s = stack.slack
    for user, words in (("UERIN", DEACTIVATED), ("UGUEST", GUEST), ("UCAROL", GUEST)):
        for text in ("", "bundle", "my requests"):
            mark = s.mark()
            status, _ = await stack.command(user, text)
            assert status == 200
            await told(stack, user, words, mark)
            assert not s.since(mark, "views.open"), (user, text)

    # A request modal submitted by a barred user (opened before, or forged with a valid signature): refused
    # inline, nothing started.
    mark = s.mark()
    await stack.command("UALICE", "")
    view = await stack.opened(mark)
    await stack.choose("UALICE", view, "req_resource_type", "resource_type", "folder")
    form = await stack.opened(mark, "views.update")
    values = {"resources": ["beta"], "permission": "read", "justification": "barred"}
    for user, words in (("UERIN", DEACTIVATED), ("UGUEST", GUEST)):
        status, answer = await stack.submit(user, form, values)
        assert status == 200 and answer["response_action"] == "errors", answer
        assert any(words in e for e in answer["errors"].values()), answer
    for email in ("erin@example.com", "guest@example.com"):
        assert await stack.client.list_requests(person=email) == []

    # Nor can anyone ask on their behalf.
    for user, words in (("UERIN", "deactivated"), ("UGUEST", "is a guest")):
        status, answer = await stack.submit("UALICE", form, {**values, "on_behalf": user})
        assert answer["response_action"] == "errors", answer
        [(block, message)] = answer["errors"].items()
        assert block.startswith("on_behalf") and words in message, answer


async def test_a_guest_approver_cannot_decide(stack: Stack) -> None:
    s = stack.slack
    rid, to_bob = await pending_request(stack, "guest approver")
    to_carol = await stack.posted_to("UCAROL", rid)
    for action in ("gf_approve", "gf_reject", "gf_revoke"):
        mark = s.mark()
        status, _ = await stack.click("UCAROL", action, rid, message=to_carol)
        assert status == 200
        await told(stack, "UCAROL", GUEST, mark)
        assert not s.since(mark, "views.open"), "no reject modal for a guest"
    v = await stack.client.status(rid)
    assert v.status == AccessStatus.PENDING_APPROVAL and not v.approvals

    # The reject modal submitted by a guest (opened by someone else, or forged): refused inline.
    mark = s.mark()
    await stack.click("UBOB", "gf_reject", rid, message=to_bob)
    reject_view = await stack.opened(mark)
    status, answer = await stack.submit("UCAROL", reject_view, {"reason": "no"})
    assert answer["response_action"] == "errors" and GUEST in answer["errors"]["reason"], answer
    assert (await stack.client.status(rid)).status == AccessStatus.PENDING_APPROVAL

    await stack.click("UBOB", "gf_approve", rid, message=to_bob)
    await stack.wait_status(rid, "ACTIVE")
    await stack.client.revoke(rid, "alice@example.com")


async def test_deactivation_is_seen_once_the_ttl_expires(stack: Stack) -> None:
    """Alice acts (so Slack's answer is cached), is deactivated in Slack, and once the TTL has passed is refused
    everywhere: extending, revoking, requesting."""
    s = stack.slack
    rid, to_bob = await pending_request(stack, "before deactivation")
    mine = await stack.posted_to("UALICE", rid)
    await stack.click("UBOB", "gf_approve", rid, message=to_bob)
    await stack.wait_status(rid, "ACTIVE")

    s.set_user("UALICE", "alice@example.com", deleted=True)
    deactivated_at = asyncio.get_running_loop().time()
    mark = s.mark()
    while True:  # a harmless probe until the cached answer is older than the TTL and alice is looked up again
        await stack.command("UALICE", "my requests")
        try:
            await told(stack, "UALICE", DEACTIVATED, mark, timeout=0.5)
            break
        except AssertionError:
            assert asyncio.get_running_loop().time() - deactivated_at < TTL_SECONDS + 20, "the cache never expired"
    extensions = (await stack.client.status(rid)).extensions_used

    for action in ("gf_revoke", "gf_extend"):
        mark = s.mark()
        await stack.click("UALICE", action, rid, message=mine)
        await told(stack, "UALICE", DEACTIVATED, mark)
    mark = s.mark()
    await stack.command("UALICE", "")
    await told(stack, "UALICE", DEACTIVATED, mark)
    v = await stack.client.status(rid)
    assert v.status == AccessStatus.ACTIVE and v.extensions_used == extensions

    # Reactivated: known again once the TTL has passed.
    s.set_user("UALICE", "alice@example.com")
    await asyncio.sleep(TTL_SECONDS)
    mark = s.mark()
    await stack.click("UALICE", "gf_revoke", rid, message=mine)
    await stack.wait_status(rid, "REVOKED")


async def test_guests_may_act_when_the_config_allows_them(stack: Stack) -> None:
    config_file = stack.settings.config_file
    assert config_file is not None
    with open(config_file, "a", encoding="utf-8") as f:
        f.write("slack: {allow_guests: true}\n")
    try:
        rid, _ = await pending_request(stack, "guests allowed")
        to_carol = await stack.posted_to("UCAROL", rid)
        await stack.click("UCAROL", "gf_approve", rid, message=to_carol)
        v = await stack.wait_status(rid, "ACTIVE")
        assert v.approvals[0].approver == "carol@example.com"
        mark = stack.slack.mark()
        await stack.command("UGUEST", "")
        await stack.opened(mark)  # the request modal opens for a guest now
        mark = stack.slack.mark()
        await stack.command("UERIN", "")
        await told(stack, "UERIN", DEACTIVATED, mark)  # deactivated is never allowed
        await stack.client.revoke(rid, "alice@example.com")
    finally:
        with open(config_file, "w", encoding="utf-8") as f:
            f.write(MODULE_CONFIG)


def test_the_identity_ttl_setting() -> None:
    from pydantic import ValidationError

    from grantflow.settings import Settings

    assert Settings().slack_identity_ttl == 600
    assert Settings(GRANTFLOW_SLACK_IDENTITY_TTL="90").slack_identity_ttl == 90  # type: ignore[call-arg]
    assert Settings(GRANTFLOW_SLACK_IDENTITY_TTL="2m").slack_identity_ttl == 120  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Settings(GRANTFLOW_SLACK_IDENTITY_TTL="soon")  # type: ignore[call-arg]
