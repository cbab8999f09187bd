"""Role names and passwords: `gf_<grantee local part>_<request id>`, a password derived from the seed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime
from typing import Any

import psycopg

ROLE_PREFIX = "gf_"
ORPHAN_ROLE = "grantflow_orphans"
MAX_IDENTIFIER_BYTES = 63


def role_password(role: str, seed: bytes | None) -> str:
    """A strong password. Derived from the worker's secret seed when there is one, so that every item of
    a request (one role) and every retry of a grant agree on it; random otherwise."""
    if seed is None:
        return secrets.token_urlsafe(24)
    digest = hmac.new(seed, f"pg-password:{role}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _sanitise(text: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


def role_name(grantee: str, request_id: str) -> str:
    """`gf_<local part>_<request id>`, at most 63 bytes.

    The local part is shortened first: the request id is what makes the role unique. An id too long to
    fit at all is replaced by a prefix plus a hash of the whole id, which keeps it unique.
    """
    local = _sanitise(grantee.split("@", 1)[0]) or "user"
    rid = _sanitise(request_id) or "request"
    room = MAX_IDENTIFIER_BYTES - len(ROLE_PREFIX) - 1
    if len(rid) > room - 1:
        digest = hashlib.sha256(request_id.encode()).hexdigest()[:16]
        rid = f"{rid[: room - 1 - 17]}_{digest}"
    local = local[: room - len(rid)]
    return f"{ROLE_PREFIX}{local}_{rid}"


def valid_until(expires_at: datetime) -> str:
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return expires_at.isoformat()


def scram_verifier(conn: psycopg.AsyncConnection[Any], role: str, password: str) -> str:
    """libpq's PQencryptPasswordConn with an explicit algorithm: computed here, no round trip."""
    return conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
