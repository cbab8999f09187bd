"""Request ids and workflow ids: the one place their shape is decided.

A request id is ten lowercase letters or digits (URL-safe, and safe at the end of a PostgreSQL role name
such as `gf_alice_<id>`). Its workflow is `access-request-<id>`.
"""

from __future__ import annotations

import hashlib
import secrets
import string

ID_ALPHABET = string.ascii_lowercase + string.digits
REQUEST_ID_LENGTH = 10
WORKFLOW_ID_PREFIX = "access-request-"


def new_request_id(idempotency_key: str | None = None, requester: str = "") -> str:
    """Short, unique, URL- and role-name-safe. Derived from the idempotency key when there is one, so a
    duplicate submission lands on the same workflow id."""
    if idempotency_key:
        digest = hashlib.sha256(f"{requester}\0{idempotency_key}".encode()).digest()
        return "".join(ID_ALPHABET[b % len(ID_ALPHABET)] for b in digest[:REQUEST_ID_LENGTH])
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(REQUEST_ID_LENGTH))


def workflow_id_for(request_id: str) -> str:
    return f"{WORKFLOW_ID_PREFIX}{request_id}"


def request_id_from_workflow_id(workflow_id: str) -> str | None:
    """The request id of a request workflow's id, or None for any other workflow (schedules, ...)."""
    if not workflow_id.startswith(WORKFLOW_ID_PREFIX):
        return None
    return workflow_id.removeprefix(WORKFLOW_ID_PREFIX)


def request_id_from(ref: str) -> str:
    """Accept a request id or a workflow id, as people paste them."""
    return ref.strip().removeprefix(WORKFLOW_ID_PREFIX)


def request_id_in_name(name: str) -> str | None:
    """The request id a grantflow-made name ends with (`..._<id>`, e.g. a `gf_` role), or None when the
    shape is wrong."""
    _, sep, tail = name.rpartition("_")
    if not sep or len(tail) != REQUEST_ID_LENGTH or not tail.isascii() or not tail.isalnum() or tail != tail.lower():
        return None
    return tail
