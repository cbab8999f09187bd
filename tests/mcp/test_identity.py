"""Who the MCP caller is comes from the server's configuration, never from a tool argument."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from grantflow.mcp.auth import TOKENS_ENV, USER_ENV, identity_from, parse_tokens


def test_parse_tokens() -> None:
    assert parse_tokens("t1:Alice@Example.com, t:2:bob@example.com,junk,:x@y") == {
        "t1": "alice@example.com",
        "t:2": "bob@example.com",
    }


def test_stdio_uses_the_configured_user() -> None:
    assert identity_from(None, {USER_ENV: " Erin@Example.com "}) == "erin@example.com"
    with pytest.raises(ToolError, match=f"set {USER_ENV}"):
        identity_from(None, {})


def test_http_bearer_maps_to_an_email() -> None:
    env = {TOKENS_ENV: "s3cret:alice@example.com", USER_ENV: "erin@example.com"}
    assert identity_from({"authorization": "Bearer s3cret"}, env) == "alice@example.com"
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic s3cret"}):
        with pytest.raises(ToolError, match="not authenticated"):
            identity_from(headers, env)


def test_http_without_tokens_serves_the_configured_user() -> None:
    assert identity_from({"host": "127.0.0.1"}, {USER_ENV: "erin@example.com"}) == "erin@example.com"
