"""`grantflow mcp --http` spawned as a subprocess on a free port, driven by the MCP SDK's streamable HTTP client,
against a Temporal dev server and a worker in this test process: every HTTP call needs a bearer token."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiohttp
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from temporalio.client import Client as TemporalClient

from grantflow.storage.store import Store
from grantflow.temporal import data_converter
from tests.conftest import ROOT, free_port, venv_binary
from tests.mcp.test_mcp_stdio import TOOLS, data, poll

GOOD = "tok-erin-8f1d2c"
TOKENS = f"{GOOD}:erin@example.com,tok-frank-77aa:frank@example.com"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
GAMMA = {"integration": "files", "resource_type": "folder", "resources": ["gamma"], "permission": "read"}


@contextmanager
def mcp_process(env: dict[str, str], *args: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    proc = subprocess.Popen(
        [venv_binary("grantflow"), "mcp", "--http", str(port), *args],
        cwd=str(ROOT),
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def wait_listening(proc: subprocess.Popen[bytes], port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"grantflow mcp --http did not listen on {port}")


@pytest.fixture(scope="module")
async def http_server(stack: dict[str, str]) -> AsyncIterator[str]:
    with mcp_process({**stack, "GRANTFLOW_MCP_TOKENS": TOKENS, "GRANTFLOW_MCP_USER": "dan@example.com"}) as (
        proc,
        port,
    ):
        await wait_listening(proc, port)
        yield f"http://127.0.0.1:{port}/mcp"


@asynccontextmanager
async def session(url: str, token: str | None, statuses: list[int] | None = None) -> AsyncIterator[Client]:
    """An MCP client session over streamable HTTP; `statuses` collects the HTTP status of every answer."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    http = create_mcp_http_client(headers=headers)

    async def record(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    http.event_hooks["response"].append(record)
    async with (
        http,
        Client(streamable_http_client(url, http_client=http), read_timeout_seconds=60) as client,
    ):
        yield client


async def workflows_started(stack: dict[str, str]) -> int:
    temporal = await TemporalClient.connect(stack["TEMPORAL_ADDRESS"], data_converter=data_converter(""))
    query = f'TaskQueue="{stack["GRANTFLOW_TASK_QUEUE"]}"'
    return len([w async for w in temporal.list_workflows(query)])


async def test_a_good_token_lists_tools_and_requests_access(stack: dict[str, str], http_server: str) -> None:
    async with session(http_server, GOOD) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        started = data(await client.call_tool("request_access", GAMMA))
        assert started["requester"] == "erin@example.com"  # the token's person, not GRANTFLOW_MCP_USER
        rid = started["request_id"]
        assert (await poll(client, rid, {"ACTIVE", "FAILED"}))["status"] == "ACTIVE"
        data(await client.call_tool("revoke_access", {"request_id": rid}))
        assert (await poll(client, rid, {"REVOKED"}))["status"] == "REVOKED"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Bearer {GOOD}x", f"Bearer {GOOD[:-1]}", f"Basic {GOOD}", "Bearer ", GOOD],
)
async def test_a_missing_or_wrong_token_gets_401(
    stack: dict[str, str], http_server: str, authorization: str | None
) -> None:
    before = await workflows_started(stack)
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with aiohttp.ClientSession() as http:
        for method, body in (("POST", INITIALIZE), ("GET", None), ("DELETE", None)):
            async with http.request(method, http_server, json=body, headers=headers) as resp:
                assert resp.status == 401, (method, await resp.text())
                assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert await workflows_started(stack) == before


async def test_an_mcp_session_with_a_bad_token_fails_and_starts_nothing(
    stack: dict[str, str], http_server: str
) -> None:
    before = await workflows_started(stack)
    requests_before = len(Store(stack["DATABASE_URL"]).list_requests(limit=1000))
    for token in ("not-a-token", None):
        statuses: list[int] = []
        with pytest.raises(BaseException, match="unhandled errors"):  # the SDK's task group wraps the refusal
            async with session(http_server, token, statuses) as client:
                await client.call_tool("request_access", GAMMA)
        assert statuses and set(statuses) == {401}, statuses
    assert await workflows_started(stack) == before
    assert len(Store(stack["DATABASE_URL"]).list_requests(limit=1000)) == requests_before


def test_http_refuses_to_start_without_tokens(stack: dict[str, str]) -> None:
    env = {k: v for k, v in stack.items()}
    env["GRANTFLOW_MCP_TOKENS"] = ""
    with mcp_process(env) as (proc, _):
        assert proc.wait(30) == 2
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        assert err.count("\n") == 1 and "set GRANTFLOW_MCP_TOKENS" in err and "--insecure-no-auth" in err, err
    # Tokens whose emails fail the email rule authenticate nobody: the same refusal.
    with mcp_process({**env, "GRANTFLOW_MCP_TOKENS": "t1:../../x@example.com,t2:nobody"}) as (proc, _):
        assert proc.wait(30) == 2


async def test_insecure_no_auth_binds_loopback_only_and_warns(stack: dict[str, str]) -> None:
    env = {**stack, "GRANTFLOW_MCP_TOKENS": "", "GRANTFLOW_MCP_USER": "erin@example.com"}
    env["GRANTFLOW_LOG_FORMAT"] = "json"
    with mcp_process(env, "--insecure-no-auth", "--host", "0.0.0.0") as (proc, _):
        assert proc.wait(30) == 2
        assert proc.stderr is not None
        assert "127.0.0.1 only" in proc.stderr.read().decode()
    with mcp_process(env, "--insecure-no-auth") as (proc, port):
        await wait_listening(proc, port)
        async with session(f"http://127.0.0.1:{port}/mcp", None) as client:
            listed: dict[str, Any] = data(await client.call_tool("list_requestable", {}))
            assert listed["as"] == "erin@example.com"
        proc.terminate()
        proc.wait(10)
        assert proc.stderr is not None
        assert "WITHOUT authentication" in proc.stderr.read().decode()
