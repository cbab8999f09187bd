"""`grantflow policy who-can` and `grantflow policy simulate` through the real entry point, on a pair of configs
whose differences are known by construction, over a real request index (SQLite through grantflow's Store)
holding requests decided by the policy under the old config."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from grantflow.domain.config import parse_config
from grantflow.domain.models import AccessStatus, GrantItem, RequestSpec, StatusView
from grantflow.domain.policy import decide
from grantflow.storage.store import Store
from tests.conftest import venv_binary

OLD = """\
admins: [user:ops@example.com]
groups:
  eng: [alice@example.com, carol@example.com]
  owners: [bob@example.com, olga@example.com]
  leads: [erin@example.com]
integrations:
  - id: files
    type: script
    resource_types:
      - id: folder
        resources: [alpha, beta, gamma, delta]
        permissions: [read, write]
    grant: [python3, grant.py, "{grantee}", "{resource}"]
    revoke: [python3, revoke.py, "{grantee}", "{resource}"]
access_flows:
  - id: read
    requestors: [group:eng]
    grants: [{integration: files, resource_types: [folder], permissions: [read]}]
    approvals_required: 0
    max_duration: 8h
    justification_required: false
  - id: write
    requestors: [group:eng]
    grants: [{integration: files, resources: [alpha, beta], permissions: [write]}]
    approvers: [group:owners]
    approvals_required: 1
    max_duration: 8h
  - id: gamma-write
    requestors: [group:eng]
    grants: [{integration: files, resources: [gamma], permissions: [write]}]
    approvers: [group:owners]
    approvals_required: 1
    max_duration: 8h
  - id: delta-write
    requestors: [group:eng]
    grants: [{integration: files, resources: [delta], permissions: [write]}]
    approvers: [group:owners]
    approvals_required: 1
    max_duration: 8h
"""


def _edit(text: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


# Reading becomes manual; writing alpha/beta gains the leads and is cut to 2h; gamma can no longer be written;
# dave joins the engineers; delta is untouched.
NEW = _edit(
    OLD,
    ("eng: [alice@example.com, carol@example.com]", "eng: [alice@example.com, carol@example.com, dave@example.com]"),
    (
        "    approvals_required: 0\n    max_duration: 8h\n    justification_required: false\n",
        "    approvers: [group:owners]\n    approvals_required: 1\n    max_duration: 8h\n"
        "    justification_required: false\n",
    ),
    (
        "    approvers: [group:owners]\n    approvals_required: 1\n    max_duration: 8h\n  - id: gamma-write",
        "    approvers: [group:owners, group:leads]\n    approvals_required: 1\n    max_duration: 2h\n"
        "  - id: gamma-write",
    ),
    (
        "  - id: gamma-write\n    requestors: [group:eng]\n"
        "    grants: [{integration: files, resources: [gamma], permissions: [write]}]\n"
        "    approvers: [group:owners]\n    approvals_required: 1\n    max_duration: 8h\n",
        "",
    ),
)

NOW = datetime.now(UTC)
# (request id, requester, resource, permission, hours, days ago)
RECORDED = [
    ("r1", "alice@example.com", "alpha", "read", 1, 1),  # automatic → manual
    ("r2", "carol@example.com", "alpha", "write", 1, 2),  # approvers changed
    ("r3", "alice@example.com", "beta", "write", 4, 3),  # approvers changed, 4h cut to 2h
    ("r4", "carol@example.com", "gamma", "write", 1, 4),  # allowed → refused
    ("r5", "dave@example.com", "alpha", "read", 1, 5),  # refused → allowed
    ("r6", "alice@example.com", "delta", "write", 1, 6),  # unchanged
    ("r7", "alice@example.com", "gamma", "write", 1, 40),  # before --since 30d
]


def recorded_view(old: Any, rid: str, who: str, resource: str, perm: str, hours: int, days: int) -> StatusView:
    """What the workflow writes to the index for a request the old policy decided."""
    item = GrantItem(integration="files", resource_type="folder", resource=resource, permission=perm)
    spec = RequestSpec(
        requester=who, grantee=who, items=[item], duration_seconds=hours * 3600, justification="ticket 7"
    )
    d = decide(old, spec)
    return StatusView(
        request_id=rid,
        workflow_id=f"access-request-{rid}",
        status=AccessStatus.EXPIRED if d.allowed else AccessStatus.FAILED,
        status_reason="expired" if d.allowed else f"policy: {d.reason}",
        requester=who,
        grantee=who,
        grants=[item],
        justification=spec.justification,
        duration_seconds=spec.duration_seconds,
        flow_id=d.flow_id,
        flow_name=d.flow_name,
        approvers=d.approvers,
        approvals_required=d.approvals_required,
        submitted_at=NOW - timedelta(days=days),
    )


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Any]:
    old_path, new_path = tmp_path / "old.yml", tmp_path / "new.yml"
    old_path.write_text(OLD)
    new_path.write_text(NEW)
    url = f"sqlite:///{tmp_path / 'index.db'}"
    store = Store(url)
    store.create_all()
    old = parse_config(OLD)
    for row in RECORDED:
        store.upsert_request(recorded_view(old, *row))
    env = {**os.environ, "DATABASE_URL": url, "GRANTFLOW_CONFIG": str(old_path), "COLUMNS": "200"}
    return {"old": old_path, "new": new_path, "env": env}


def grantflow(setup: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_binary("grantflow"), *args], env=setup["env"], capture_output=True, text=True, timeout=60
    )


def test_simulate_reports_each_change_known_by_construction(setup: dict[str, Any]) -> None:
    proc = grantflow(setup, "policy", "simulate", str(setup["new"]), "--since", "30d", "--json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["requests"] == 6  # r7 is older than 30 days
    assert got["counts"] == {
        "allowed_to_refused": 1,
        "refused_to_allowed": 1,
        "automatic_to_manual": 1,
        "manual_to_automatic": 0,
        "approvers_changed": 2,
        "max_duration_cut": 1,
        "unchanged": 1,
    }
    changed = {r["request_id"]: r for r in got["changed"]}
    assert {rid: r["changes"] for rid, r in changed.items()} == {
        "r1": ["automatic_to_manual"],
        "r2": ["approvers_changed"],
        "r3": ["approvers_changed", "max_duration_cut"],
        "r4": ["allowed_to_refused"],
        "r5": ["refused_to_allowed"],
    }
    r1 = changed["r1"]
    assert (r1["before"]["automatic"], r1["after"]["automatic"]) == (True, False)
    assert r1["after"]["approvers"] == ["bob@example.com", "olga@example.com"]
    assert changed["r2"]["after"]["approvers"] == ["bob@example.com", "erin@example.com", "olga@example.com"]
    assert (changed["r3"]["before"]["duration_seconds"], changed["r3"]["after"]["duration_seconds"]) == (4 * 3600, 7200)
    r4 = changed["r4"]
    assert r4["before"]["flow_id"] == "gamma-write" and not r4["after"]["allowed"]
    assert "no access flow lets carol@example.com request files/folder:gamma (write)" in r4["after"]["reason"]
    r5 = changed["r5"]
    assert "dave@example.com is not a requestor" in r5["before"]["reason"]
    assert r5["after"]["flow_id"] == "read" and r5["after"]["approvals_required"] == 1

    # The same config replays everything unchanged; the table says so and still exits 0.
    same = grantflow(setup, "policy", "simulate", str(setup["old"]), "--since", "30d")
    assert same.returncode == 0, same.stderr
    assert "6 requests since" in same.stdout and "0 would change" in same.stdout

    table = grantflow(setup, "policy", "simulate", str(setup["new"]), "--since", "60d")
    assert table.returncode == 0, table.stderr
    assert "7 requests since" in table.stdout and "6 would change" in table.stdout
    assert "automatic→manual" in table.stdout and "allowed→refused" in table.stdout


def test_who_can_before_and_after(setup: dict[str, Any]) -> None:
    ask = ["policy", "who-can", "--integration", "files", "--resource-type", "folder"]
    before = json.loads(grantflow(setup, *ask, "--resource", "alpha", "--permission", "read", "--json").stdout)
    assert [(r["person"], r["max_duration"]) for r in before["requesters"]] == [
        ("alice@example.com", "8h"),
        ("carol@example.com", "8h"),
    ]
    assert all(
        [(p["flow_id"], p["automatic"], p["approvers"]) for p in r["paths"]] == [("read", True, [])]
        for r in before["requesters"]
    )

    after = json.loads(
        grantflow(
            setup, *ask, "--resource", "alpha", "--permission", "read", "--config", str(setup["new"]), "--json"
        ).stdout
    )
    assert [r["person"] for r in after["requesters"]] == ["alice@example.com", "carol@example.com", "dave@example.com"]
    for r in after["requesters"]:
        assert [(p["flow_id"], p["automatic"], p["approvers"], p["approvals_required"]) for p in r["paths"]] == [
            ("read", False, ["bob@example.com", "olga@example.com"], 1)
        ]

    # Every permission when none is named: gamma can be written before, by nobody after.
    gamma = json.loads(grantflow(setup, *ask, "--resource", "gamma", "--json").stdout)
    assert sorted((r["permission"], r["person"]) for r in gamma["requesters"]) == [
        ("read", "alice@example.com"),
        ("read", "carol@example.com"),
        ("write", "alice@example.com"),
        ("write", "carol@example.com"),
    ]
    gone = grantflow(setup, *ask, "--resource", "gamma", "--permission", "write", "--config", str(setup["new"]))
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.strip() == "nobody may request files/folder:gamma"

    table = grantflow(setup, *ask, "--resource", "beta", "--permission", "write", "--config", str(setup["new"]))
    assert table.returncode == 0 and "bob@example.com, erin@example.com, olga@example.com" in table.stdout
    assert "2h" in table.stdout

    unknown = grantflow(setup, *ask, "--resource", "omega")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr == 'grantflow: error: unknown folder "omega" in "files" (known: alpha, beta, gamma, delta)\n'
