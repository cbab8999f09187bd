"""Verified decisions as Slack shows them: a click is proven (the app holds the decision key) and says
"(Slack)"; an approval sent straight through Temporal counts under `decisions: audit` but every copy says
"via the Temporal API — unverified", and it is announced under the approvers' copies and in `admin_channel`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from grantflow.temporal import connect
from tests.conftest import DevServer
from tests.slack_app.conftest import CONFIG, USERS, Stack, slack_stack
from tests.slack_app.fake_slack import FakeSlack

ADMIN_CHANNEL = "#grantflow-admins"


@pytest.fixture()
async def vstack(dev_server: DevServer, tmp_path: Path) -> AsyncIterator[Stack]:
    config = CONFIG.replace(
        "admins: [user:ops@example.com]", f'admins: [user:ops@example.com]\nadmin_channel: "{ADMIN_CHANNEL}"'
    ).replace(
        '    approval_channel: "#db-approvals"\n', '    approval_channel: "#db-approvals"\n    decisions: enforce\n'
    )
    assert "decisions: enforce" in config
    async for s in slack_stack(dev_server, tmp_path, FakeSlack(USERS), config_text=config):
        yield s


async def test_a_click_is_verified_and_a_raw_signal_is_marked_and_announced(vstack: Stack) -> None:
    stack, s = vstack, vstack.slack
    mark = s.mark()
    rid, _ = await stack.request_via_modal("UALICE", "folder", ["alpha"], "verified click")
    to_bob = await stack.posted_to("UBOB", rid, since=mark)
    await stack.click("UBOB", "gf_approve", rid, message=to_bob)
    view = await stack.wait_status(rid, "GRANTING", "ACTIVE")
    assert [(a.via, a.verified) for a in view.approvals] == [("slack", True)]
    assert (view.submitted_via, view.submission_verified) == ("slack", True)
    decided = await stack.updated(to_bob, lambda c: "Approved by" in c.text(), since=mark)
    assert "(Slack)" in decided.text() and "unverified" not in decided.text()

    mark = s.mark()
    rid, _ = await stack.request_via_modal("UALICE", "folder", ["beta"], "raw signal")
    to_bob = await stack.posted_to("UBOB", rid, since=mark)
    to_alice = await stack.posted_to("UALICE", rid, since=mark)
    temporal = await connect(stack.settings)
    await temporal.get_workflow_handle(f"access-request-{rid}").signal("approve", {"approver": "bob@example.com"})
    view = await stack.wait_status(rid, "GRANTING", "ACTIVE")
    assert [(a.via, a.verified) for a in view.approvals] == [("temporal", False)]
    for copy in (to_bob, to_alice):
        shown = await stack.updated(copy, lambda c: "Approved as" in c.text(), since=mark)
        assert "via the Temporal API — unverified" in shown.text()
    thread = await s.wait(
        "chat.postMessage",
        lambda c: c.args.get("thread_ts") == to_bob.response["ts"] and "Unverified decision" in c.text(),
        since=mark,
    )
    assert "approved as bob@example.com via the Temporal API" in thread.text()
    admin = await s.wait(
        "chat.postMessage",
        lambda c: not c.args.get("thread_ts") and "Unverified decision" in c.text() and rid in c.text(),
        since=mark,
    )
    assert admin.args["channel"] == ADMIN_CHANNEL


async def test_a_raw_signal_refused_under_enforce_is_announced(vstack: Stack) -> None:
    stack, s = vstack, vstack.slack
    mark = s.mark()
    rid, _ = await stack.request_via_modal("UALICE", "box", ["box-01"], "enforced flow")
    await stack.wait_status(rid, "PENDING_APPROVAL")
    temporal = await connect(stack.settings)
    await temporal.get_workflow_handle(f"access-request-{rid}").signal("approve", {"approver": "bob@example.com"})
    thread = await s.wait(
        "chat.postMessage", lambda c: bool(c.args.get("thread_ts")) and f"Refused on {rid}" in c.text(), since=mark
    )
    assert "as bob@example.com that no front door proved" in thread.text()
    assert "unverified approve refused" in thread.text()
    admin = await s.wait(
        "chat.postMessage",
        lambda c: not c.args.get("thread_ts") and f"Refused on {rid}" in c.text(),
        since=mark,
    )
    assert admin.args["channel"] == ADMIN_CHANNEL
    view = await stack.wait_status(rid, "PENDING_APPROVAL")
    assert view.approvals == []
