"""Assist never suggests what the person may not request, and answers bad input with a clear error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grantflow.assist import MAX_TEXT, AssistError, parse_duration_phrase, suggest
from grantflow.domain import policy
from grantflow.domain.config import load_config
from grantflow.domain.models import GrantItem, RequestSpec
from tests.conftest import EXAMPLE_CONFIG, TEST_CONFIG

CONFIGS = {"example": load_config(EXAMPLE_CONFIG), "test": load_config(TEST_CONFIG)}

VOCAB = sorted(
    set(
        " ".join(
            [
                "read write admin update fix look debug on call oncall database db table schema folder report",
                "finance sales orders customers payments alpha beta gamma pair files for an hour 2h 30 minutes",
                "3 days orders.customers orders.public.orders drop create the a in please today reports",
            ]
        ).split(" ")
    )
)


def _people(cfg_name: str) -> list[str]:
    cfg = CONFIGS[cfg_name]
    emails = {e for members in cfg.groups.values() for e in members}
    return sorted(emails | {"ops@example.com", "stranger@example.com"})


FOREIGN_FAVORITES = [
    RequestSpec(
        requester="x@example.com",
        grantee="x@example.com",
        duration_seconds=3600,
        items=[GrantItem(integration="reports", resource_type="folder", resource="sales", permission="write")],
    ),
    RequestSpec(
        requester="x@example.com",
        grantee="x@example.com",
        duration_seconds=3600,
        items=[GrantItem(integration="demo-postgres", resource_type="schema", resource="orders.x", permission="admin")],
    ),
    RequestSpec(
        requester="x@example.com",
        grantee="x@example.com",
        duration_seconds=3600,
        items=[GrantItem(integration="files", resource_type="folder", resource="gamma", permission="read")],
    ),
]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    cfg_name=st.sampled_from(sorted(CONFIGS)),
    words=st.lists(st.sampled_from(VOCAB) | st.text(min_size=1, max_size=12), min_size=1, max_size=12),
)
def test_only_requestable_suggestions(data: st.DataObject, cfg_name: str, words: list[str]) -> None:
    cfg = CONFIGS[cfg_name]
    person = data.draw(st.sampled_from(_people(cfg_name)))
    text = " ".join(words)
    flows = {f.id for f in policy.flows_for(cfg, person)}
    try:
        out = suggest(cfg, person, text, favorites=FOREIGN_FAVORITES, limit=8)
    except AssistError:
        assert not flows or not text.strip()
        return
    assert flows
    for s in out:
        assert s.flow_id in flows
        spec = RequestSpec(
            requester=person,
            grantee=person,
            items=s.items,
            bundle=s.bundle,
            duration_seconds=s.duration_seconds,
            justification=s.justification or "x",
        )
        decision = policy.decide(cfg, spec)
        assert decision.allowed, (s, decision.reason)
        assert decision.flow_id == s.flow_id
        flow = cfg.flow(s.flow_id)
        assert flow is not None and 0 < s.duration_seconds <= flow.max_duration
        # The front-door fields rebuild exactly the items (what the CLI, MCP and the Slack modal submit).
        if s.bundle:
            assert policy.bundle_items(cfg, s.bundle, s.resources) == s.items
        else:
            assert s.items == [
                GrantItem(
                    integration=s.integration or "",
                    resource_type=s.resource_type or "",
                    resource=r,
                    permission=s.permission or "",
                )
                for r in s.resources
            ]
        assert 0.0 <= s.score <= 1.0


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_a_clear_error(text: str) -> None:
    with pytest.raises(AssistError, match="say what you need"):
        suggest(CONFIGS["example"], "alice@example.com", text)


def test_ten_kilobytes_is_a_clear_error() -> None:
    with pytest.raises(AssistError, match=f"at most {MAX_TEXT}"):
        suggest(CONFIGS["example"], "alice@example.com", "orders database " * 640)


def test_person_in_no_flow_is_a_clear_error() -> None:
    with pytest.raises(AssistError, match="not a requestor in any access flow"):
        suggest(CONFIGS["example"], "erin@example.com", "read the orders database")


FULLWIDTH = "".join(chr(ord(ch) + 0xFEE0) if ch != " " else " " for ch in "orders database")


@pytest.mark.parametrize("text", ["🔥🔥 orders database 🔥", FULLWIDTH, "Ærø ørders dätabase", "\u202e orders\x00 db"])
def test_unicode(text: str) -> None:
    out = suggest(CONFIGS["example"], "alice@example.com", text)
    assert out and out[0].label() == "demo-postgres/database:orders (read)"


def test_nothing_matching_gives_no_suggestion() -> None:
    assert suggest(CONFIGS["example"], "alice@example.com", "zzz qqq") == []


def test_favorites_are_candidates_and_rechecked() -> None:
    cfg = CONFIGS["example"]

    class Fav:
        def __init__(self, name: str, spec: RequestSpec):
            self.name, self._spec = name, spec

        def spec(self) -> RequestSpec:
            return self._spec

    mine = RequestSpec(
        requester="bob@example.com",
        grantee="bob@example.com",
        duration_seconds=1800,
        items=[
            GrantItem(
                integration="demo-postgres", resource_type="table", resource="orders.public.refunds", permission="read"
            )
        ],
    )
    out = suggest(
        cfg, "bob@example.com", "my refunds shortcut", favorites=[Fav("refunds shortcut", mine), *FOREIGN_FAVORITES]
    )
    assert out[0].favorite == "refunds shortcut"
    assert out[0].resources == ["orders.public.refunds"] and out[0].duration_seconds == 1800
    assert all(s.integration != "reports" for s in out)


def test_least_privilege_first_and_cap() -> None:
    out = suggest(CONFIGS["example"], "bob@example.com", "orders database for 3 days")
    assert [s.permission for s in out[:2]] == ["read", "write"]
    assert out[0].duration_seconds == 4 * 3600
    assert "capped" in out[0].explanation


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("for an hour", 3600),
        ("30 minutes", 1800),
        ("2h", 7200),
        ("1h30m", 5400),
        ("half an hour", 1800),
        ("for two hours", 7200),
        ("90 min", 5400),
        ("1 hour 15 minutes", 4500),
        ("for a day", 86400),
        ("the orders db", None),
        ("2 orders", None),
    ],
)
def test_duration_phrases(text: str, seconds: int | None) -> None:
    assert parse_duration_phrase(text) == seconds
