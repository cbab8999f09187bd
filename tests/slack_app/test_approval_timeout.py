"""A week of nobody approving, on the time-skipping server, with the real SlackNotifier and the fake Web API:
each approver is reminded once a day, and the requester hears that approval timed out."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from activities.notifiers.slack import SlackNotifier
from grantflow.client import GrantflowClient
from grantflow.domain.config import ConfigSource
from grantflow.settings import Settings
from grantflow.storage.store import Store
from tests.conftest import TEST_CONFIG
from tests.slack_app.conftest import USERS
from tests.slack_app.fake_slack import Call, FakeSlack
from worker import build_worker

DAY = 24 * 3600


async def test_reminders_then_timeout_notice(time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path) -> None:
    fake = await FakeSlack(USERS).start()
    settings = Settings(
        GRANTFLOW_TASK_QUEUE=f"slack-tq-{uuid.uuid4().hex[:8]}",
        DATABASE_URL=f"sqlite:///{tmp_path}/gf.db",
        GRANTFLOW_STATE_DIR=str(state_dir),
        GRANTFLOW_CONFIG=str(TEST_CONFIG),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_API_URL=fake.api_url,
    )
    config = ConfigSource(TEST_CONFIG)
    store = Store(settings.database_url)
    store.create_all()
    notifier = SlackNotifier.from_settings(settings, store, config)
    worker = build_worker(time_env.client, settings, config=config, store=store, notifier=notifier)
    client = GrantflowClient(time_env.client, config, store, settings.task_queue)
    spec = client.build_spec(
        requester="alice@example.com",
        integration="files",
        resource_type="folder",
        resources=["alpha"],
        permission="read",
        duration="1h",
        justification="nobody will answer",
    )
    try:
        async with worker:
            sub = await client.submit(spec)
            rid = sub.request_id
            handle = time_env.client.get_workflow_handle(sub.workflow_id)
            top = {
                u: await fake.wait(
                    "chat.postMessage",
                    lambda c, u=u: c.args.get("channel") == u and rid in c.text() and not c.args.get("thread_ts"),
                )
                for u in ("UALICE", "UBOB", "UCAROL")
            }

            def replies(u: str, words: str) -> list[Call]:
                ts = top[u].response["ts"]
                return [c for c in fake.of("chat.postMessage") if c.args.get("thread_ts") == ts and words in c.text()]

            await time_env.sleep(DAY + 60)
            for u in ("UBOB", "UCAROL"):
                await fake.wait("chat.postMessage", lambda c, u=u: bool(replies(u, "still waiting for approval")))
            assert not replies("UALICE", "still waiting"), "the requester is not the one reminded"

            await time_env.sleep(6 * DAY)
            for _ in range(200):
                if (await handle.query("status"))["status"] == "FAILED":
                    break
                await asyncio.sleep(0.05)
            view = await handle.query("status")
            assert (view["status"], view["status_reason"]) == ("FAILED", "approval timed out")
            await fake.wait("chat.postMessage", lambda c: bool(replies("UALICE", "Nobody approved")))
            [notice] = replies("UALICE", "Nobody approved")
            assert "approval timed out" in notice.text() and notice.args.get("reply_broadcast")
            for u in ("UBOB", "UCAROL"):
                assert len(replies(u, "still waiting for approval")) == 6, "one reminder a day, none twice"
                assert not replies(u, "Nobody approved")
                final = [c for c in fake.of("chat.update") if c.args.get("ts") == top[u].response["ts"]][-1]
                assert not final.action_ids(), "the approvers' buttons are gone"
    finally:
        await fake.stop()
