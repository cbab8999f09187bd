"""`grantflow policy who-can` names the on-call and escalation paths of a flow (issue 15.4: "who approves, how
many approvals, max duration, on-call or automatic paths"), on the test catalog."""

from __future__ import annotations

import json
import subprocess

import yaml

from tests.cli.test_help import grantflow
from tests.conftest import TEST_CONFIG, venv_binary


def wide(*args: str) -> str:
    """The table as a wide terminal shows it (each cell on one line)."""
    env = {"COLUMNS": "400", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([venv_binary("grantflow"), *args], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


ASK = ["policy", "who-can", "--integration", "files", "--resource-type", "folder"]


def test_an_on_call_path_is_named() -> None:
    done = grantflow(*ASK, "--resource", "gamma", "--permission", "write", "--config", str(TEST_CONFIG), "--json")
    assert done.returncode == 0, done.stderr
    people = {r["person"]: r for r in json.loads(done.stdout)["requesters"]}
    assert sorted(people) == ["erin@example.com", "frank@example.com"]
    (path,) = people["erin@example.com"]["paths"]
    assert (path["flow_id"], path["approvals_required"], path["oncall_schedule"]) == ("oncall-gamma-write", 1, "night")
    text = wide(*ASK, "--resource", "gamma", "--permission", "write", "--config", str(TEST_CONFIG))
    assert "1 of bob@example.com, carol@example.com; automatic when on call for night" in text


def test_escalation_steps_are_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(TEST_CONFIG.read_text())
    flow = next(f for f in data["access_flows"] if f["id"] == "read-folders")
    flow["escalation"] = [{"after": "4h", "approvers": ["group:seniors"]}]
    (tmp_path / "scripts").symlink_to(TEST_CONFIG.parent / "scripts")
    config = tmp_path / "grantflow.yml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    done = grantflow(*ASK, "--resource", "alpha", "--permission", "read", "--config", str(config), "--json")
    assert done.returncode == 0, done.stderr
    dan = next(r for r in json.loads(done.stdout)["requesters"] if r["person"] == "dan@example.com")
    assert dan["paths"][0]["escalation"] == [
        {"after_seconds": 4 * 3600, "approvers": ["erin@example.com", "frank@example.com"]}
    ]
    text = wide(*ASK, "--resource", "alpha", "--permission", "read", "--config", str(config))
    assert "; after 4h also erin@example.com, frank@example.com" in text
