"""The typed Temporal contract (issue 11, step 4): what a reader follows from a click to the database.

Structural checks, no server: the workflow calls its activities by method (with the names the recorded
histories hold), a transition's kind is an enum with the values notifiers match on, the search attributes
are named in one module, and the lifecycle module stays short. tests/workflows/test_replay.py proves that
the command sequence did not change.
"""

from __future__ import annotations

import ast
from pathlib import Path

from activities.grants import GrantActivities
from activities.policy import PolicyActivities
from activities.records import RecordActivities
from grantflow.domain.models import TransitionKind
from grantflow.domain.search_attributes import KEYS, SEARCH_ATTRIBUTES
from grantflow.temporal import SEARCH_ATTRIBUTES as REGISTERED

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_MODULES = ("access_request", "outbox", "refusals", "state", "items", "carry", "steps", "verify", "schedule")
ACTIVITY_CALLS = {"execute_activity", "execute_local_activity", "start_activity", "start_local_activity"}


def _calls(module: str) -> list[ast.Call]:
    tree = ast.parse((ROOT / "workflows" / f"{module}.py").read_text())
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]


def test_the_access_request_workflow_calls_activities_by_method_only() -> None:
    by_name = [
        f"workflows/{m}.py:{c.lineno}" for m in WORKFLOW_MODULES for c in _calls(m) if c.func.attr in ACTIVITY_CALLS
    ]
    assert by_name == [], "activities called by name instead of execute_activity_method / ..._method"
    methods = {
        ast.unparse(c.args[0]) for m in WORKFLOW_MODULES for c in _calls(m) if c.func.attr.endswith("activity_method")
    }
    # items.call_item receives the GrantActivities methods from access_request.py.
    tree = ast.parse((ROOT / "workflows" / "access_request.py").read_text())
    passed = {
        ast.unparse(n.args[0])
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "call_item"
    }
    # Steps.run receives the short steps' methods (workflows/steps.py: regular, not local, activities).
    stepped = {
        ast.unparse(c.args[0])
        for m in WORKFLOW_MODULES
        for c in _calls(m)
        if c.func.attr == "run" and ast.unparse(c.func.value).endswith("_steps")
    }
    assert stepped == {
        "PolicyActivities.resolve_policy",
        "PolicyActivities.still_eligible",
        "DecisionActivities.verify_decision",
    }
    assert methods | passed == {
        "RecordActivities.publish_transitions",
        "activity",
        "method",
    } | {"GrantActivities.grant_item", "GrantActivities.extend_item", "GrantActivities.revoke_item"}


def test_activity_names_are_the_recorded_ones() -> None:
    """The names are in every recorded history: a renamed method must keep its @activity.defn(name=...)."""
    names = {
        getattr(fn, "__temporal_activity_definition").name
        for fn in (
            PolicyActivities.resolve_policy,
            GrantActivities.grant_item,
            GrantActivities.extend_item,
            GrantActivities.revoke_item,
            RecordActivities.publish_transitions,
        )
    }
    assert names == {"resolve_policy", "grant_item", "extend_item", "revoke_item", "publish_transitions"}


def test_transition_kinds_keep_their_recorded_values() -> None:
    assert {k.value for k in TransitionKind} == {
        "submitted",
        "approval",
        "approval_reminder",
        "approval_timeout",
        "rejected",
        "granting",
        "active",
        "expiry_reminder",
        "extended",
        "extend_failed",
        "revoking",
        "revoke_retry",
        "revoked",
        "expired",
        "failed",
        "audit",
        "escalated",
        "scheduled",
    }
    assert TransitionKind.ACTIVE == "active" and f"{TransitionKind.REVOKE_RETRY}" == "revoke_retry"


def test_search_attributes_are_named_in_one_module() -> None:
    assert REGISTERED is SEARCH_ATTRIBUTES
    assert SEARCH_ATTRIBUTES == {
        "AccessStatus": "Keyword",
        "AccessRequester": "Keyword",
        "AccessGrantee": "Keyword",
        "AccessIntegrations": "KeywordList",
        "AccessExpiresAt": "Datetime",
    }
    named_elsewhere = []
    for path in [*ROOT.glob("grantflow/**/*.py"), *ROOT.glob("workflows/*.py"), *ROOT.glob("activities/**/*.py")]:
        if path.name == "search_attributes.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in SEARCH_ATTRIBUTES:
                named_elsewhere.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
    assert named_elsewhere == []
    assert {k.name for k in KEYS} == set(SEARCH_ATTRIBUTES)


def test_the_lifecycle_module_stays_readable() -> None:
    for module in WORKFLOW_MODULES:
        lines = len((ROOT / "workflows" / f"{module}.py").read_text().splitlines())
        assert lines < 450, f"workflows/{module}.py has {lines} lines"
