"""`oncall:` schedules and `auto_approve_if_oncall` in `grantflow config check`: every problem, with its line."""

from __future__ import annotations

import subprocess
from pathlib import Path

from grantflow.domain.config import parse_config
from tests.config.test_config_check import GRANTFLOW, LINE, edit, line_of

GOOD = edit(
    (
        "access_flows:\n",
        "oncall:\n  primary:\n    rotation: [alice@example.com, carol@example.com]\n"
        "    handover: monday 09:00 Europe/Berlin\n"
        "  paged:\n    command: [python3, scripts/pagerduty_oncall.py, --schedule, PABC]\n"
        "    env: [PAGERDUTY_TOKEN]\naccess_flows:\n",
    ),
    ("    max_duration: 8h\n", "    max_duration: 8h\n    auto_approve_if_oncall: primary\n"),
)

BAD = edit(
    (
        "access_flows:\n",
        "oncall:\n"
        "  nohandover:\n    rotation: [alice@example.com]\n"
        "  badzone:\n    rotation: [alice@example.com]\n    handover: monday 09:00 Mars/Olympus\n"
        '  both:\n    rotation: [alice@example.com]\n    handover: monday 09:00 UTC\n    command: ["true"]\n'
        "  bademail:\n    rotation: [not-an-email]\n    handover: monday 09:00 UTC\n"
        '  secret:\n    command: ["true"]\n    env: [GRANTFLOW_ENCRYPTION_KEYS]\n'
        "access_flows:\n",
    ),
    ("    max_duration: 8h\n", "    max_duration: 8h\n    auto_approve_if_oncall: nosuch\n"),
)


def test_a_good_oncall_config_parses() -> None:
    cfg = parse_config(GOOD)
    assert cfg.flow("read") is not None and cfg.flow("read").auto_approve_if_oncall == "primary"  # type: ignore[union-attr]
    assert cfg.oncall["paged"].timeout == 10


def test_every_oncall_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "grantflow.yml"
    path.write_text(BAD)
    out = subprocess.run([GRANTFLOW, "config", "check", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    found = {}
    for line in (out.stdout + out.stderr).splitlines():
        m = LINE.match(line)
        if m:
            found[m["path"]] = (int(m["line"]), m["message"])
    expected = {
        "access_flows[0].auto_approve_if_oncall": (line_of(BAD, "auto_approve_if_oncall: nosuch"), "unknown on-call"),
        "oncall.nohandover": (line_of(BAD, "nohandover:"), "needs a handover"),
        "oncall.badzone.handover": (line_of(BAD, "Mars/Olympus"), "unknown time zone"),
        "oncall.both": (line_of(BAD, "  both:"), "not both or neither"),
        "oncall.bademail.rotation[0]": (line_of(BAD, "not-an-email"), ""),
        "oncall.secret.env[0]": (line_of(BAD, "GRANTFLOW_ENCRYPTION_KEYS"), "grantflow's own setting"),
    }
    for where, (line, words) in expected.items():
        assert where in found, f"{where} not reported: {out.stdout}{out.stderr}"
        assert found[where][0] == line, (where, found[where])
        assert words in found[where][1], (where, found[where])
