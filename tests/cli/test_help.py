"""`grantflow --version` and `grantflow request --help` through the real entry point (issue 13, point 6)."""

from __future__ import annotations

import json
import re
import subprocess
from importlib.metadata import version
from pathlib import Path

from tests.conftest import EXAMPLE_CONFIG, venv_binary


def grantflow(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"COLUMNS": "100", "PATH": "/usr/bin:/bin"}
    return subprocess.run([venv_binary("grantflow"), *args], capture_output=True, text=True, timeout=60, env=env)


def test_version() -> None:
    done = grantflow("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"grantflow {version('grantflow')}\n"


def options(help_text: str) -> dict[str, str]:
    """Each option of a help page with the text after its name (continuation lines joined)."""
    section = help_text.split("Options:\n", 1)[1]
    found: dict[str, str] = {}
    current = ""
    for line in section.splitlines():
        m = re.match(r"^  (--[\w-]+)(.*)$", line)
        if m:
            current = m.group(1)
            found[current] = m.group(2).strip()
        elif current and line.strip():
            found[current] += " " + line.strip()
    return found


def test_request_help_documents_every_option_and_shows_examples() -> None:
    done = grantflow("request", "--help")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "<list[str]>" not in text and "<str>" not in text, text
    opts = options(text)
    for name in ("--as", "--integration", "--resource-type", "--resource", "--permission", "--bundle", "--for"):
        assert name in opts, (name, text)
    for name, rest in opts.items():
        # After the option (and its metavar), a sentence of help.
        words = rest.split()
        described = [w for w in words if not w.isupper() and not w.startswith("--")]
        assert len(described) >= 2, f"{name} has no help text: {rest!r}"
    assert "DATABASE, DATABASE.SCHEMA, DATABASE.TABLE or DATABASE.SCHEMA.TABLE" in " ".join(text.split())
    examples = text.split("Examples:", 1)[1].split("Options:", 1)[0]
    assert examples.count("grantflow request --as") == 2, examples


def test_config_check_json_for_scripts(tmp_path: Path) -> None:
    bad = tmp_path / "g.yml"
    bad.write_text("groups:\n  eng: [alice@example.com]\ncolour: red\n")
    done = grantflow("config", "check", str(bad), "--json")
    assert done.returncode == 2 and done.stderr == "", done.stderr
    assert json.loads(done.stdout) == {"ok": False, "problems": [f"{bad}:3: colour: unknown field"]}
    done = grantflow("config", "check", str(EXAMPLE_CONFIG), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
