"""The stack every MCP test talks to: a Temporal dev server and a worker running in this test process, with
the test catalog; the MCP server itself is spawned by each test module (stdio or HTTP)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client as TemporalClient

from grantflow.domain.config import ConfigSource
from grantflow.domain.models import Transition
from grantflow.settings import Settings
from grantflow.storage.store import Store
from grantflow.temporal import data_converter
from tests.conftest import TEST_CONFIG, TEST_DECISION_KEYS, DevServer
from worker import build_worker


class _Quiet:
    async def notify(self, transitions: list[Transition]) -> None:
        return None


@pytest.fixture(scope="module")
async def stack(dev_server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("mcp")
    state = tmp / "state"
    state.mkdir()
    env = {
        "TEMPORAL_ADDRESS": dev_server.address,
        "DATABASE_URL": f"sqlite:///{tmp}/gf.db",
        "GRANTFLOW_CONFIG": str(TEST_CONFIG),
        "GRANTFLOW_TASK_QUEUE": f"mcp-{uuid.uuid4().hex[:8]}",
        "GRANTFLOW_STATE_DIR": str(state),
        "GRANTFLOW_ENCRYPTION_KEYS": "",
        "GRANTFLOW_DECISION_KEYS": TEST_DECISION_KEYS,
    }
    settings = Settings(**env)  # type: ignore[arg-type]
    temporal = await TemporalClient.connect(dev_server.address, data_converter=data_converter(""))
    store = Store(settings.database_url)
    worker = build_worker(temporal, settings, config=ConfigSource(TEST_CONFIG), store=store, notifier=_Quiet())
    async with worker:
        yield env
