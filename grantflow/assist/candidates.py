"""Candidates: every request a person may make that the catalog, their flows, their favorites and the
sentence itself can name."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from grantflow.assist.text import (
    _DOTTED,
    _IDENT,
    _MAX_MENTIONS,
    _NOT_NAMES,
    _TYPE_WORDS,
    _duration_spans,
    normalize,
    stem,
    terms,
)
from grantflow.domain import policy
from grantflow.domain.config import (
    AccessFlow,
    AwsIdentityCenterIntegration,
    FlowBundleGrant,
    FlowGrant,
    GrantflowConfig,
    MysqlIntegration,
    PostgresIntegration,
    ScriptIntegration,
    WebhookIntegration,
)
from grantflow.domain.models import GrantItem, RequestSpec


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
        if isinstance(integ, ScriptIntegration | WebhookIntegration):
            for rt in integ.resource_types:
                for r in rt.resources:
                    add(integ.id, rt.id, r)
        elif isinstance(integ, AwsIdentityCenterIntegration):
            for pattern in integ.include:
                if _literal(pattern):
                    add(integ.id, "account", pattern)
        else:
            shapes = ("database", "table") if isinstance(integ, MysqlIntegration) else ("database", "schema", "table")
            for pattern in integ.include:
                if _literal(pattern):
                    add(integ.id, shapes[min(pattern.count("."), len(shapes) - 1)], pattern)
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
        elif isinstance(integ, MysqlIntegration):  # DATABASE.TABLE: the schema slot is MySQL's table
            dbs = list(known.get((integ.id, "database"), {}))
            mentioned = _mentions(text, dbs)
            for n in mentioned["database"]:
                add(integ.id, "database", n)
            for n in mentioned["schema"] + [t for t in mentioned["table"] if t.count(".") == 1]:
                add(integ.id, "table", n)
    return {k: list(v) for k, v in known.items()}


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
            for rtype in policy.integration_resource_types(cfg, g.integration):
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
                        add(
                            _Candidate(
                                (
                                    GrantItem(
                                        integration=g.integration, resource_type=rtype, resource=name, permission=perm
                                    ),
                                )
                            )
                        )
    for fav_name, spec in favorites:
        add(
            _Candidate(
                tuple(spec.items),
                bundle=spec.bundle,
                favorite=fav_name or "favorite",
                favorite_duration=spec.duration_seconds,
            )
        )
    return list(out.values())


# What each discovered integration type is about, for people who name the system rather than the config id.
_TYPE_TERMS: dict[str, tuple[str, ...]] = {
    "postgresql": ("postgresql", "postgr", "sql", "database"),
    "aws_identity_center": ("aws", "amazon", "account", "sso", "console", "cloud", "role"),
}

# Field weights: naming a resource says more than naming the integration it lives in.
_WEIGHTS = {"resource": 4.0, "favorite": 2.5, "bundle": 2.5, "type": 2.0, "integration": 1.5, "about": 1.0, "flow": 0.5}


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
        if isinstance(integ, ScriptIntegration | WebhookIntegration):
            rt = next((t for t in integ.resource_types if t.id == item.resource_type), None)
            if rt is not None:
                f["type"].update(terms(f"{rt.name or ''} {rt.description}"))
        elif isinstance(integ, MysqlIntegration):
            f["integration"].update({"mysql", "mariadb", "sql", "database"})
        else:
            f["integration"].update(_TYPE_TERMS.get(integ.type, ()))
    if c.bundle:
        b = cfg.bundle(c.bundle)
        if b is not None:
            f["bundle"].update(terms(f"{b.id} {b.name} {b.description}"))
    if c.favorite:
        f["favorite"].update(terms(c.favorite))
    return f
