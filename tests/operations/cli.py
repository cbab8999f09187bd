"""Running the real `grantflow` CLI against a test stack, as an operator would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.operations.conftest import Stack


async def grantflow(stack: Stack, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "GRANTFLOW_TASK_QUEUE": stack.settings.task_queue,
        "DATABASE_URL": stack.settings.database_url,
        "GRANTFLOW_CONFIG": str(stack.config_path),
        "GRANTFLOW_ENCRYPTION_KEYS": stack.settings.encryption_keys or "",
        "PYTHONIOENCODING": "ascii",  # the export must not depend on the terminal's encoding
    }
    cmd = [str(Path(sys.executable).parent / "grantflow"), *args]
    return await asyncio.to_thread(subprocess.run, cmd, env=env, capture_output=True, timeout=60)
