"""`grantflow mcp` spawned as a subprocess, driven by a real MCP client session over stdio, against a real
Temporal dev server and a worker running in this test process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent

from grantflow.storage.store import Store
from tests.conftest import ROOT, venv_binary

TOOLS = {
    "suggest_access",
    "list_requestable",
    "request_access",
    "my_requests",
    "request_status",
    "extend_access",
    "revoke_access",
    "approve_request",
    "reject_request",
}


@asynccontextmanager
async def session(env: dict[str, str], user: str) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=venv_binary("grantflow"), args=["mcp"], cwd=str(ROOT), env={**env, "GRANTFLOW_MCP_USER": user}
    )
    async with Client(params, read_timeout_seconds=60) as client:
        yield client


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text(result)
    if result.structured_content is not None:
        return dict(result.structured_content)
    return dict(json.loads(text(result)))


def text(result: CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, TextContent))


async def poll(client: Client, request_id: str, want: set[str], timeout: float = 30) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        view = data(await client.call_tool("request_status", {"request_id": request_id}))
        if view["status"] in want or asyncio.get_running_loop().time() > deadline:
            return view
        await asyncio.sleep(0.3)


async def test_request_status_revoke_over_stdio(stack: dict[str, str]) -> None:
    async with session(stack, "erin@example.com") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == TOOLS
        for name in ("approve_request", "reject_request"):
            hints = tools[name].annotations
            assert hints is not None and hints.read_only_hint is False and hints.idempotent_hint is False
            assert "Confirm with the user" in (tools[name].description or "")
            assert "break_glass" not in tools[name].input_schema.get("properties", {})
        assert all(t.description and len(t.description) > 40 for t in tools.values())
        for tool in tools.values():
            assert not {"requester", "user", "as", "email", "actor"} & set(tool.input_schema.get("properties", {}))

        suggested = data(await client.call_tool("suggest_access", {"goal": "read the gamma folder for 30 minutes"}))
        top = suggested["suggestions"][0]
        assert top["what"] == "files/folder:gamma (read)" and top["duration"] == "30m"

        started = data(await client.call_tool("request_access", top["request_access_arguments"]))
        rid = started["request_id"]
        assert started["requester"] == "erin@example.com"
        assert started["status"] in {"PENDING_APPROVAL", "GRANTING", "ACTIVE"}

        active = await poll(client, rid, {"ACTIVE", "FAILED"})
        assert active["status"] == "ACTIVE", active
        assert active["expires_at"]
        mine = data(await client.call_tool("my_requests", {}))
        assert rid in [r["request_id"] for r in mine["requests"]]

        revoking = data(await client.call_tool("revoke_access", {"request_id": rid, "reason": "done"}))
        assert revoking["request_id"] == rid
        assert (await poll(client, rid, {"REVOKED"}))["status"] == "REVOKED"
    # The MCP server holds the decision key: its submission and its revoke are proven to come from it.
    events = {e.action: e for e in Store(stack["DATABASE_URL"]).audit(request_id=rid) if e.outcome == "ok"}
    for action in ("request", "revoke_request"):
        assert (events[action].detail["via"], events[action].detail["verified"]) == ("mcp", True), action


async def test_not_allowed_is_refused_and_nothing_starts(stack: dict[str, str]) -> None:
    store = Store(stack["DATABASE_URL"])
    async with session(stack, "erin@example.com") as client:
        before = len(store.list_requests(person="erin@example.com"))
        refused = await client.call_tool(
            "request_access",
            {
                "integration": "files",
                "resource_type": "folder",
                "resources": ["alpha"],
                "permission": "write",
                "justification": "please",
            },
        )
        assert refused.is_error and "refused: no access flow lets erin@example.com request" in text(refused)
        unknown = await client.call_tool(
            "request_access",
            {"integration": "files", "resource_type": "folder", "resources": ["nope"], "permission": "read"},
        )
        assert unknown.is_error and 'unknown folder "nope"' in text(unknown)
        missing = await client.call_tool("request_access", {"integration": "files"})
        assert missing.is_error and "missing resource_type, permission, resources" in text(missing)
        for goal, message in (
            ("", "say what you need"),
            ("x" * 10_000, "at most 2000"),
        ):
            bad = await client.call_tool("suggest_access", {"goal": goal})
            assert bad.is_error and message in text(bad)
        goal = "🔑 földer \uff47\uff41\uff4d\uff4d\uff41 読む"  # fullwidth "gamma"
        uni = data(await client.call_tool("suggest_access", {"goal": goal}))
        assert uni["suggestions"][0]["what"] == "files/folder:gamma (read)"
        assert len(store.list_requests(person="erin@example.com")) == before
        refusals = [e for e in store.audit() if e.actor == "erin@example.com" and e.outcome == "refused"]
        assert refusals and "no access flow" in refusals[-1].reason


async def test_identity_in_no_flow_gets_a_clear_tool_error(stack: dict[str, str]) -> None:
    async with session(stack, "bob@example.com") as client:
        for tool, args in (
            ("suggest_access", {"goal": "read alpha"}),
            ("list_requestable", {}),
            (
                "request_access",
                {
                    "integration": "files",
                    "resource_type": "folder",
                    "resources": ["alpha"],
                    "permission": "read",
                    "justification": "x",
                },
            ),
        ):
            result = await client.call_tool(tool, args)
            assert result.is_error, tool
            assert "bob@example.com is not a requestor in any access flow" in text(result), text(result)
    assert not Store(stack["DATABASE_URL"]).list_requests(person="bob@example.com")


async def test_status_of_someone_elses_request_is_refused(stack: dict[str, str]) -> None:
    async with session(stack, "alice@example.com") as alice:
        started = data(await alice.call_tool("request_access", {"bundle": "pair", "justification": "pairing"}))
    async with session(stack, "dan@example.com") as dan:
        other = await dan.call_tool("request_status", {"request_id": started["request_id"]})
        assert other.is_error and "is not yours" in text(other)
        revoke = await dan.call_tool("revoke_access", {"request_id": started["request_id"]})
        assert revoke.is_error and "may not revoke" in text(revoke)
    async with session(stack, "alice@example.com") as alice:
        data(await alice.call_tool("revoke_access", {"request_id": started["request_id"]}))
        assert (await poll(alice, started["request_id"], {"REVOKED"}))["status"] == "REVOKED"


async def test_a_grantee_outside_the_flow_or_a_bad_email_is_a_tool_error(stack: dict[str, str]) -> None:
    """`on_behalf_of` is held to the flow's requestors and grantees, and to the email rule: a tool error naming
    the flow and why, and no workflow."""
    store = Store(stack["DATABASE_URL"])
    gamma = {"integration": "files", "resource_type": "folder", "resources": ["gamma"], "permission": "read"}
    async with session(stack, "erin@example.com") as client:
        outsider = await client.call_tool("request_access", {**gamma, "on_behalf_of": "mallory@example.com"})
        assert outsider.is_error
        assert 'access flow "Gamma for seniors (automatic)" may not grant access to mallory@example.com' in text(
            outsider
        )
        for bad, why in (
            ("../../x@example.com", "it contains a slash"),
            ("x@y", "the domain has no dot"),
            ("x y@example.com", "it contains whitespace"),
        ):
            refused = await client.call_tool("request_access", {**gamma, "on_behalf_of": bad})
            assert refused.is_error and why in text(refused), text(refused)
        colleague = data(await client.call_tool("request_access", {**gamma, "on_behalf_of": "frank@example.com"}))
        assert colleague["grantee"] == "frank@example.com"  # frank is a requestor of the flow too
        data(await client.call_tool("revoke_access", {"request_id": colleague["request_id"]}))
    for who in ("mallory@example.com", "x@y", "../../x@example.com"):
        assert not store.list_requests(person=who)
