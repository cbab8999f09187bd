"""The Slack app's layout holds: every button a view draws is one a listener handles, and the notifier
(activities/) builds on slack_app's views, never on its listeners."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from slack_app import ids

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).parent / "snapshots"


def actions_drawn(surface: Any) -> set[str]:
    """Action ids of buttons, and of selects that dispatch an action, anywhere in a surface."""
    found: set[str] = set()
    if isinstance(surface, dict):
        if surface.get("type") == "button":
            found.add(str(surface.get("action_id")))
        if surface.get("type") == "input" and surface.get("dispatch_action"):
            found.add(str(surface["element"].get("action_id")))
        for value in surface.values():
            found |= actions_drawn(value)
    elif isinstance(surface, list):
        for value in surface:
            found |= actions_drawn(value)
    return found


def test_every_button_drawn_is_handled() -> None:
    drawn: set[str] = set()
    for snapshot in sorted(SNAPSHOTS.glob("*.json")):
        drawn |= actions_drawn(json.loads(snapshot.read_text()))
    assert drawn, "the snapshots draw buttons"
    assert drawn <= ids.ACTIONS, drawn - ids.ACTIONS


def test_activities_do_not_import_slack_listeners() -> None:
    offenders = []
    for path in sorted((ROOT / "activities").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            offenders += [
                f"{path.relative_to(ROOT)}: {n}"
                for n in names
                if n.startswith(("slack_app.listeners", "slack_app.app"))
            ]
    assert offenders == []


def test_no_id_is_both_an_action_and_a_callback() -> None:
    assert not ids.ACTIONS & ids.MODALS, ids.ACTIONS & ids.MODALS
