"""Slack misbehaving on both sides: its Web API down while requests move, and random payloads at our endpoint.

The whole Slack path is real: the bolt app on HTTP, the facade, a Temporal dev server, the worker with the
real SlackNotifier, and the fake Slack Web API of tests/slack_app over loopback HTTP, here taught to have an
outage (429 with Retry-After, then 500) for a while.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt.request.async_request import AsyncBoltRequest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from grantflow.client import Submitted
from grantflow.domain.models import AccessStatus
from slack_app import ids
from slack_app.server import EVENTS_PATH
from tests.chaos.conftest import eventually
from tests.conftest import DevServer
from tests.slack_app.conftest import USERS, Stack, slack_stack
from tests.slack_app.fake_slack import Call, FakeSlack

# Requests through the outage: a handful under `make test`, GF_CHAOS_N under `make chaos`.
OUTAGE_N = int(os.environ.get("GF_CHAOS_N", "5"))
FUZZ_EXAMPLES = max(150, OUTAGE_N * 15)
DOWN_METHODS = frozenset({"chat.postMessage", "chat.update", "views.publish"})
RATE_LIMITED_SECONDS = 2.0
MIN_OUTAGE_SECONDS = 4.0
REQUESTER, APPROVER, REVOKER = "alice@example.com", "bob@example.com", "ops@example.com"
# Who gets a message of their own about each request (by Slack user id): the requester and both approvers.
RECIPIENTS = ("UALICE", "UBOB", "UCAROL")
# The thread replies under the requester's message: granted, the extension offer (the test flow offers it at
# once), revoked.
NOTES = ("Your access is active", "Your access ends", "Access revoked")


class FlakySlack(FakeSlack):
    """The fake Web API with an outage: the chosen methods answer 429 (Retry-After: 1) for a while, then
    500, until `recover()`. Refused calls are recorded with their status and leave no message behind."""

    def __init__(self, users: dict[str, str | None]):
        super().__init__(users)
        self.down: frozenset[str] = frozenset()
        self.down_since = 0.0
        self.rate_limited_for = 0.0

    def break_down(self, methods: Iterable[str], rate_limited_for: float) -> None:
        self.down = frozenset(methods)
        self.down_since = time.monotonic()
        self.rate_limited_for = rate_limited_for

    def recover(self) -> None:
        self.down = frozenset()

    def refused(self) -> Counter[tuple[str, int]]:
        return Counter((c.method, c.status) for c in self.calls if c.status != 200)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method not in self.down:
            return await super()._api(request)
        args = await self._args(request)
        if time.monotonic() - self.down_since < self.rate_limited_for:
            self.calls.append(Call(method, args, 429))
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"})
        self.calls.append(Call(method, args, 500))
        return web.json_response({"ok": False, "error": "internal_error"}, status=500)


@pytest.fixture(scope="module")
async def flaky(dev_server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The Slack stack of tests/slack_app, on a fake Web API that can have an outage."""
    async for s in slack_stack(dev_server, tmp_path_factory.mktemp("slack-chaos"), FlakySlack(USERS)):
        yield s


# --- 1. the Slack Web API down for a while ----------------------------------------------------------------


def _about(calls: list[Call], request_id: str) -> list[Call]:
    return [c for c in calls if request_id in c.text()]


def _last_words(slack: FakeSlack, post: Call) -> str:
    """What a copy of a message says now: the text of its latest successful edit, else of the post."""
    edits = slack.of("chat.update", ts=post.response["ts"], channel=post.response["channel"])
    return str((edits[-1] if edits else post).args.get("text"))


async def test_slack_outage_delays_notifications_but_loses_and_repeats_none(flaky: Stack) -> None:
    slack = flaky.slack
    assert isinstance(slack, FlakySlack)
    client = flaky.client
    spec = client.build_spec(
        requester=REQUESTER,
        integration="files",
        resource_type="folder",
        resources=["alpha"],
        permission="read",
        duration="1h",
        justification="slack chaos",
        source="chaos",
    )
    mark = slack.mark()
    # Half the requests are announced before the outage, so that their edits and Home tabs meet it; the
    # other half are submitted into it, so that their first messages do.
    before: list[Submitted] = list(await asyncio.gather(*(client.submit(spec) for _ in range(OUTAGE_N // 2))))

    async def announced() -> list[Call]:
        return slack.since(mark, "chat.postMessage")

    await eventually(
        announced, lambda posts: all(len(_about(posts, s.request_id)) >= len(RECIPIENTS) for s in before), timeout=30
    )
    slack.break_down(DOWN_METHODS, RATE_LIMITED_SECONDS)
    try:
        subs = before + list(await asyncio.gather(*(client.submit(spec) for _ in range(OUTAGE_N - len(before)))))
        pending = await asyncio.gather(*(client.wait_for(s.request_id, {AccessStatus.PENDING_APPROVAL}) for s in subs))
        assert {v.status for v in pending} == {AccessStatus.PENDING_APPROVAL}
        await asyncio.gather(*(client.approve(s.request_id, APPROVER) for s in subs))
        await asyncio.gather(*(client.wait_for(s.request_id, {AccessStatus.ACTIVE}) for s in subs))
        await asyncio.gather(*(client.revoke(s.request_id, REVOKER, "slack chaos") for s in subs))
        ended = await asyncio.gather(*(client.wait_for(s.request_id, {AccessStatus.REVOKED}) for s in subs))
        assert {v.status for v in ended} == {AccessStatus.REVOKED}, "Slack being down held up the lifecycle"
        await asyncio.sleep(max(0.0, MIN_OUTAGE_SECONDS - (time.monotonic() - slack.down_since)))
        refused = slack.refused()
        assert refused[("chat.postMessage", 429)] and refused[("chat.postMessage", 500)], refused
        if before:
            assert refused[("chat.update", 500)] or refused[("chat.update", 429)], refused
    finally:
        slack.recover()
    recovered = time.monotonic()

    handles = [client.temporal.get_workflow_handle(s.workflow_id) for s in subs]
    descs = await eventually(
        lambda: asyncio.gather(*(h.describe() for h in handles)),
        lambda ds: all(d.status != WorkflowExecutionStatus.RUNNING for d in ds),
        timeout=60 + OUTAGE_N,
    )
    catch_up = time.monotonic() - recovered
    assert [d.status for d in descs] == [WorkflowExecutionStatus.COMPLETED] * len(subs), [d.status for d in descs]
    for handle in handles:
        bad = [
            e.event_type
            async for e in handle.fetch_history_events()
            if e.event_type
            in (EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED)
        ]
        assert bad == [], (handle.id, bad)
        assert (await handle.query("status"))["status"] == "REVOKED"

    posts = slack.since(mark, "chat.postMessage")
    for sub in subs:
        mine = _about(posts, sub.request_id)
        tops = Counter(str(c.args["channel"]) for c in mine if not c.args.get("thread_ts"))
        assert tops == Counter(RECIPIENTS), f"{sub.request_id}: top-level posts per recipient {dict(tops)}"
        for post in (c for c in mine if not c.args.get("thread_ts")):
            assert _last_words(slack, post).endswith("— REVOKED"), (post.args["channel"], _last_words(slack, post))
        owner = next(c for c in mine if c.args["channel"] == "UALICE" and not c.args.get("thread_ts"))
        notes = [str(c.args["text"]) for c in posts if c.args.get("thread_ts") == owner.response["ts"]]
        kinds = Counter(next((k for k in NOTES if n.startswith(k)), n) for n in notes)
        assert kinds == Counter(NOTES), f"{sub.request_id}: thread notes {notes}"
        actions = Counter((e.action, e.outcome) for e in await client.audit(request_id=sub.request_id))
        for step in ("request", "approve", "grant", "revoke_request", "revoke", "revoked"):
            assert actions[(step, "ok")] == 1, f"{sub.request_id}: audit {dict(actions)}"
        assert not [a for a in actions if a[1] == "failed"], dict(actions)
    homes = {str(c.args["user_id"]) for c in slack.since(mark, "views.publish")}
    assert set(RECIPIENTS) <= homes, f"Home tabs never refreshed after the outage: {homes}"
    print(
        f"\n{OUTAGE_N} requests through a Slack outage; refused calls {dict(slack.refused())}; "
        f"caught up {catch_up:.1f}s after recovery"
    )


# --- 2. random payloads at the endpoint --------------------------------------------------------------------

ACTION_IDS = [
    ids.APPROVE,
    ids.REJECT,
    ids.REVOKE,
    ids.EXTEND,
    ids.DETAILS,
    ids.AGAIN,
    ids.MORE,
    ids.FAV_ADD,
    ids.FAV_USE,
    ids.FAV_REMOVE,
    ids.NEW_REQUEST,
    ids.NEW_BUNDLE,
    ids.ASSIST_OPEN,
    ids.ASSIST_PICK,
    ids.PICK_INTEGRATION,
    ids.PICK_TYPE,
    ids.PICK_BUNDLE,
    ids.PICK_RESOURCES,
    "unknown_button",
]
CALLBACKS = [
    ids.REQUEST_CALLBACK,
    ids.BUNDLE_CALLBACK,
    ids.FAVORITE_CALLBACK,
    ids.REJECT_CALLBACK,
    ids.ASSIST_CALLBACK,
    ids.ASSIST_RESULTS_CALLBACK,
    "unknown_modal",
]
SUBCOMMANDS = [
    "",
    "help",
    "request",
    "bundle",
    "favorites",
    "my requests",
    "assist",
    "assist read the orders db",
    "nonsense",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.text(min_size=3000, max_size=6000),
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
user_ids = st.sampled_from([*USERS, "UNOBODY", ""]) | st.text(max_size=12)


def maybe(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the shape Slack sends, sometimes anything at all (a payload has many fields: a higher rate of
    junk would leave next to no payload that bolt can route to a handler)."""
    return st.one_of(*[plausible] * 5, junk)


def shaped(
    required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """A dict with Slack's keys, each value plausible or junk, any optional key missing."""
    return st.fixed_dictionaries(required, optional={k: maybe(v) for k, v in optional.items()})


metadata = st.one_of(
    st.text(max_size=40),
    st.dictionaries(
        st.sampled_from(["requester", "request_id", "channel", "favorite_id", "text"]), junk, max_size=3
    ).map(json.dumps),
)
state_values = st.dictionaries(
    st.sampled_from(
        [
            "integration",
            "resource_type",
            "resources",
            "permission",
            "duration",
            "justification",
            "on_behalf",
            "bundle",
            "reason",
            "assist_text",
        ]
    )
    | st.text(max_size=10),
    maybe(
        st.dictionaries(
            st.text(max_size=10),
            maybe(
                shaped(
                    {},
                    {
                        "type": st.sampled_from(
                            ["static_select", "multi_static_select", "plain_text_input", "users_select"]
                        ),
                        "value": st.text(max_size=40),
                        "selected_option": shaped({}, {"value": st.text(max_size=20)}),
                        "selected_options": st.lists(shaped({}, {"value": st.text(max_size=20)}), max_size=3),
                        "selected_user": user_ids,
                    },
                )
            ),
            max_size=2,
        )
    ),
    max_size=5,
)
view_shapes = shaped(
    {"callback_id": maybe(st.sampled_from(CALLBACKS))},
    {
        "id": st.text(min_size=1, max_size=12),
        "hash": st.text(max_size=8),
        "type": st.sampled_from(["modal", "home"]),
        "private_metadata": metadata,
        "state": shaped({}, {"values": state_values}),
        "blocks": st.lists(
            shaped(
                {},
                {
                    "type": st.sampled_from(["input", "section", "actions"]),
                    "block_id": st.text(max_size=20),
                    "element": junk,
                },
            ),
            max_size=3,
        ),
    },
)
action_shapes = shaped(
    {"action_id": maybe(st.sampled_from(ACTION_IDS))},
    {
        "value": st.text(max_size=40) | st.uuids().map(str),
        "type": st.sampled_from(["button", "static_select"]),
        "block_id": st.text(max_size=20),
        "action_ts": st.text(max_size=12),
        "selected_option": shaped({}, {"value": st.text(max_size=20)}),
    },
)


def interactive(
    kind: Any, response_url: str, key: dict[str, st.SearchStrategy[Any]], **fields: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """`key`: the fields bolt routes on, always present (though maybe junk); the rest may be missing."""
    return shaped(
        {"type": kind, **{k: maybe(v) for k, v in key.items()}},
        {
            "user": shaped({"id": user_ids}, {"team_id": st.just("T1")}),
            "team": st.just({"id": "T1"}),
            "trigger_id": st.text(max_size=20),
            "response_url": st.just(response_url),
            "channel": shaped({}, {"id": st.text(max_size=12)}),
            "container": junk,
            **fields,
        },
    )


def payload_kinds(response_url: str) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    return {
        "block_actions": interactive(
            st.just("block_actions"),
            response_url,
            {"actions": st.lists(action_shapes, min_size=1, max_size=2)},
            view=view_shapes,
            message=junk,
        ),
        "view_submission": interactive(st.just("view_submission"), response_url, {"view": view_shapes}),
        "view_closed": interactive(st.just("view_closed"), response_url, {"view": view_shapes}),
        "block_suggestion": interactive(
            st.just("block_suggestion"),
            response_url,
            {"action_id": st.sampled_from([ids.PICK_RESOURCES, "other"])},
            view=view_shapes,
            block_id=st.text(max_size=30),
            value=st.text(max_size=60),
        ),
        "shortcut": interactive(
            st.sampled_from(["shortcut", "message_action"]),
            response_url,
            {"callback_id": st.text(max_size=20)},
            message=junk,
        ),
        "unknown": interactive(junk, response_url, {}, actions=junk, view=junk),
    }


def command_form(response_url: str) -> st.SearchStrategy[dict[str, Any]]:
    return shaped(
        {"command": maybe(st.just("/access"))},
        {
            "text": st.sampled_from(SUBCOMMANDS) | st.text(max_size=200) | st.text(min_size=3000, max_size=6000),
            "user_id": user_ids,
            "team_id": st.text(max_size=5),
            "channel_id": st.text(max_size=12),
            "trigger_id": st.text(max_size=20),
            "response_url": st.just(response_url),
        },
    )


def encoded(kind: str, body: Any) -> tuple[str, str]:
    """(body, content type) as Slack would send an example of `kind`; junk values are stringified."""
    if kind == "command":
        return urlencode(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        ), "application/x-www-form-urlencoded"
    if kind == "event":
        return json.dumps(body), "application/json"
    return urlencode({"payload": json.dumps(body)}), "application/x-www-form-urlencoded"


def examples(response_url: str) -> dict[str, st.SearchStrategy[Any]]:
    event = shaped(
        {"type": maybe(st.just("event_callback"))},
        {
            "team_id": st.just("T1"),
            "api_app_id": st.just("A1"),
            "event_id": st.text(max_size=10),
            "challenge": st.text(max_size=10),
            "event": shaped(
                {"type": maybe(st.just("app_home_opened"))},
                {"user": user_ids, "tab": st.sampled_from(["home", "messages"]), "channel": junk},
            ),
        },
    )
    return {**payload_kinds(response_url), "command": command_form(response_url), "event": event}


# (kind, HTTP status) of every fuzzed request, to see that the examples reach the handlers.
SEEN: Counter[tuple[str, int]] = Counter()
KINDS = [
    "block_actions",
    "view_submission",
    "view_closed",
    "block_suggestion",
    "shortcut",
    "unknown",
    "command",
    "event",
]


async def _healthy(stack: Stack) -> None:
    """The server still answers: its health check and a real `/access help`."""
    async with stack.http.get(stack.url.replace(EVENTS_PATH, "/healthz")) as resp:
        assert resp.status == 200 and (await resp.json()) == {"ok": True}
    status, text = await stack.command("UALICE", "help")
    assert status == 200 and "/access" in text, text


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), kind=st.sampled_from(KINDS))
async def test_random_signed_payloads_never_get_a_500(flaky: Stack, data: st.DataObject, kind: str) -> None:
    body = data.draw(examples(flaky.slack.response_url("fuzz"))[kind], label=kind)
    raw, content_type = encoded(kind, body)
    status, text = await flaky.send(raw, content_type)
    assert status < 500, (kind, status, text[:300])
    SEEN[(kind, status)] += 1


def _readable(raw: str, content_type: str) -> bool:
    try:
        AsyncBoltRequest(body=raw, headers={"content-type": [content_type]})
    except Exception:
        return False
    return True


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_forged_signatures_are_refused(flaky: Stack, data: st.DataObject, kind: str) -> None:
    body = data.draw(examples(flaky.slack.response_url("forged"))[kind], label=kind)
    raw, content_type = encoded(kind, body)
    # bolt reads a body before checking its signature; one it cannot read is refused as malformed (400).
    want = 401 if _readable(raw, content_type) else 400
    assert (await flaky.send(raw, content_type, secret="not-the-secret"))[0] == want
    assert (await flaky.send(raw, content_type, timestamp=int(time.time()) - 600))[0] == want


async def test_endpoint_healthy_after_fuzzing(flaky: Stack) -> None:
    await _healthy(flaky)
    print(f"\nstatuses per payload kind: {sorted(SEEN.items())}")
    if SEEN:  # after the fuzzing in this session: it must have reached the handlers, not only bolt's refusals
        handled = sum(n for (_, status), n in SEEN.items() if status == 200)
        assert handled >= sum(SEEN.values()) // 20, SEEN
