"""The pure check of a requested resource against a discovered list (grantflow.domain.discovery)."""

from __future__ import annotations

import asyncio

import pytest

from grantflow.discovery import ResourceCatalog
from grantflow.domain.config import parse_config
from grantflow.domain.discovery import DiscoveryAnswer, DiscoveryQuery, closest, resource_problem
from grantflow.domain.models import GrantItem
from tests.conftest import EXAMPLE_CONFIG

CFG = parse_config(EXAMPLE_CONFIG.read_text())
TABLES = ["orders.public.customers", "orders.public.orders", "inventory.public.items"]


def item(resource_type: str, resource: str, integration: str = "demo-postgres") -> GrantItem:
    return GrantItem(integration=integration, resource_type=resource_type, resource=resource, permission="read")


@pytest.mark.parametrize(
    ("resource_type", "resource", "names", "problem"),
    [
        ("database", "orders", ["inventory", "orders"], None),
        ("table", "orders.orders", TABLES, None),
        ("table", "orders.public.orders", TABLES, None),
        ("database", "order", ["inventory", "orders"], "unknown database order in demo-postgres; did you mean orders?"),
        ("database", "zzz", ["inventory", "orders"], "unknown database zzz in demo-postgres"),
        (
            "table",
            "orders",
            TABLES,
            'a table is named DATABASE.TABLE or DATABASE.SCHEMA.TABLE, not "orders"; '
            "did you mean orders.public.orders?",
        ),
        ("schema", "orders", None, 'a schema is named DATABASE.SCHEMA, not "orders"'),
        ("table", "orders.nosuch", None, None),
    ],
)
def test_resource_problem(resource_type: str, resource: str, names: list[str] | None, problem: str | None) -> None:
    assert resource_problem(CFG, item(resource_type, resource), names) == problem


def test_closest_prefers_whole_names_then_the_last_part() -> None:
    assert closest("orders.public.nosuch", TABLES)[0] == "orders.public.orders"
    assert closest("customer", TABLES) == ["orders.public.customers"]
    assert closest("qqq", TABLES) == []


def test_the_catalog_caches_for_its_ttl_and_says_why_it_could_not_check() -> None:
    calls: list[DiscoveryQuery] = []
    now = [0.0]

    async def lookup(q: DiscoveryQuery) -> DiscoveryAnswer:
        calls.append(q)
        if len(calls) == 1:
            raise TimeoutError("no worker")
        return DiscoveryAnswer(names=["orders"])

    catalog = ResourceCatalog(lookup, ttl=60, clock=lambda: now[0])
    db = item("database", "orders")

    async def go() -> None:
        assert await catalog.names(CFG, db) is None
        assert catalog.unchecked(CFG, [db]) == [
            "demo-postgres/database: resources not checked (discovery did not answer: TimeoutError: no worker)"
        ]
        now[0] = 61
        assert await catalog.names(CFG, db) == ["orders"]
        assert await catalog.names(CFG, db) == ["orders"]
        assert catalog.unchecked(CFG, [db]) == []
        # A script with a static list needs no lookup.
        assert await catalog.names(CFG, item("folder", "finance", "reports")) is None

    asyncio.run(go())
    assert len(calls) == 2
