"""Who calls the MCP server: one configured person over stdio (`GRANTFLOW_MCP_USER`), or over streamable HTTP
the person a bearer token maps to (`GRANTFLOW_MCP_TOKENS="token:email,..."`), checked for every HTTP request
before the MCP layer sees it. Never a tool argument.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping

from mcp.server.mcpserver.exceptions import ToolError
from starlette.types import ASGIApp, Receive, Scope, Send

from grantflow.domain.emails import BadEmail, check_email

USER_ENV = "GRANTFLOW_MCP_USER"
TOKENS_ENV = "GRANTFLOW_MCP_TOKENS"

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_tokens(raw: str | None) -> dict[str, str]:
    """`token:email,token2:email2` → {token: email}. The email is after the last colon; an entry whose email
    fails the email rule is left out (and so authenticates nobody)."""
    out: dict[str, str] = {}
    for part in (raw or "").split(","):
        token, sep, email = part.strip().rpartition(":")
        if not (sep and token.strip()):
            continue
        try:
            out[token.strip()] = check_email(email)
        except BadEmail:
            continue
    return out


def bearer_identity(authorization: str | None, tokens: Mapping[str, str]) -> str | None:
    """The email of the token in an `Authorization: Bearer TOKEN` value, or None. Every configured token is
    compared in constant time, so neither a match nor its position shows in the answer's timing."""
    scheme, _, presented = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    given = presented.strip().encode()
    found: str | None = None
    for token, email in tokens.items():
        if hmac.compare_digest(given, token.encode()) and given:
            found = email
    return found


def identity_from(headers: Mapping[str, str] | None, env: Mapping[str, str]) -> str:
    """The caller's email for one tool call, or a ToolError saying what to configure."""
    tokens = parse_tokens(env.get(TOKENS_ENV))
    if headers is not None and tokens:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        email = bearer_identity(auth, tokens)
        if not email:
            raise ToolError(f"not authenticated: send `Authorization: Bearer <token>` with a token from {TOKENS_ENV}")
        return email
    try:
        return check_email(env.get(USER_ENV, ""))
    except BadEmail as exc:
        raise ToolError(
            f"this grantflow MCP server has no identity: set {USER_ENV} to your email (or {TOKENS_ENV} for HTTP): {exc}"
        ) from None


class BearerAuth:
    """ASGI middleware: every HTTP request needs a valid bearer token, else 401 and the MCP app never runs."""

    def __init__(self, app: ASGIApp, tokens: Mapping[str, str]):
        self.app = app
        self.tokens = dict(tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        auth = next((v.decode("latin-1") for k, v in headers if k.lower() == b"authorization"), "")
        if bearer_identity(auth, self.tokens) is None:
            body = json.dumps(
                {"error": "unauthorized", "error_description": f"send Authorization: Bearer <token> ({TOKENS_ENV})"}
            ).encode()
            start_headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="grantflow"'),
            ]
            await send({"type": "http.response.start", "status": 401, "headers": start_headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
