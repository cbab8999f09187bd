"""Decision proofs (grantflow/domain/proofs.py): what a front door signs verifies, and nothing else does."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grantflow.domain.proofs import (
    UNPROVEN,
    DecisionKeyError,
    Proof,
    ProofCheck,
    Signer,
    Verdict,
    canonical,
    parse_keys,
    refusal,
    verify,
)
from grantflow.settings import Settings

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
K1 = "k1:" + base64.b64encode(b"1" * 32).decode()
K2 = "k2:" + base64.b64encode(b"2" * 32).decode()

texts = st.text(min_size=0, max_size=40)
emails = st.from_regex(r"[a-z]{1,10}@[a-z]{1,8}\.com", fullmatch=True)
actions = st.sampled_from(["approve", "reject", "extend", "revoke", "request"])
vias = st.sampled_from(["slack", "mcp", "cli"])


def check_for(proof: Proof, wid: str, action: str, actor: str, glass: bool, reason: str) -> ProofCheck:
    return ProofCheck(workflow_id=wid, action=action, actor=actor, break_glass=glass, reason=reason, proof=proof)


@settings(max_examples=150, deadline=None)
@given(wid=texts, action=actions, actor=emails, glass=st.booleans(), reason=texts, via=vias)
def test_what_a_door_signs_verifies(wid: str, action: str, actor: str, glass: bool, reason: str, via: str) -> None:
    keys = parse_keys(K1)
    proof = Signer(keys, via).sign(wid, action, actor, NOW, break_glass=glass, reason=reason)  # type: ignore[arg-type]
    verdict = verify(keys, check_for(proof, wid, action, actor.upper(), glass, reason), NOW + timedelta(minutes=9))
    assert verdict == Verdict(verified=True, via=via)


@settings(max_examples=200, deadline=None)
@given(
    wid=texts,
    action=actions,
    actor=emails,
    glass=st.booleans(),
    reason=texts,
    field=st.sampled_from(["workflow_id", "action", "actor", "break_glass", "reason", "via", "nonce", "issued_at"]),
    other=st.text(min_size=1, max_size=20),
)
def test_any_change_to_what_was_signed_is_a_bad_mac(
    wid: str, action: str, actor: str, glass: bool, reason: str, field: str, other: str
) -> None:
    keys = parse_keys(K1)
    proof = Signer(keys, "slack").sign(wid, action, actor, NOW, break_glass=glass, reason=reason)
    check = check_for(proof, wid, action, actor, glass, reason)
    if field == "break_glass":
        check = check.model_copy(update={"break_glass": not glass})
    elif field == "via":
        check = check.model_copy(update={"proof": proof.model_copy(update={"via": "mcp"})})
    elif field in ("nonce", "issued_at"):
        changed = (NOW + timedelta(seconds=1)).isoformat() if field == "issued_at" else proof.nonce + "0"
        check = check.model_copy(update={"proof": proof.model_copy(update={field: changed})})
    else:
        current = getattr(check, field)
        changed = current + other if field != "actor" else "x" + current
        check = check.model_copy(update={field: changed})
    verdict = verify(keys, check, NOW)
    assert not verdict.verified
    assert verdict.problem.startswith("bad proof: the mac does not match")
    assert "\n" not in verdict.problem


def test_unknown_key_stale_future_and_no_keys() -> None:
    keys = parse_keys(K1)
    proof = Signer(parse_keys(K2), "cli").sign("w", "approve", "bob@example.com", NOW)
    check = check_for(proof, "w", "approve", "bob@example.com", False, "")
    assert verify(keys, check, NOW).problem == 'bad proof: unknown key id "k2"'
    good = Signer(keys, "cli").sign("w", "approve", "bob@example.com", NOW)
    check = check_for(good, "w", "approve", "bob@example.com", False, "")
    assert verify(keys, check, NOW + timedelta(minutes=11)).problem == "stale proof: issued 11 minutes ago (limit 10)"
    assert verify(keys, check, NOW - timedelta(minutes=5)).problem == "bad proof: issued_at is in the future"
    # A worker without keys cannot tell: unverified, not tampered.
    assert verify({}, check, NOW) == Verdict(verified=False, via="cli")


def test_rotation_second_key_verifies_while_first_signs_and_a_removed_key_is_named() -> None:
    old = Signer(parse_keys(K1), "slack").sign("w", "reject", "bob@example.com", NOW, reason="no")
    rotated = parse_keys(f"{K2},{K1}")
    new = Signer(rotated, "slack").sign("w", "reject", "bob@example.com", NOW, reason="no")
    assert new.key_id == "k2"
    for proof in (old, new):
        assert verify(rotated, check_for(proof, "w", "reject", "bob@example.com", False, "no"), NOW).verified
    removed = verify(parse_keys(K2), check_for(old, "w", "reject", "bob@example.com", False, "no"), NOW)
    assert removed.problem == 'bad proof: unknown key id "k1"'


def test_canonical_encoding_is_sorted_compact_json() -> None:
    data = canonical("w", "approve", " Bob@Example.com ", "slack", "t", "n", True, "why")
    assert data == (
        b'{"action":"approve","actor":"bob@example.com","break_glass":true,"issued_at":"t","nonce":"n",'
        b'"reason":"why","via":"slack","workflow_id":"w"}'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no keys given"),
        ("k1", "entry 1 must be id:base64key"),
        ("k 1:AAAA", "may only use letters"),
        (f"{K1},{K1}", "appears twice"),
        ("k1:!!!", "not valid base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "at least 16"),
    ],
)
def test_bad_keys_are_one_line_without_key_bytes(text: str, message: str) -> None:
    with pytest.raises(DecisionKeyError) as info:
        parse_keys(text)
    assert message in str(info.value) and "GRANTFLOW_DECISION_KEYS" in str(info.value)


def test_modes() -> None:
    bad = Verdict(verified=False, via="cli", problem="bad proof: x")
    assert refusal("audit", "approve", UNPROVEN) is None
    assert refusal("enforce", "approve", UNPROVEN) is not None
    assert refusal("enforce", "reject", UNPROVEN) is not None
    assert refusal("audit", "approve", bad) == "bad proof: x"
    # Taking access away fails safe: an unproven or badly proven revoke counts.
    assert refusal("enforce", "revoke", UNPROVEN) is None
    assert refusal("enforce", "revoke", bad) is None
    assert refusal("enforce", "approve", Verdict(verified=True, via="slack")) is None


def test_settings_read_the_dev_key_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("GRANTFLOW_DECISION_KEYS", raising=False)
    (tmp_path / "decision.key").write_text(K1 + "\n")
    assert Settings(GRANTFLOW_STATE_DIR=str(tmp_path)).decision_key_map() == parse_keys(K1)
    assert Settings(GRANTFLOW_STATE_DIR=str(tmp_path), GRANTFLOW_DECISION_KEYS=K2).decision_key_map() == parse_keys(K2)


def test_the_flow_decides_the_mode_and_the_file_gives_the_default() -> None:
    from grantflow.domain import policy
    from grantflow.domain.config import ConfigError, parse_config
    from grantflow.domain.models import GrantItem, RequestSpec
    from tests.conftest import EXAMPLE_CONFIG

    cfg = parse_config(EXAMPLE_CONFIG.read_text())
    modes = {f.id: f.decisions or cfg.decisions for f in cfg.access_flows}
    # The example enforces verified decisions where access writes or administers, audits the read-only flows.
    assert modes == {
        "engineers-read": "audit",
        "db-owners-write": "enforce",
        "reports-read": "audit",
        "reports-write": "enforce",
    }
    item = GrantItem(integration="reports", resource_type="folder", resource="sales", permission="write")
    spec = RequestSpec(
        requester="alice@example.com",
        grantee="alice@example.com",
        items=[item],
        duration_seconds=3600,
        justification="x",
    )
    assert policy.decide(cfg, spec).decisions == "enforce"
    text = EXAMPLE_CONFIG.read_text().replace("decisions: audit", "decisions: sometimes")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "grantflow.yml")
    assert "decisions" in str(info.value) and "grantflow.yml:" in str(info.value)
