"""Assist against the example catalog: a table of sentences with the request each one should lead to.

Each row is (person, sentence, expected top suggestion, expected duration or None for the flow default).
A suggestion is written as "integration/type:resource[,resource] (permission)" or "bundle ID".
"""

from __future__ import annotations

import pytest

from grantflow.assist import Suggestion, suggest
from grantflow.domain.config import GrantflowConfig, load_config
from tests.conftest import EXAMPLE_CONFIG

ALICE, BOB, CAROL, DAVE = "alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"
DB = "demo-postgres/database:orders"
CUSTOMERS = "demo-postgres/table:orders.customers"
FIN, SALES = "reports/folder:finance", "reports/folder:sales"

TABLE: list[tuple[str, str, str, int | None]] = [
    (ALICE, "I need to debug failed payments in the orders database for an hour", f"{DB} (read)", 3600),
    (ALICE, "I'm on call tonight and need to debug", "bundle oncall-debug", None),
    (ALICE, "on-call debugging access please", "bundle oncall-debug", None),
    (ALICE, "there is an incident, give me the oncall debug bundle for 2h", "bundle oncall-debug", 7200),
    (ALICE, "look at the finance reports", f"{FIN} (read)", None),
    (ALICE, "read the finance and sales reports", f"{FIN},sales (read)", None),
    (ALICE, "update the sales report folder for 2h", f"{SALES} (write)", 7200),
    (ALICE, "I have to upload the quarterly numbers to the finance folder", f"{FIN} (write)", None),
    (ALICE, "check the orders db", f"{DB} (read)", None),
    (ALICE, "query the orders.customers table for 30 minutes", f"{CUSTOMERS} (read)", 1800),
    (ALICE, "read-only access to the customers table in the orders database", f"{CUSTOMERS} (read)", None),
    (ALICE, "see why a customer's order did not ship", f"{DB} (read)", None),
    (ALICE, "investigate payments in postgres for 45 minutes", f"{DB} (read)", 2700),
    (ALICE, "sql access to orders for half an hour", f"{DB} (read)", 1800),
    (ALICE, "finanse reprots", f"{FIN} (read)", None),
    (ALICE, "sales figures for the board meeting", f"{SALES} (read)", None),
    (ALICE, "I need to look at revenue numbers for a day", f"{SALES} (read)", 86400),
    (ALICE, "Zugriff auf die Datenbank orders", f"{DB} (read)", None),
    (ALICE, "注文 orders database を見たい", f"{DB} (read)", None),
    (ALICE, "export the sales report", f"{SALES} (read)", None),
    (ALICE, "correct a typo in the finance report", f"{FIN} (write)", None),
    (CAROL, "customers database", "demo-postgres/database:customers (read)", None),
    (CAROL, "read the orders database for 12 hours", f"{DB} (read)", 8 * 3600),
    (CAROL, "billing questions, need the invoices", f"{FIN} (read)", None),
    (BOB, "fix a bad row in the customers table", f"{CUSTOMERS} (write)", None),
    (BOB, "read the orders database", f"{DB} (read)", None),
    (BOB, "delete duplicate orders from the orders database for 1h30m", f"{DB} (write)", 5400),
    (
        BOB,
        "update customer emails in orders.public.customers",
        "demo-postgres/table:orders.public.customers (write)",
        None,
    ),
    (BOB, "look at the analytics schema in orders", "demo-postgres/schema:orders.analytics (read)", None),
    (BOB, "I want to check payment records", f"{DB} (read)", None),
    (BOB, "write access to orders for 6 hours", f"{DB} (write)", 4 * 3600),
    (DAVE, "finance reports please", f"{FIN} (read)", None),
    (DAVE, "edit the sales folder for two hours", f"{SALES} (write)", 7200),
    (DAVE, "read finance for the rest of the day", f"{FIN} (read)", 8 * 3600),
    (DAVE, "I need the sales reports", f"{SALES} (read)", None),
]


@pytest.fixture(scope="module")
def cfg() -> GrantflowConfig:
    return load_config(EXAMPLE_CONFIG)


def _label(s: Suggestion) -> str:
    return s.label()


def test_table_is_big_enough() -> None:
    assert len(TABLE) >= 30


def test_top1_at_least_90_percent_and_top3_all(cfg: GrantflowConfig) -> None:
    misses1, misses3 = [], []
    for person, text, expected, _ in TABLE:
        got = [_label(s) for s in suggest(cfg, person, text)]
        if not got or got[0] != expected:
            misses1.append((text, expected, got[:3]))
        if expected not in got[:3]:
            misses3.append((text, expected, got[:3]))
    top1 = 1 - len(misses1) / len(TABLE)
    print(f"top-1 {top1:.1%} ({len(TABLE) - len(misses1)}/{len(TABLE)}), misses: {misses1}")
    assert top1 >= 0.9, misses1
    assert not misses3, misses3


@pytest.mark.parametrize(("person", "text", "expected", "duration"), TABLE, ids=[r[1][:40] for r in TABLE])
def test_duration_and_flow(cfg: GrantflowConfig, person: str, text: str, expected: str, duration: int | None) -> None:
    match = next(s for s in suggest(cfg, person, text) if s.label() == expected)
    flow = cfg.flow(match.flow_id)
    assert flow is not None
    assert match.duration_seconds == (duration if duration is not None else flow.default_duration)
    assert match.duration_seconds <= flow.max_duration
    assert match.explanation and "\n" not in match.explanation
    assert match.flow_name in match.explanation
