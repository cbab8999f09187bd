"""An operations stack on the real dev server: the test catalog plus a PostgreSQL integration, a worker on
its own task queue, a store, and a notifier that records transitions and admin announcements."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
import yaml
from temporalio.client import Client
from temporalio.worker import Worker

from grantflow.client import GrantflowClient
from grantflow.domain.config import ConfigSource
from grantflow.domain.models import Transition
from grantflow.payloads.codec import new_key_entry
from grantflow.settings import Settings
from grantflow.storage.store import Store
from grantflow.temporal import data_converter
from tests.conftest import DSN_ENV, TEST_CONFIG, DevServer
from worker import build_worker

T = TypeVar("T")
ADMIN_CHANNEL = "#grantflow-admins"


@dataclass
class RecordingNotifier:
    transitions: list[Transition] = field(default_factory=list)
    announcements: list[tuple[str | None, str]] = field(default_factory=list)

    async def notify(self, transitions: list[Transition]) -> None:
        self.transitions.extend(transitions)

    async def announce(self, channel: str | None, text: str) -> None:
        self.announcements.append((channel, text))


@dataclass
class Stack:
    temporal: Client
    client: GrantflowClient
    store: Store
    notifier: RecordingNotifier
    settings: Settings
    worker: Worker
    config_path: Path


def write_config(folder: Path) -> Path:
    """The test catalog, plus a PostgreSQL integration that seniors get without approval, and an admin channel."""
    data = yaml.safe_load(TEST_CONFIG.read_text())
    data["admin_channel"] = ADMIN_CHANNEL
    data["integrations"].append(
        {
            "id": "pg",
            "type": "postgresql",
            "name": "Test PostgreSQL",
            "dsn_env": DSN_ENV,
            "resource_types": ["database"],
        }
    )
    data["access_flows"].append(
        {
            "id": "pg-auto",
            "name": "Seniors read the test database",
            "requestors": ["group:seniors"],
            "grants": [
                {"integration": "pg", "resource_types": ["database"], "resources": ["orders"], "permissions": ["read"]}
            ],
            "approvals_required": 0,
            "max_duration": "1d",
            "default_duration": "2h",
            "justification_required": False,
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "grantflow.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    (folder / "scripts").symlink_to(TEST_CONFIG.parent / "scripts")
    return path


@pytest.fixture(scope="module")
async def stack(dev_server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("ops")
    state = tmp / "state"
    state.mkdir()
    config_path = write_config(tmp / "config")
    settings = Settings(
        TEMPORAL_ADDRESS=dev_server.address,
        GRANTFLOW_TASK_QUEUE=f"ops-{uuid.uuid4().hex[:8]}",
        DATABASE_URL=f"sqlite:///{tmp}/gf.db",
        GRANTFLOW_STATE_DIR=str(state),
        GRANTFLOW_CONFIG=str(config_path),
        GRANTFLOW_ENCRYPTION_KEYS=new_key_entry("test"),
    )
    temporal = await Client.connect(dev_server.address, data_converter=data_converter(settings.encryption_keys))
    config = ConfigSource(config_path)
    store = Store(settings.database_url)
    notifier = RecordingNotifier()
    worker = build_worker(temporal, settings, config=config, store=store, notifier=notifier)
    client = GrantflowClient(temporal, config, store, settings.task_queue)
    async with worker:
        yield Stack(temporal, client, store, notifier, settings, worker, config_path)


async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 20.0) -> T:
    """Poll until `ok(value)`; return the last value either way (the caller asserts on it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if ok(value) or loop.time() > deadline:
            return value
        await asyncio.sleep(0.3)
