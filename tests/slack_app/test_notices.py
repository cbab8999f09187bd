"""What SlackNotifier posts for the notices that need nobody to click: approval reminders, the approval
time-out, the expiry reminder, and reconciliation announcements. Driven at `notify`/`announce` with
transitions built from a real request's StatusView, against the fake Web API."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from activities.notifiers.base import FanOutNotifier
from activities.notifiers.slack import SlackNotifier
from grantflow.domain.models import AccessStatus, AuditEvent, StatusView, Transition
from slack_app.refs import refs_for
from tests.slack_app.conftest import Stack
from tests.slack_app.fake_slack import Call
from tests.workflows.conftest import RecordingNotifier


def event(v: StatusView, action: str) -> AuditEvent:
    """A fresh audit event: the notifier keys its thread replies by the event, as the workflow's are unique."""
    return AuditEvent(
        key=f"{v.request_id}:{action}:{uuid.uuid4().hex[:6]}",
        request_id=v.request_id,
        at=datetime.now(UTC),
        actor="grantflow",
        action=action,
        outcome="info",
    )


async def pending_request(stack: Stack, resource: str) -> tuple[StatusView, dict[str, Call]]:
    """A real request waiting for approval, and the messages the worker posted about it (by Slack user)."""
    mark = stack.slack.mark()
    spec = stack.client.build_spec(
        requester="alice@example.com",
        integration="files",
        resource_type="folder",
        resources=[resource],
        permission="read",
        duration="1h",
        justification="notice test",
        source="slack",
    )
    sub = await stack.client.submit(spec)
    v = await stack.wait_status(sub.request_id, "PENDING_APPROVAL")
    posts = {u: await stack.posted_to(u, v.request_id, since=mark) for u in ("UALICE", "UBOB", "UCAROL")}
    want = {"owner:alice@example.com", "approver:bob@example.com", "approver:carol@example.com"}
    for _ in range(100):
        # The worker saves each reference right after Slack answers; wait until all are there.
        if want <= set(await asyncio.to_thread(refs_for, stack.client.store, v.request_id)):
            break
        await asyncio.sleep(0.05)
    # Read the status again: right after the start it may predate the policy decision (no approvers yet).
    return await stack.client.status(v.request_id), posts


def thread_posts(stack: Stack, mark: int) -> list[Call]:
    return [c for c in stack.slack.since(mark, "chat.postMessage") if c.args.get("thread_ts")]


async def test_approval_reminder_then_time_out(stack: Stack) -> None:
    s = stack.slack
    v, posts = await pending_request(stack, "alpha")
    notifier: SlackNotifier = stack.notifier

    mark = s.mark()
    reminder = [Transition(kind="approval_reminder", status=v, events=[event(v, "approval_reminder")])]
    await notifier.notify(reminder)
    replies = thread_posts(stack, mark)
    assert sorted((c.args["channel"], c.args["thread_ts"]) for c in replies) == sorted(
        (posts[u].response["channel"], posts[u].response["ts"]) for u in ("UBOB", "UCAROL")
    ), "one reminder under each approver's message, none to the requester"
    assert all("still waiting for approval" in c.text() and c.args.get("reply_broadcast") for c in replies)
    assert len(s.since(mark, "chat.postMessage")) == 2, "no new top-level message"
    for u in ("UBOB", "UCAROL"):
        copy = await stack.updated(posts[u], lambda c: True, since=mark)
        assert copy.action_ids()[:2] == ["gf_approve", "gf_reject"], "still actionable"

    mark = s.mark()
    await notifier.notify(reminder)
    assert not s.since(mark, "chat.postMessage"), "a retried batch posts nothing again"
    await notifier.notify([Transition(kind="approval_reminder", status=v, events=[event(v, "approval_reminder")])])
    assert len(thread_posts(stack, mark)) == 2, "the next day's reminder is a new one"

    timed_out = v.model_copy(
        update={
            "status": AccessStatus.FAILED,
            "status_reason": "approval timed out",
            "ended_at": datetime.now(UTC),
        }
    )
    batch = [Transition(kind="approval_timeout", status=timed_out, events=[event(v, "approval_timeout")])]
    mark = s.mark()
    await notifier.notify(batch)
    notes = s.since(mark, "chat.postMessage")
    assert len(notes) == 1, [c.args for c in notes]
    assert notes[0].args["thread_ts"] == posts["UALICE"].response["ts"]
    assert notes[0].args["channel"] == posts["UALICE"].response["channel"]
    assert "Nobody approved your request in time (approval timed out)" in notes[0].text()
    mine = await stack.updated(posts["UALICE"], lambda c: "Failed" in c.text(), since=mark)
    assert mine.action_ids()[0] == "gf_again" and "gf_revoke" not in mine.action_ids()
    for u in ("UBOB", "UCAROL"):
        copy = await stack.updated(posts[u], lambda c: "approval timed out" in c.text(), since=mark)
        assert not copy.action_ids(), "approvers can no longer act"
    homes = {c.args["user_id"] for c in s.since(mark, "views.publish")}
    assert homes == {"UALICE", "UBOB", "UCAROL"}

    mark = s.mark()
    await notifier.notify(batch)
    assert not s.since(mark, "chat.postMessage"), "a retried batch posts nothing again"
    await stack.client.revoke(v.request_id, "alice@example.com")


async def test_expiry_reminder(stack: Stack) -> None:
    s = stack.slack
    v, posts = await pending_request(stack, "beta")
    mine = posts["UALICE"]
    await stack.client.approve(v.request_id, "bob@example.com")
    active = await stack.wait_status(v.request_id, "ACTIVE")
    # The flow's notify_before (3h) exceeds the grant (1h): the workflow reminds at once, through the worker.
    real = await s.wait(
        "chat.postMessage", lambda c: c.args.get("thread_ts") == mine.response["ts"] and "Extend it" in c.text()
    )
    assert real.args.get("reply_broadcast")
    active = await stack.client.status(v.request_id)
    assert active.extension_offered

    mark = s.mark()
    batch = [Transition(kind="expiry_reminder", status=active, events=[event(active, "expiry_reminder")])]
    await stack.notifier.notify(batch)
    notes = s.since(mark, "chat.postMessage")
    assert [(c.args["channel"], c.args["thread_ts"]) for c in notes] == [
        (mine.response["channel"], mine.response["ts"])
    ], "only the grantee (here also the requester) is reminded"
    assert active.expires_at is not None
    assert f"<!date^{int(active.expires_at.timestamp())}^" in notes[0].text(), "the end, in the reader's timezone"
    updated = await stack.updated(mine, lambda c: "gf_extend" in c.action_ids(), since=mark)
    assert "gf_revoke" in updated.action_ids()
    mark = s.mark()
    await stack.notifier.notify(batch)
    assert not s.since(mark, "chat.postMessage")
    await stack.client.revoke(v.request_id, "alice@example.com")


async def test_failed_extension_is_told_to_the_owner(stack: Stack) -> None:
    s = stack.slack
    v, posts = await pending_request(stack, "gamma")
    mine = posts["UALICE"]
    await stack.client.approve(v.request_id, "bob@example.com")
    await stack.wait_status(v.request_id, "ACTIVE")
    active = await stack.client.status(v.request_id)
    assert active.expires_at is not None
    failed = active.model_copy(
        update={
            "status_reason": "extension failed: files/folder:gamma (read): the target refuses to extend; "
            f"access still ends at {active.expires_at:%Y-%m-%d %H:%M} UTC",
            "extension_offered": True,
        }
    )
    mark = s.mark()
    batch = [Transition(kind="extend_failed", status=failed, events=[event(failed, "extend_failed")])]
    await stack.notifier.notify(batch)
    # Only the posts about the failed extension: the worker's own publishes for this request (its ACTIVE
    # transition, an expiry reminder) are activities now and may land in the thread after the mark.
    notes = [c for c in thread_posts(stack, mark) if "could not be extended" in c.text()]
    assert [(c.args["channel"], c.args["thread_ts"]) for c in notes] == [
        (mine.response["channel"], mine.response["ts"])
    ], "the person is told in the thread of their request"
    assert f"<!date^{int(active.expires_at.timestamp())}^" in notes[0].text(), "the end that still holds"
    assert "the target refuses to extend" in notes[0].text()
    updated = await stack.updated(mine, lambda c: "extension failed" in c.text(), since=mark)
    assert "gf_extend" in updated.action_ids(), "the extension can be asked for again"
    mark = s.mark()
    await stack.notifier.notify(batch)
    assert not s.since(mark, "chat.postMessage"), "a retried batch posts nothing again"
    await stack.client.revoke(v.request_id, "alice@example.com")


async def test_announce_to_the_admin_channel(stack: Stack) -> None:
    s = stack.slack
    mark = s.mark()
    text = "reconcile: 1 orphan grant removed\nfiles: gf_alice_x <orphan> & revoked"
    await stack.notifier.announce("#grantflow-admins", text)
    [post] = s.since(mark, "chat.postMessage")
    assert post.args["channel"] == "#grantflow-admins" and post.args["text"] == text
    assert "&lt;orphan&gt; &amp; revoked" in post.text(), "no accidental markup"

    mark = s.mark()
    await stack.notifier.announce(None, "drift found")
    assert not s.since(mark), "no admin_channel in the config: only the log has it"

    mark = s.mark()
    s.fail("chat.postMessage", status=404, error="channel_not_found")
    await stack.notifier.announce("#deleted", "drift found")
    assert [c.status for c in s.calls[mark:] if c.method == "chat.postMessage"] == [404], "logged, not raised"

    mark = s.mark()
    fan = FanOutNotifier([RecordingNotifier(), stack.notifier])
    await fan.announce("#grantflow-admins", "via fan-out")
    assert [c.args["text"] for c in s.since(mark, "chat.postMessage")] == ["via fan-out"]


async def test_fan_out_announce_tries_everyone_then_raises() -> None:
    told: list[str] = []

    class Announcer(RecordingNotifier):
        async def announce(self, channel: str | None, text: str) -> None:
            told.append(f"{channel}:{text}")

    class Broken(RecordingNotifier):
        async def announce(self, channel: str | None, text: str) -> None:
            raise RuntimeError("down")

    fan = FanOutNotifier([Broken(), RecordingNotifier(), Announcer()])
    try:
        await fan.announce("#c", "t")
    except RuntimeError as exc:
        assert str(exc) == "down"
    else:
        raise AssertionError("the failure was swallowed")
    assert told == ["#c:t"], "the others were still told"
    await FanOutNotifier([RecordingNotifier()]).announce(None, "only logged")


async def test_break_glass_approval_is_announced_to_the_approvers(stack: Stack) -> None:
    s = stack.slack
    v, posts = await pending_request(stack, "beta")
    notifier: SlackNotifier = stack.notifier
    glass = AuditEvent(
        key=f"{v.request_id}:bg:{uuid.uuid4().hex[:6]}",
        request_id=v.request_id,
        at=datetime.now(UTC),
        actor="ops@example.com",
        action="approve",
        reason="prod is down",
        detail={"break_glass": True},
    )
    batch = [Transition(kind="granting", status=v.model_copy(update={"status": AccessStatus.GRANTING}), events=[glass])]
    mark = s.mark()
    await notifier.notify(batch)
    replies = [c for c in thread_posts(stack, mark) if "Break-glass" in c.text()]
    assert sorted(c.args["thread_ts"] for c in replies) == sorted(posts[u].response["ts"] for u in ("UBOB", "UCAROL"))
    assert all("ops@example.com" in c.text() and "prod is down" in c.text() for c in replies)
    mark = s.mark()
    await notifier.notify(batch)  # a retried batch announces nothing twice
    assert not [c for c in thread_posts(stack, mark) if "Break-glass" in c.text()]


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
