"""A fake Slack Web API over real HTTP on loopback: answers what grantflow calls and records every call.

It also takes the POSTs Slack clients make to a `response_url` (`/response/<n>`), can be told to
answer a method with a 429 (Retry-After) or a Slack error, to test rate limits and refusals, and plays
Slack's side of Socket Mode: `apps.connections.open` hands out `ws://.../socket`, where `envelope()` sends
what Slack would and returns the app's acknowledgement.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.conftest import free_port


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """Everything a person would read in this call (text and blocks), for assertions."""
        return json.dumps({k: self.args.get(k) for k in ("text", "blocks", "view")}, ensure_ascii=False)

    def action_ids(self) -> list[str]:
        blocks = self.args.get("blocks") or (self.args.get("view") or {}).get("blocks") or []
        return [e.get("action_id") for b in blocks if b.get("type") == "actions" for e in b.get("elements", [])]


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


UserRecord = str | None | dict[str, Any]


class FakeSlack:
    def __init__(self, users: dict[str, UserRecord]):
        """`users`: Slack user id → email (None for a user without one), or a record with `email` and any of
        Slack's user flags (`deleted`, `is_restricted`, `is_ultra_restricted`, `is_bot`). The mapping is copied:
        `set_user` changes this fake only."""
        self.users = dict(users)
        self.calls: list[Call] = []
        self.failures: dict[str, list[Failure]] = {}
        self._ts = itertools.count(1)
        self._views = itertools.count(1)
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self.sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._envelopes = itertools.count(1)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, n: int | str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{n}"

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{n}", self._response)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- control -----------------------------------------------------------------------------------------

    def fail(self, method: str, *, status: int = 429, error: str = "ratelimited", retry_after: int = 1) -> None:
        """The next call of `method` fails once."""
        headers = {"Retry-After": str(retry_after)} if status == 429 else {}
        self.failures.setdefault(method, []).append(Failure(status, {"ok": False, "error": error}, headers))

    def set_user(self, user_id: str, email: str | None, **flags: bool) -> None:
        """Change (or add) a user's record, as a workspace admin would: later users.info calls see it."""
        self.users[user_id] = {"email": email, **flags}

    def email_of(self, user_id: str) -> str | None:
        record = self.users.get(user_id)
        return record.get("email") if isinstance(record, dict) else record

    def of(self, method: str, **match: Any) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and c.status == 200 and all(c.args.get(k) == v for k, v in match.items())
        ]

    def mark(self) -> int:
        return len(self.calls)

    def since(self, mark: int, method: str | None = None) -> list[Call]:
        return [c for c in self.calls[mark:] if c.status == 200 and (method is None or c.method == method)]

    async def wait(self, method: str, predicate: Any = None, *, since: int = 0, timeout: float = 20) -> Call:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for c in self.since(since, method):
                if predicate is None or predicate(c):
                    return c
            if loop.time() > deadline:
                seen = [c.method for c in self.calls[since:]]
                raise AssertionError(f"no matching {method} call; saw {seen}")
            await asyncio.sleep(0.05)

    # --- Socket Mode -------------------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": len(self.sockets), "debug_info": {"host": "fake"}})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                waiter = self._acks.pop(str(data.get("envelope_id")), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(data)
        finally:
            self.sockets.remove(ws)
        return ws

    async def connected(self, timeout: float = 20) -> web.WebSocketResponse:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.sockets:
            if loop.time() > deadline:
                raise AssertionError(f"no Socket Mode connection; calls: {[c.method for c in self.calls]}")
            await asyncio.sleep(0.05)
        return self.sockets[-1]

    async def envelope(self, kind: str, payload: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        """Deliver an event the way Slack does over Socket Mode; the app's ack (with any response payload)."""
        ws = await self.connected()
        envelope_id = f"env-{next(self._envelopes)}"
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = waiter
        await ws.send_json(
            {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": True}
        )
        return await asyncio.wait_for(waiter, timeout)

    # --- the API -------------------------------------------------------------------------------------------

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        raw = await request.text()
        if raw:
            if request.content_type == "application/json":
                args.update(json.loads(raw))
            else:
                args.update(dict(parse_qsl(raw)))
        for key in ("blocks", "view", "options"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        return args

    async def _response(self, request: web.Request) -> web.Response:
        args = await self._args(request)
        self.calls.append(Call("response_url", {**args, "n": request.match_info["n"]}))
        return web.json_response({"ok": True})

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        pending = self.failures.get(method)
        if pending:
            f = pending.pop(0)
            self.calls.append(Call(method, args, f.status))
            return web.json_response(f.body, status=f.status, headers=f.headers)
        answer = self._answer(method, args)
        self.calls.append(Call(method, args, 200, answer))
        return web.json_response(answer)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "team_id": "T1",
                "user": "grantflow",
                "team": "Test",
            }
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
        if method == "users.info":
            uid = str(args.get("user"))
            if uid not in self.users:
                return {"ok": False, "error": "user_not_found"}
            record = self.users[uid]
            flags = {k: v for k, v in record.items() if k != "email"} if isinstance(record, dict) else {}
            email = self.email_of(uid)
            profile = {"email": email} if email else {}
            user = {"id": uid, "tz": "Europe/Berlin", "profile": profile, "is_bot": False, "deleted": False}
            return {"ok": True, "user": {**user, **flags}}
        if method == "users.lookupByEmail":
            email = str(args.get("email")).lower()
            found = next((u for u in self.users if self.email_of(u) == email), None)
            return {"ok": True, "user": {"id": found}} if found else {"ok": False, "error": "users_not_found"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": self.dm(str(args.get("users")))}}
        if method == "chat.postMessage":
            channel = self.channel_id(str(args.get("channel")))
            ts = f"1700000000.{next(self._ts):06d}"
            return {"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text"), "ts": ts}}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000001.{next(self._ts):06d}"}
        if method in ("views.open", "views.update", "views.publish"):
            view_id = args.get("view_id") or f"V{next(self._views):05d}"
            return {"ok": True, "view": {**(args.get("view") or {}), "id": view_id, "hash": f"h{next(self._ts)}"}}
        return {"ok": False, "error": "unknown_method"}

    @staticmethod
    def dm(user_id: str) -> str:
        return "D" + user_id[1:]

    def channel_id(self, channel: str) -> str:
        if channel.startswith("U"):
            return self.dm(channel)
        if channel.startswith("#"):
            return "C" + channel[1:].upper().replace("-", "")
        return channel
