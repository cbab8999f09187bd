"""Checking a requested resource against what its integration discovered: pure data and pure functions.

The worker discovers (it holds the integrations' credentials): `DiscoveryWorkflow` runs one `list_resources`
activity and answers a `DiscoveryAnswer`. The client facade caches answers for a short time and asks
`resource_problem` whether each requested item names something that exists, so a typo is refused at
submission with the closest names instead of failing after a person approved it.
"""

from __future__ import annotations

import difflib

from pydantic import BaseModel

from grantflow.domain.config import GrantflowConfig, PostgresIntegration, ScriptIntegration
from grantflow.domain.models import GrantItem

DISCOVERY_WORKFLOW_TYPE = "DiscoveryWorkflow"
DISCOVERY_ACTIVITY = "list_resources"
# How long a discovered list is trusted by a front door (seconds).
DISCOVERY_TTL_SECONDS = 60.0

# PostgreSQL resource names (README "Resource names"; the driver parses the same shapes).
PG_SHAPES = {
    "database": "DATABASE",
    "schema": "DATABASE.SCHEMA",
    "table": "DATABASE.TABLE or DATABASE.SCHEMA.TABLE",
}
_PG_PARTS = {"database": (1,), "schema": (2,), "table": (2, 3)}


class DiscoveryQuery(BaseModel):
    integration: str
    resource_type: str


class DiscoveryAnswer(BaseModel):
    """The names that exist (`names`), or why they could not be listed (`error`)."""

    names: list[str] | None = None
    error: str = ""


def discoverable(cfg: GrantflowConfig, item: GrantItem) -> bool | None:
    """True when the item's resources can be listed at the target; False when they cannot (a script
    integration with neither a resource list nor a `list_resources` command); None when there is nothing to
    discover (a script's static list, which `policy.item_problem` already checks)."""
    integ = cfg.integration(item.integration)
    if isinstance(integ, PostgresIntegration):
        return True
    if isinstance(integ, ScriptIntegration):
        rt = next((t for t in integ.resource_types if t.id == item.resource_type), None)
        if rt is not None and rt.resources:
            return None
        return bool(integ.list_resources)
    return None


def canonical_name(cfg: GrantflowConfig, item: GrantItem) -> str:
    """The name as discovery lists it: a PostgreSQL `DATABASE.TABLE` is `DATABASE.public.TABLE`."""
    integ = cfg.integration(item.integration)
    parts = item.resource.split(".")
    if isinstance(integ, PostgresIntegration) and item.resource_type == "table" and len(parts) == 2:
        return f"{parts[0]}.public.{parts[1]}"
    return item.resource


def shape_problem(cfg: GrantflowConfig, item: GrantItem) -> str | None:
    """Why a PostgreSQL resource name has the wrong shape (`orders` for a table), or None."""
    integ = cfg.integration(item.integration)
    if not isinstance(integ, PostgresIntegration) or item.resource_type not in _PG_PARTS:
        return None
    parts = item.resource.split(".")
    if len(parts) in _PG_PARTS[item.resource_type] and all(parts):
        return None
    return f'a {item.resource_type} is named {PG_SHAPES[item.resource_type]}, not "{item.resource}"'


def closest(typed: str, names: list[str], limit: int = 3) -> list[str]:
    """The names closest to what was typed: whole names by similarity, then names whose last part is what
    was typed (`orders` → `orders.public.orders`) or close to it."""
    found = difflib.get_close_matches(typed, names, n=limit, cutoff=0.6)
    last = typed.rsplit(".", 1)[-1]
    by_last = {n.rsplit(".", 1)[-1]: n for n in reversed(names)}
    for part in difflib.get_close_matches(last, list(by_last), n=limit, cutoff=0.6):
        exact = [n for n in names if n.rsplit(".", 1)[-1] == part]
        found += [n for n in exact if n not in found]
    return found[:limit]


def resource_problem(cfg: GrantflowConfig, item: GrantItem, names: list[str] | None) -> str | None:
    """Why the item names nothing that exists, with the closest names; None when it exists (or when there
    is no list to check it against)."""
    shape = shape_problem(cfg, item)
    if shape is not None:
        hints = closest(item.resource, names or [])
        return shape + (f"; did you mean {' or '.join(hints)}?" if hints else "")
    if names is None:
        return None
    name = canonical_name(cfg, item)
    if name in names:
        return None
    hints = closest(name, names)
    where = f"{item.integration}"
    return f"unknown {item.resource_type} {name} in {where}" + (
        f"; did you mean {' or '.join(hints)}?" if hints else ""
    )
