"""The whole Slack path for real: signed HTTP requests → bolt app → GrantflowClient → Temporal dev server →
worker → SlackNotifier → the fake Slack Web API, which records what people would see."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from activities.notifiers.slack import SlackNotifier
from grantflow.client import GrantflowClient, NotFound
from grantflow.domain.config import ConfigSource
from grantflow.domain.models import StatusView
from grantflow.domain.proofs import Signer
from grantflow.settings import Settings
from grantflow.storage.store import Store
from grantflow.temporal import connect
from slack_app.app import build_app
from slack_app.refs import ensure_tables
from slack_app.server import EVENTS_PATH, web_app
from slack_app.web import make_web_client
from tests.conftest import TEST_DECISION_KEYS, DevServer, free_port
from tests.slack_app.fake_slack import Call, FakeSlack

SECRET = "test-signing-secret"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
USERS: dict[str, str | None] = {
    "UALICE": "alice@example.com",
    "UBOB": "bob@example.com",
    "UCAROL": "carol@example.com",
    "UDAN": "dan@example.com",
    "UMALLORY": "mallory@example.com",
    "UOPS": "ops@example.com",
    "UNOMAIL": None,
}
SCRIPT = ["python3", "scripts/files.py"]
ARGS = '"{grantee}", "{resource}", "{permission}", "{request_id}", "{expires_at}"'
BOXES = ", ".join(f"box-{i:02d}" for i in range(60))

CONFIG = f"""
admins: [user:ops@example.com]
groups:
  engineering: [alice@example.com, carol@example.com, dan@example.com]
  approvers: [bob@example.com, carol@example.com]
integrations:
  - id: files
    type: script
    name: Test folders
    workdir: {FIXTURES}
    resource_types:
      - id: folder
        resources: [alpha, beta, gamma]
        permissions: [read, write]
      - id: box
        resources: [{BOXES}]
        permissions: [read]
    grant:  [python3, scripts/files.py, grant, {ARGS}]
    extend: [python3, scripts/files.py, extend, {ARGS}]
    revoke: [python3, scripts/files.py, revoke, {ARGS}]
    timeout: 20s
bundles:
  - id: pair
    name: Alpha and beta
    items:
      - {{integration: files, resource_type: folder, resource: alpha, permission: read}}
      - {{integration: files, resource_type: folder, resource: beta, permission: read}}
access_flows:
  - id: read-folders
    name: Read folders
    requestors: [group:engineering]
    grants:
      - {{integration: files, resource_types: [folder], resources: ["*"], permissions: [read]}}
      - {{bundle: pair}}
    approvers: [group:approvers]
    approvals_required: 1
    max_duration: 8h
    default_duration: 1h
    justification_required: true
    # notify_before longer than the grant: the extension offer comes at once, so tests need not wait.
    extension: {{enabled: true, max_extensions: 2, duration: 1h, notify_before: 3h}}
  - id: boxes
    name: Boxes (channel approval)
    requestors: [group:engineering]
    grants:
      - {{integration: files, resource_types: [box], resources: ["*"], permissions: [read]}}
    approvers: [group:approvers]
    approvals_required: 1
    approval_channel: "#db-approvals"
    max_duration: 4h
    default_duration: 1h
    justification_required: true
"""


def element_state(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """What Slack puts in view.state for an element holding `value`."""
    kind = element["type"]
    if kind in ("static_select", "external_select"):
        return {"type": kind, "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value}}
    if kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        opts = [{"text": {"type": "plain_text", "text": v}, "value": v} for v in value]
        return {"type": kind, "selected_options": opts}
    if kind == "users_select":
        return {"type": kind, "selected_user": value}
    if kind == "datetimepicker":
        return {"type": kind, "selected_date_time": value}
    return {"type": kind, "value": value}


def initial_of(element: dict[str, Any]) -> Any:
    if "initial_option" in element:
        return element["initial_option"]["value"]
    if "initial_options" in element:
        return [o["value"] for o in element["initial_options"]]
    if "initial_user" in element:
        return element["initial_user"]
    if "initial_date_time" in element:
        return element["initial_date_time"]
    return element.get("initial_value")


def filled(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The view as Slack sends it back: its own blocks and a state with the initial values plus `values`."""
    state: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        name = block["block_id"].split("|", 1)[0]
        value = values.get(name, initial_of(block["element"]))
        if value is None:
            continue
        state[block["block_id"]] = {block["element"]["action_id"]: element_state(block["element"], value)}
    return {**view, "state": {"values": state}}


@dataclass
class Stack:
    slack: FakeSlack
    client: GrantflowClient
    notifier: SlackNotifier
    settings: Settings
    url: str
    http: aiohttp.ClientSession
    _n = itertools.count(1)

    # --- sending as Slack does --------------------------------------------------------------------------

    async def send(
        self, body: str, content_type: str, *, timestamp: int | None = None, secret: str = SECRET
    ) -> tuple[int, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        sig = str(SignatureVerifier(secret).generate_signature(timestamp=ts, body=body))
        headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, "Content-Type": content_type}
        async with self.http.post(self.url, data=body.encode(), headers=headers) as resp:
            return resp.status, await resp.text()

    async def command(self, user: str, text: str = "", **kw: Any) -> tuple[int, str]:
        n = next(self._n)
        form = {
            "token": "legacy",
            "team_id": "T1",
            "team_domain": "test",
            "channel_id": "CGENERAL",
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/access",
            "text": text,
            "api_app_id": "A1",
            "response_url": self.slack.response_url(n),
            "trigger_id": f"trigger-{n}",
        }
        return await self.send(urlencode(form), "application/x-www-form-urlencoded", **kw)

    async def interact(self, payload: dict[str, Any], **kw: Any) -> tuple[int, str]:
        payload = {"team": {"id": "T1", "domain": "test"}, "api_app_id": "A1", "token": "legacy", **payload}
        return await self.send(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **kw)

    async def click(
        self, user: str, action_id: str, value: str, *, message: Call | None = None, view: dict[str, Any] | None = None
    ) -> tuple[int, str]:
        n = next(self._n)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T1"},
            "trigger_id": f"trigger-{n}",
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b",
                    "value": value,
                    "action_ts": str(time.time()),
                }
            ],
        }
        if message is not None:
            channel = str(message.response.get("channel") or message.args["channel"])
            ts = str(message.response.get("ts") or message.args["ts"])
            payload.update(
                container={"type": "message", "channel_id": channel, "message_ts": ts},
                channel={"id": channel},
                message={"ts": ts, "blocks": message.args.get("blocks")},
                response_url=self.slack.response_url(n),
            )
        elif view is not None:
            payload.update(container={"type": "view", "view_id": view["id"]}, view=view)
        return await self.interact(payload)

    async def choose(self, user: str, view: dict[str, Any], action_id: str, name: str, value: Any) -> tuple[int, str]:
        """A dispatch_action select changing inside an open modal."""
        view = filled(view, {name: value})
        block = next(b for b in view["blocks"] if b.get("block_id", "").split("|")[0] == name)
        action = {**element_state(block["element"], value), "action_id": action_id, "block_id": block["block_id"]}
        payload = {
            "type": "block_actions",
            "user": {"id": user, "team_id": "T1"},
            "trigger_id": "t",
            "container": {"type": "view", "view_id": view["id"]},
            "view": view,
            "actions": [action],
        }
        return await self.interact(payload)

    async def submit(self, user: str, view: dict[str, Any], values: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        payload = {
            "type": "view_submission",
            "user": {"id": user, "team_id": "T1"},
            "trigger_id": "t",
            "view": filled(view, values),
        }
        status, text = await self.interact(payload)
        return status, json.loads(text) if text.startswith("{") else {}

    async def suggest(self, user: str, view: dict[str, Any], block_id: str, typed: str) -> dict[str, Any]:
        payload = {
            "type": "block_suggestion",
            "user": {"id": user, "team_id": "T1"},
            "action_id": "req_resources",
            "block_id": block_id,
            "value": typed,
            "view": view,
        }
        status, text = await self.interact(payload)
        assert status == 200, text
        return dict(json.loads(text))

    async def event(self, event: dict[str, Any]) -> tuple[int, str]:
        body = {
            "token": "legacy",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:8]}",
            "event_time": int(time.time()),
            "event": event,
        }
        return await self.send(json.dumps(body), "application/json")

    # --- reading what Slack received ---------------------------------------------------------------------

    async def opened(self, since: int, method: str = "views.open") -> dict[str, Any]:
        """The view the app opened (or updated), with the id and hash Slack gave it."""
        call = await self.slack.wait(method, since=since)
        view = dict(call.args["view"])
        view["id"] = call.args.get("view_id") or f"V-{since}-{uuid.uuid4().hex[:6]}"
        view["hash"] = "h"
        return view

    async def posted_to(self, user: str, request_id: str, since: int = 0, timeout: float = 20) -> Call:
        """The first (top-level) message about `request_id` posted in `user`'s DM."""
        return await self.slack.wait(
            "chat.postMessage",
            lambda c: c.args.get("channel") == user and request_id in c.text() and not c.args.get("thread_ts"),
            since=since,
            timeout=timeout,
        )

    async def wait_status(self, request_id: str, *statuses: str, timeout: float = 30) -> StatusView:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                v = await self.client.status(request_id)
            except NotFound:
                # The app acks the modal first and starts the workflow right after.
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.1)
                continue
            if v.status.value in statuses:
                return v
            if loop.time() > deadline:
                raise AssertionError(f"{request_id} stayed {v.status.value} ({v.status_reason}), wanted {statuses}")
            await asyncio.sleep(0.1)

    async def updated(self, post: Call, predicate: Any, since: int = 0, timeout: float = 20) -> Call:
        """The latest chat.update of the message `post` created that satisfies `predicate`."""
        return await self.slack.wait(
            "chat.update",
            lambda c: c.args.get("ts") == post.response["ts"] and predicate(c),
            since=since,
            timeout=timeout,
        )

    async def request_via_modal(
        self,
        user: str,
        resource_type: str,
        resources: list[str],
        justification: str,
        permission: str = "read",
        **values: Any,
    ) -> tuple[str, dict[str, Any]]:
        """/access → modal → choose a type → submit. Returns (request id, the submitted view)."""
        mark = self.slack.mark()
        status, _ = await self.command(user, "")
        assert status == 200
        view = await self.opened(mark)
        mark = self.slack.mark()
        status, _ = await self.choose(user, view, "req_resource_type", "resource_type", resource_type)
        assert status == 200
        updated = await self.opened(mark, "views.update")
        fields = {"resources": resources, "permission": permission, "justification": justification, **values}
        status, answer = await self.submit(user, updated, fields)
        assert status == 200 and answer.get("response_action") == "update", answer
        request_id = answer["view"]["blocks"][0]["text"]["text"].split("`")[1]
        await self.wait_status(request_id, "PENDING_APPROVAL", "GRANTING", "ACTIVE", "FAILED")
        return request_id, updated


async def slack_stack(
    dev_server: DevServer, tmp: Path, fake: FakeSlack, config_text: str = CONFIG, **extra_settings: Any
) -> AsyncIterator[Stack]:
    """The real app over HTTP, a worker with the real SlackNotifier, both pointed at `fake` (started here,
    stopped at the end). `extra_settings`: more environment settings by name, e.g. GRANTFLOW_SLACK_IDENTITY_TTL."""
    config_file = tmp / "grantflow.yml"
    config_file.write_text(config_text)
    await fake.start()
    settings = Settings(
        TEMPORAL_ADDRESS=dev_server.address,
        GRANTFLOW_TASK_QUEUE=f"slack-{uuid.uuid4().hex[:8]}",
        DATABASE_URL=f"sqlite:///{tmp}/gf.db",
        GRANTFLOW_STATE_DIR=str(tmp / "state"),
        GRANTFLOW_CONFIG=str(config_file),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        GRANTFLOW_DECISION_KEYS=TEST_DECISION_KEYS,
        SLACK_API_URL=fake.api_url,
        **extra_settings,
    )
    from worker import build_worker

    temporal = await connect(settings)
    config = ConfigSource(config_file)
    store = Store(settings.database_url)
    store.create_all()
    notifier = SlackNotifier.from_settings(settings, store, config)
    worker = build_worker(temporal, settings, config=config, store=store, notifier=notifier)
    client = GrantflowClient(
        temporal, config, store, settings.task_queue, signer=Signer(settings.decision_key_map(), "slack")
    )
    ensure_tables(store)
    runner = web.AppRunner(web_app(build_app(settings, client, web=make_web_client(settings))))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with worker, aiohttp.ClientSession() as http:
            yield Stack(fake, client, notifier, settings, f"http://127.0.0.1:{port}{EVENTS_PATH}", http)
    finally:
        await runner.cleanup()
        await fake.stop()


@pytest.fixture(scope="module")
async def stack(dev_server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async for s in slack_stack(dev_server, tmp_path_factory.mktemp("slack"), FakeSlack(USERS)):
        yield s
