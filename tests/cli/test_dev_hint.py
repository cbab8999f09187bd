"""The startup hint of `grantflow dev` is never split across lines in a log file (issue 13, point 7)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from grantflow.dev import launcher


@pytest.mark.parametrize("columns", ["40", "80"])
def test_the_startup_hint_keeps_each_command_on_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    log = tmp_path / "dev.log"
    with log.open("w") as f:
        monkeypatch.setattr(sys, "stderr", f)
        monkeypatch.setattr(launcher.console, "_file", None, raising=False)
        launcher.print_startup_hint("http://localhost:8233")
    lines = log.read_text().splitlines()
    request = [ln for ln in lines if ln.startswith("  grantflow request ")]
    assert len(request) == 1, lines
    assert request[0].endswith("--justification 'debug an order'"), lines
    assert "  grantflow approve <ID> --as bob@example.com" in lines
    assert any(ln.startswith("grantflow is running.") and ln.endswith("http://localhost:8233") for ln in lines)
