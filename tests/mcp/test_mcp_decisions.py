"""Deciding through MCP (`approve_request`, `reject_request`) over the real protocol (stdio), against a Temporal
dev server and a worker: the caller is the server's configured person, the workflow's rules judge them like
at any other door, and the MCP server's decision key proves each decision (`via: mcp`, verified)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from temporalio.client import Client as TemporalClient

from grantflow.storage.store import Store
from grantflow.temporal import data_converter
from tests.mcp.test_mcp_stdio import data, poll, session, text

ALPHA = {
    "integration": "files",
    "resource_type": "folder",
    "resources": ["alpha"],
    "permission": "read",
    "justification": "reading the alpha reports",
}


async def workflow_status(env: dict[str, str], request_id: str) -> dict[str, Any]:
    """The workflow's own `status` query (not the MCP view of it)."""
    temporal = await TemporalClient.connect(env["TEMPORAL_ADDRESS"], data_converter=data_converter(""))
    return dict(await temporal.get_workflow_handle(f"access-request-{request_id}").query("status"))


async def test_an_approver_approves_through_mcp_verified_and_nobody_approves_their_own(stack: dict[str, str]) -> None:
    async with session(stack, "carol@example.com") as carol:  # a requestor and an approver of read-folders
        rid = data(await carol.call_tool("request_access", ALPHA))["request_id"]
        assert (await poll(carol, rid, {"PENDING_APPROVAL"}))["status"] == "PENDING_APPROVAL"
        own = await carol.call_tool("approve_request", {"request_id": rid, "comment": "me"})
        assert own.is_error and "refused: you cannot approve your own request" in text(own), text(own)
    async with session(stack, "dan@example.com") as dan:  # a requestor, not an approver
        outsider = await dan.call_tool("approve_request", {"request_id": rid})
        assert outsider.is_error and "refused: dan@example.com is not an approver for this flow" in text(outsider)
    assert (await workflow_status(stack, rid))["approvals"] == []
    # The same approval sent straight to the workflow is refused there, and the request's view lists it.
    temporal = await TemporalClient.connect(stack["TEMPORAL_ADDRESS"], data_converter=data_converter(""))
    await temporal.get_workflow_handle(f"access-request-{rid}").signal("approve", {"approver": "dan@example.com"})
    async with session(stack, "carol@example.com") as carol:
        for _ in range(100):
            view = data(await carol.call_tool("request_status", {"request_id": rid}))
            if view["refused"]:
                break
            await asyncio.sleep(0.2)
    [refused] = view["refused"]
    assert (refused["action"], refused["actor"]) == ("approve", "dan@example.com") and refused["at"]
    assert refused["reason"] == "dan@example.com is not an approver for this flow"

    async with session(stack, "bob@example.com") as bob:
        approved = data(await bob.call_tool("approve_request", {"request_id": rid, "comment": "go ahead"}))
        assert approved["request_id"] == rid and approved["approvals"] == ["bob@example.com"]
        assert [r["actor"] for r in approved["refused"]] == ["dan@example.com"]
        assert (await poll(bob, rid, {"ACTIVE", "FAILED"}))["status"] == "ACTIVE"
    status = await workflow_status(stack, rid)
    assert [(a["approver"], a["comment"], a["via"], a["verified"]) for a in status["approvals"]] == [
        ("bob@example.com", "go ahead", "mcp", True)
    ]
    # The refusals were answered by the update validators: the client facade wrote them to the audit trail.
    refused = {
        (e.actor, e.reason) for e in Store(stack["DATABASE_URL"]).audit(request_id=rid) if e.outcome == "refused"
    }
    assert ("carol@example.com", "you cannot approve your own request") in refused
    async with session(stack, "carol@example.com") as carol:
        data(await carol.call_tool("revoke_access", {"request_id": rid}))


async def test_an_approver_rejects_through_mcp(stack: dict[str, str]) -> None:
    async with session(stack, "alice@example.com") as alice:
        rid = data(await alice.call_tool("request_access", {**ALPHA, "resources": ["beta"]}))["request_id"]
        await poll(alice, rid, {"PENDING_APPROVAL"})
    async with session(stack, "carol@example.com") as carol:
        rejected = data(await carol.call_tool("reject_request", {"request_id": rid, "reason": "use the report"}))
        assert rejected["request_id"] == rid
        again = await carol.call_tool("reject_request", {"request_id": rid})
        # Refused whether the workflow has ended the request yet or only recorded the rejection.
        assert again.is_error and re.search(r"refused: the request (is REJECTED|was already rejected)", text(again))
    async with session(stack, "alice@example.com") as alice:
        view = await poll(alice, rid, {"REJECTED"})
        assert view["status"] == "REJECTED" and view["status_reason"] == "rejected by carol@example.com: use the report"
    status = await workflow_status(stack, rid)
    assert status["rejected_by"] == "carol@example.com"
    events = [
        e for e in Store(stack["DATABASE_URL"]).audit(request_id=rid) if e.action == "reject" and e.outcome == "ok"
    ]
    assert [(e.actor, e.detail["via"], e.detail["verified"]) for e in events] == [("carol@example.com", "mcp", True)]
