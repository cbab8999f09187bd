"""Decision proofs: a front door that authenticated a person signs what that person decided, and the worker
checks the signature before the decision counts as theirs (docs/security.md, "Verified decisions").

A proof is `{via, key_id, issued_at, nonce, mac}`: `mac` is HMAC-SHA256, with the key `key_id` names, over
the canonical encoding of (workflow id, action, actor, via, issued_at, nonce, break_glass, reason): JSON with
sorted keys and no whitespace. Keys come from `GRANTFLOW_DECISION_KEYS` as `id:base64key,...`; the first key
signs, every listed key verifies (rotation: put the new key first, drop the old one ten minutes later).

Pure: no I/O and no clock (the caller passes the time); the workflow calls `verify` through an activity
so that the key never enters workflow history, and checks nonces itself (it remembers them).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ENV_VAR = "GRANTFLOW_DECISION_KEYS"
MAX_AGE = timedelta(minutes=10)
# Clocks of the front door and the worker may differ a little; a proof from further ahead is refused.
MAX_SKEW = timedelta(minutes=1)
MIN_KEY_BYTES = 16
# What a decision without a proof is marked as coming through.
VIA_TEMPORAL = "temporal"
Via = Literal["slack", "mcp", "cli"]
Mode = Literal["enforce", "audit"]
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class DecisionKeyError(ValueError):
    """Keys are missing or malformed. Never carries key bytes."""


class Proof(BaseModel):
    """What a front door attaches to a decision (or to a submission, as the workflow input's `proof`)."""

    model_config = ConfigDict(extra="forbid")
    via: Via
    key_id: str = Field(min_length=1, max_length=64)
    issued_at: str = Field(min_length=1, max_length=40)
    nonce: str = Field(min_length=8, max_length=64)
    mac: str = Field(min_length=1, max_length=128)


class ProofCheck(BaseModel):
    """What the verifying activity is given: the decision as the workflow saw it, and its proof."""

    workflow_id: str
    action: str
    actor: str
    break_glass: bool = False
    reason: str = ""
    proof: Proof


class Verdict(BaseModel):
    """Whether a decision is proven to come from the door it names. `problem` is set when a proof was
    attached and is bad (refused in every mode); an unproven decision has no proof and no problem."""

    verified: bool
    via: str = VIA_TEMPORAL
    problem: str = ""

    def detail(self) -> dict[str, object]:
        out: dict[str, object] = {"via": self.via, "verified": self.verified}
        if self.problem:
            out["proof_problem"] = self.problem
        return out


UNPROVEN = Verdict(verified=False, via=VIA_TEMPORAL)


def parse_keys(text: str) -> dict[str, bytes]:
    """`id:base64key,...` → ordered {id: key}; the first entry signs."""
    keys: dict[str, bytes] = {}
    for n, entry in enumerate((e.strip() for e in text.split(",")), start=1):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not key_id:
            raise DecisionKeyError(f"{ENV_VAR}: entry {n} must be id:base64key")
        if not _KEY_ID.match(key_id):
            raise DecisionKeyError(f"{ENV_VAR}: key id {key_id!r} may only use letters, digits, '.', '_' and '-'")
        if key_id in keys:
            raise DecisionKeyError(f"{ENV_VAR}: key id {key_id!r} appears twice")
        encoded = encoded.strip().rstrip("=").replace("-", "+").replace("_", "/")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise DecisionKeyError(f"{ENV_VAR}: key {key_id!r} is not valid base64") from None
        if len(key) < MIN_KEY_BYTES:
            raise DecisionKeyError(f"{ENV_VAR}: key {key_id!r} is {len(key)} bytes; at least {MIN_KEY_BYTES}")
        keys[key_id] = key
    if not keys:
        raise DecisionKeyError(f"{ENV_VAR}: no keys given")
    return keys


def canonical(
    workflow_id: str, action: str, actor: str, via: str, issued_at: str, nonce: str, break_glass: bool, reason: str
) -> bytes:
    """The bytes a proof's mac covers. The actor is compared as the policy compares it (trimmed, lower case)."""
    fields = {
        "workflow_id": workflow_id,
        "action": action,
        "actor": actor.strip().lower(),
        "via": via,
        "issued_at": issued_at,
        "nonce": nonce,
        "break_glass": bool(break_glass),
        "reason": reason,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _mac(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Signer:
    """A front door's signing half: the first key of `keys`, and the door it stands for."""

    keys: Mapping[str, bytes]
    via: Via

    def sign(
        self,
        workflow_id: str,
        action: str,
        actor: str,
        now: datetime,
        *,
        break_glass: bool = False,
        reason: str = "",
        nonce: str | None = None,
    ) -> Proof:
        key_id = next(iter(self.keys))
        issued_at = now.isoformat()
        nonce = nonce or secrets.token_hex(16)
        message = canonical(workflow_id, action, actor, self.via, issued_at, nonce, break_glass, reason)
        return Proof(
            via=self.via, key_id=key_id, issued_at=issued_at, nonce=nonce, mac=_mac(self.keys[key_id], message)
        )


def verify(keys: Mapping[str, bytes], check: ProofCheck, now: datetime) -> Verdict:
    """The verdict on one proof, with a one-line reason when it is bad (the nonce is the caller's to check)."""
    p = check.proof
    if not keys:
        return Verdict(verified=False, via=p.via, problem="")
    key = keys.get(p.key_id)
    if key is None:
        return Verdict(verified=False, via=p.via, problem=f'bad proof: unknown key id "{p.key_id}"')
    message = canonical(
        check.workflow_id, check.action, check.actor, p.via, p.issued_at, p.nonce, check.break_glass, check.reason
    )
    if not hmac.compare_digest(_mac(key, message), p.mac):
        return Verdict(
            verified=False,
            via=p.via,
            problem="bad proof: the mac does not match (altered, or signed for another request, actor or decision)",
        )
    try:
        issued = datetime.fromisoformat(p.issued_at)
    except ValueError:
        return Verdict(verified=False, via=p.via, problem="bad proof: issued_at is not an ISO-8601 time")
    if issued.tzinfo is None:
        return Verdict(verified=False, via=p.via, problem="bad proof: issued_at has no time zone")
    age = now - issued
    if age > MAX_AGE:
        minutes = int(age.total_seconds() // 60)
        return Verdict(verified=False, via=p.via, problem=f"stale proof: issued {minutes} minutes ago (limit 10)")
    if age < -MAX_SKEW:
        return Verdict(verified=False, via=p.via, problem="bad proof: issued_at is in the future")
    return Verdict(verified=True, via=p.via)


def spec_digest(spec_json: Mapping[str, object]) -> str:
    """What a submission proof's `reason` binds: the request spec, so a proof cannot be moved to another one."""
    data = json.dumps(spec_json, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "spec:" + hashlib.sha256(data.encode("utf-8")).hexdigest()


def refusal(mode: str, action: str, verdict: Verdict) -> str | None:
    """Why a decision does not count given its verdict and the flow's `decisions:` mode, or None when it counts.

    A bad proof is refused in every mode (someone tampered); an unproven decision is refused under `enforce`;
    a revoke always counts (taking access away fails safe)."""
    if action == "revoke" or verdict.verified:
        return None
    if verdict.problem:
        return verdict.problem
    if mode == "enforce":
        return (
            f"unverified {action} refused: this flow accepts only decisions made through grantflow "
            "(Slack, MCP or a CLI holding the decision key), not sent straight through the Temporal API"
        )
    return None
