"""The shipped example scripts run as grantflow runs them (`python3 scripts/grant.py ...`, a separate program):
they check the grantee and the folder themselves and never write outside their reports directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPTS = ROOT / "grantflow" / "examples" / "scripts"
PYTHON = shutil.which("python3") or "python3"


def run(state: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRANTFLOW_STATE_DIR": str(state)}
    return subprocess.run(
        [PYTHON, f"scripts/{script}", *args],
        cwd=SCRIPTS.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture()
def sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """A state dir two levels down, so that `../../` from its reports folder lands in the sandbox."""
    state = tmp_path / "a" / "state"
    state.mkdir(parents=True)
    return tmp_path, state


def test_grant_extend_revoke_of_a_plain_email(sandbox: tuple[Path, Path]) -> None:
    _, state = sandbox
    granted = run(state, "grant.py", "alice@example.com", "finance", "read", "r1", "2030-01-01T00:00:00Z")
    assert granted.returncode == 0, granted.stderr
    marker = state / "reports" / "finance" / "alice@example.com.json"
    assert json.loads(marker.read_text())["permission"] == "read"
    extended = run(state, "extend.py", "alice@example.com", "finance", "r1", "2030-01-02T00:00:00Z")
    assert extended.returncode == 0, extended.stderr
    assert json.loads(marker.read_text())["expires_at"] == "2030-01-02T00:00:00Z"
    assert run(state, "revoke.py", "alice@example.com", "finance", "read", "r1").returncode == 0
    assert not marker.exists()


BAD_GRANTEES = [
    "../../x@y",
    "../../x@example.com",
    "../x@example.com",
    "a/b@example.com",
    "x@example.com/../../../y",
    "a\\b@example.com",
    "..@example.com",
    ".x@example.com",
    "x@y",
    "x y@example.com",
    "x@example.com\n",
    '"x"@example.com',
    "",
    "x" * 250 + "@example.com",
]


@pytest.mark.parametrize("grantee", BAD_GRANTEES)
@pytest.mark.parametrize("script", ["grant.py", "extend.py", "revoke.py"])
def test_a_grantee_that_is_no_plain_email_is_refused(sandbox: tuple[Path, Path], grantee: str, script: str) -> None:
    root, state = sandbox
    args = {
        "grant.py": [grantee, "finance", "read", "r1", "2030-01-01T00:00:00Z"],
        "extend.py": [grantee, "finance", "r1", "2030-01-01T00:00:00Z"],
        "revoke.py": [grantee, "finance", "read", "r1"],
    }[script]
    before = files_under(root)
    done = run(state, script, *args)
    assert done.returncode == 1
    assert "not a plain email address" in done.stderr
    assert files_under(root) == before  # not even the folder was created


@pytest.mark.parametrize("folder", ["../finance", "finance/../../x", "", "..", "/etc"])
def test_an_unknown_folder_is_refused(sandbox: tuple[Path, Path], folder: str) -> None:
    root, state = sandbox
    before = files_under(root)
    done = run(state, "revoke.py", "alice@example.com", folder, "read", "r1")
    assert done.returncode == 1 and "no such folder" in done.stderr
    assert files_under(root) == before


def test_a_symlinked_folder_or_marker_cannot_send_the_write_elsewhere(sandbox: tuple[Path, Path]) -> None:
    root, state = sandbox
    outside = root / "outside"
    outside.mkdir()
    (state / "reports").mkdir()
    (state / "reports" / "finance").symlink_to(outside, target_is_directory=True)
    linked = run(state, "grant.py", "alice@example.com", "finance", "read", "r1", "2030-01-01T00:00:00Z")
    assert linked.returncode == 1 and "refusing" in linked.stderr
    assert list(outside.iterdir()) == []

    (state / "reports" / "sales").mkdir()
    target = outside / "victim.json"
    target.write_text("keep")
    (state / "reports" / "sales" / "bob@example.com.json").symlink_to(target)
    for script, args in (
        ("grant.py", ["bob@example.com", "sales", "read", "r1", "2030-01-01T00:00:00Z"]),
        ("extend.py", ["bob@example.com", "sales", "r1", "2030-01-01T00:00:00Z"]),
        ("revoke.py", ["bob@example.com", "sales", "read", "r1"]),
    ):
        done = run(state, script, *args)
        assert done.returncode == 1 and "refusing" in done.stderr, (script, done.stderr)
    assert target.read_text() == "keep"
