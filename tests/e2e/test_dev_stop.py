"""Ctrl-C or SIGTERM stops the whole `grantflow dev` stack: the launcher exits 0 and none of its children
outlives it.

The children run in their own sessions (a terminal's Ctrl-C reaches only the launcher), so the launcher must
stop each one; a child left behind keeps a port and a database file busy. Here with `--no-slack
--no-postgres`: its own Temporal dev server, the codec server and the worker. The launcher is started with
SIGINT ignored, as a non-interactive shell starts a background job (CI runs so): it must stop anyway.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG, free_port, free_port_pair, venv_binary

pytestmark = pytest.mark.timeout(240)


def children_of(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie no one reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_stops_every_child_of_grantflow_dev(sig: signal.Signals) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gf-devstop-"))
    port = free_port_pair()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRANTFLOW_", "SLACK_", "DEMO_PG", "TEMPORAL_"))}
    env |= {
        "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "GRANTFLOW_STATE_DIR": str(tmp / "state"),
        "GRANTFLOW_CODEC_PORT": str(free_port()),
        "GRANTFLOW_CONFIG": str(EXAMPLE_CONFIG),
        "DATABASE_URL": f"sqlite:///{tmp}/gf.db",
        "GRANTFLOW_LOG_LEVEL": "WARNING",
    }
    log = tmp / "dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [venv_binary("grantflow"), "dev", "--no-slack", "--no-postgres"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=ignore_sigint,
        )
    kids: list[int] = []
    try:
        deadline = time.monotonic() + 180
        while "grantflow is running" not in log.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        kids = children_of(proc.pid)
        assert len(kids) == 3, f"expected the dev server, the codec server and the worker, found {kids}"
        started = time.monotonic()
        proc.send_signal(sig)
        assert proc.wait(timeout=90) == 0, log.read_text(errors="replace")[-3000:]
        took = time.monotonic() - started
        left = [k for k in kids if alive(k)]
        assert left == [], f"children outlived the launcher: {left}\n{log.read_text(errors='replace')[-2000:]}"
        assert took < 60, f"stopping took {took:.1f}s"
        assert "Shutting down" in log.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for k in kids:
            if alive(k):
                os.kill(k, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
