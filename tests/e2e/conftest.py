"""The real stack for journeys: a `temporal server start-dev`, the real worker, the CLI as a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from grantflow.client import GrantflowClient
from grantflow.domain.config import ConfigSource
from grantflow.settings import Settings
from grantflow.storage.store import Store
from grantflow.temporal import data_converter
from tests.conftest import EXAMPLE_CONFIG, TEST_DECISION_KEYS, DevServer, venv_binary
from worker import build_worker

# A key for tests only: committed so that recorded histories replay in CI.
TEST_ENCRYPTION_KEYS = "test-1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


@dataclass
class Stack:
    server: DevServer
    client: Client
    facade: GrantflowClient
    settings: Settings
    env: dict[str, str]
    state_dir: Path

    async def cli(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run `grantflow` in a thread: the worker shares this event loop and must keep running."""
        proc = await asyncio.to_thread(
            subprocess.run, [venv_binary("grantflow"), *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"grantflow {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc

    async def cli_json(self, *args: str) -> Any:
        return json.loads((await self.cli(*args, "--json", check=True)).stdout)

    async def temporal(self, *args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run,
            [venv_binary("temporal"), *args, "--address", self.server.address],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    async def wait_status(self, request_id: str, want: str, timeout: float = 30) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            view = (await self.facade.status(request_id)).model_dump(mode="json")
            if view["status"] == want:
                return view
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{request_id} is {view['status']} ({view['status_reason']}), wanted {want}")
            await asyncio.sleep(0.2)


async def start_stack(
    server: DevServer, tmp: Path, config: Path = EXAMPLE_CONFIG, extra_env: dict[str, str] | None = None
) -> AsyncIterator[Stack]:
    state = tmp / "state"
    state.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": server.address,
        "GRANTFLOW_TASK_QUEUE": f"e2e-{uuid.uuid4().hex[:8]}",
        "DATABASE_URL": f"sqlite:///{tmp}/grantflow.db",
        "GRANTFLOW_CONFIG": str(config),
        "GRANTFLOW_STATE_DIR": str(state),
        "GRANTFLOW_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
        "GRANTFLOW_DECISION_KEYS": TEST_DECISION_KEYS,
        **(extra_env or {}),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = Settings()
        client = await Client.connect(server.address, data_converter=data_converter(TEST_ENCRYPTION_KEYS))
        store = Store(settings.database_url)
        config_source = ConfigSource(config)
        worker = build_worker(client, settings, config=config_source, store=store)
        facade = await GrantflowClient.connect(settings, config_source)
        async with worker:
            yield Stack(server, client, facade, settings, env, state)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture()
async def stack(dev_server: DevServer, tmp_path: Path) -> AsyncIterator[Stack]:
    async for s in start_stack(dev_server, tmp_path):
        yield s
