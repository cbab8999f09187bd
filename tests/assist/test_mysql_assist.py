"""Assist with a `mysql` integration beside a PostgreSQL one: its tags, its DATABASE.TABLE names (from the
sentence, `include` and discovery) and the words "mysql"/"mariadb" lead to it."""

from __future__ import annotations

import pytest

from grantflow.assist import suggest
from grantflow.domain.config import GrantflowConfig, parse_config

CONFIG = """\
integrations:
  - id: pg
    type: postgresql
    dsn_env: PG_DSN
    tags: [orders]
  - id: shop
    type: mysql
    name: Shop database
    dsn_env: SHOP_DSN
    tags: [shop, checkout]
    include: [shop, "shop.*", billing]
access_flows:
  - id: f
    requestors: [user:alice@example.com]
    grants:
      - {integration: pg, resource_types: ["*"], resources: ["*"], permissions: [read, write]}
      - {integration: shop, resource_types: ["*"], resources: ["*"], permissions: [read, write]}
    approvals_required: 0
"""


@pytest.fixture(scope="module")
def cfg() -> GrantflowConfig:
    return parse_config(CONFIG, "g.yml")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("read the shop database in mysql", "shop/database:shop (read)"),
        ("mariadb billing database for an hour", "shop/database:billing (read)"),
        ("query the shop.customers table in mysql", "shop/table:shop.customers (read)"),
        ("fix a row in shop.orders on our mariadb", "shop/table:shop.orders (write)"),
    ],
)
def test_mysql_requests_are_suggested(cfg: GrantflowConfig, text: str, expected: str) -> None:
    top = suggest(cfg, "alice@example.com", text)[0]
    assert f"{top.integration}/{top.resource_type}:{','.join(top.resources)} ({top.permission})" == expected


def test_discovered_tables_are_candidates(cfg: GrantflowConfig) -> None:
    found = suggest(cfg, "alice@example.com", "look at invoices", resources={("shop", "table"): ["billing.invoices"]})
    assert found and found[0].items[0].resource == "billing.invoices" and found[0].items[0].integration == "shop"
