"""Benchmark 3: how fast the Slack endpoint answers — signed button clicks and slash commands, 20 in flight.

The Slack app (slack_app/) serves `POST /slack/events` over real HTTP and talks to the fake Slack Web API
of the tests (tests/slack_app/fake_slack.py); approvals go through the real facade to the real worker.
What is timed is what Slack times: from sending the request to the HTTP response (the ack), not the work
the handler does after acking. The app runs in this process, beside the load generator, so the figures
include sharing one event loop with it (a pessimistic setup).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from temporalio.service import RPCError

from bench.lifecycle import percentiles
from bench.stack import BENCH_APPROVER, BENCH_REQUESTER
from grantflow.client import GrantflowClient
from grantflow.dev.pgserver import free_port
from grantflow.settings import Settings

SECRET = "bench-signing-secret"
USERS = {"UBOB": BENCH_APPROVER, "UALICE": BENCH_REQUESTER}


def signed(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def click(request_id: str, response_url: str) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": "UBOB"},
        "team": {"id": "T1"},
        "trigger_id": "1.2.3",
        "channel": {"id": "DBOB"},
        "response_url": response_url,
        "container": {"type": "message"},
        "actions": [
            {
                "action_id": "gf_approve",
                "value": request_id,
                "type": "button",
                "block_id": "b",
                "action_ts": str(time.time()),
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def command(response_url: str) -> str:
    return urlencode(
        {
            "command": "/access",
            "text": "help",
            "user_id": "UALICE",
            "team_id": "T1",
            "channel_id": "DALICE",
            "trigger_id": "1.2.3",
            "response_url": response_url,
        }
    )


async def run_slack_acks(
    folder: Path, gf: GrantflowClient, clicks: int, commands: int, in_flight: int
) -> dict[str, Any]:
    from slack_app.app import build_app
    from slack_app.refs import ensure_tables
    from slack_app.server import EVENTS_PATH, web_app
    from tests.slack_app.fake_slack import FakeSlack

    fake = await FakeSlack(dict(USERS)).start()
    settings = Settings(
        SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.api_url, DATABASE_URL=gf.store.url
    )
    await asyncio.to_thread(ensure_tables, gf.store)
    runner = web.AppRunner(web_app(build_app(settings, gf)))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}{EVENTS_PATH}"
    spec = gf.build_spec(
        requester=BENCH_REQUESTER,
        integration="bench",
        resource_type="folder",
        resources=["alpha"],
        permission="read",
        duration=3600,
        source="bench",
    )
    pending = [s.request_id for s in await asyncio.gather(*(gf.submit(spec) for _ in range(clicks)))]
    bodies = [click(rid, fake.response_url(i)) for i, rid in enumerate(pending)]
    bodies += [command(fake.response_url(clicks + i)) for i in range(commands)]
    gate = asyncio.Semaphore(in_flight)
    times: list[float] = []
    statuses: dict[int, int] = {}
    try:
        async with aiohttp.ClientSession() as http:

            async def send(body: str) -> None:
                async with gate:
                    t0 = time.perf_counter()
                    async with http.post(url, data=body, headers=signed(body)) as resp:
                        await resp.read()
                    times.append((time.perf_counter() - t0) * 1000)
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1

            t0 = time.perf_counter()
            await asyncio.gather(*(send(b) for b in bodies))
            wall = time.perf_counter() - t0
            await asyncio.sleep(5)
    finally:
        await runner.cleanup()
        await fake.stop()
        for rid in pending:
            handle = gf.temporal.get_workflow_handle(f"access-request-{rid}")
            with contextlib.suppress(RPCError):
                await handle.terminate("bench finished")
    stats = percentiles(times)
    return {
        **stats,
        "clicks": clicks,
        "commands": commands,
        "in_flight": in_flight,
        "statuses": {str(k): v for k, v in statuses.items()},
        "wall_s": round(wall, 2),
    }
