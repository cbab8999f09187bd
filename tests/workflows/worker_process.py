"""A worker as a process of its own (`python -m worker`), to be killed as a machine dies, beside the test's
in-process client: both on one fresh task queue, SQLite store, state folder and the test catalog."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from grantflow.settings import Settings
from tests.conftest import ROOT, TEST_CONFIG
from tests.e2e.conftest import TEST_ENCRYPTION_KEYS


def fresh_settings(tmp_path: Path) -> Settings:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    return Settings(
        GRANTFLOW_TASK_QUEUE=f"tq-{uuid.uuid4().hex[:8]}",
        DATABASE_URL=f"sqlite:///{tmp_path}/gf.db",
        GRANTFLOW_STATE_DIR=str(state),
        GRANTFLOW_CONFIG=str(TEST_CONFIG),
    )


def start_worker_process(address: str, settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    """The worker in its own session (kill it with os.killpg(p.pid, signal.SIGKILL)); its output goes to `log`."""
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "TMPDIR")},
        "TEMPORAL_ADDRESS": address,
        "GRANTFLOW_TASK_QUEUE": settings.task_queue,
        "DATABASE_URL": settings.database_url,
        "GRANTFLOW_STATE_DIR": str(settings.state_dir),
        "GRANTFLOW_CONFIG": str(TEST_CONFIG),
        "GRANTFLOW_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
        "GRANTFLOW_LOG_LEVEL": "WARNING",
        "SLACK_BOT_TOKEN": "",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
