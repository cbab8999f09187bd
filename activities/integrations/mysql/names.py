"""Account names and passwords: `gf_<grantee local part>_<request id>`, a password derived from the seed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from datetime import UTC, datetime

from grantflow.domain.ids import request_id_in_name

ACCOUNT_PREFIX = "gf_"
# MySQL 8 allows 32 characters in a user name (MariaDB 80): the shorter limit works on both.
MAX_USER_CHARS = 32
DAY = 86_400


def account_name(grantee: str, request_id: str) -> str:
    """`gf_<local part>_<request id>`, at most 32 characters; the local part is shortened first."""
    local = re.sub(r"[^a-z0-9_]", "_", grantee.split("@", 1)[0].lower()) or "user"
    rid = re.sub(r"[^a-z0-9]", "_", request_id.lower())
    room = MAX_USER_CHARS - len(ACCOUNT_PREFIX) - 1 - len(rid)
    if room < 1:
        raise ValueError(f"request id {request_id!r} is too long for a MySQL user name")
    return f"{ACCOUNT_PREFIX}{local[:room]}_{rid}"


def is_grantflow_account(user: str) -> bool:
    """Only names of this shape are ever locked, killed or dropped by grantflow."""
    return (
        user.startswith(ACCOUNT_PREFIX)
        and len(user) <= MAX_USER_CHARS
        and re.fullmatch(r"gf_[a-z0-9_]+", user) is not None
        and request_id_in_name(user) is not None
    )


def account_password(user: str, seed: bytes | None) -> str:
    """Derived from the worker's secret seed, so every item of a request (one account) and every retry
    agree on it; random without a seed."""
    if seed is None:
        return secrets.token_urlsafe(24)
    digest = hmac.new(seed, f"mysql-password:{user}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def native_hash(password: str) -> str:
    """mysql_native_password's stored form, `*` + hex(SHA1(SHA1(password))): computed here, so MariaDB
    receives `IDENTIFIED BY PASSWORD '<hash>'` and the clear password never crosses the wire."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def expire_days(expires_at: datetime, now: datetime) -> int:
    """Whole days for `PASSWORD EXPIRE INTERVAL`, counted from now (the password is set at the same time):
    the smallest number that does not end before `expires_at`, at least 1."""
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return max(1, math.ceil((expires_at - now).total_seconds() / DAY))
