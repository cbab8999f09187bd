"""Escalation through Slack, on the time-skipping server with the real SlackNotifier and the fake Web API: after
4 hours of waiting the seniors get the approval message by DM, the step's channel gets a note, the existing
messages say "Escalated to ...", and a senior's approval grants the access."""

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
from slack_app import ids
from tests.slack_app.conftest import USERS
from tests.slack_app.fake_slack import Call, FakeSlack
from tests.workflows.conftest import config_with
from worker import build_worker

HOUR = 3600
PEOPLE = {**USERS, "UERIN": "erin@example.com", "UFRANK": "frank@example.com"}
ESCALATION = [{"after": "4h", "approvers": ["group:seniors"], "notify": "#access-escalations"}]


async def test_escalation_dms_the_new_approvers_and_notes_the_channel(
    time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path
) -> None:
    fake = await FakeSlack(PEOPLE).start()
    config_path = config_with(tmp_path / "config", "read-folders", escalation=ESCALATION)
    settings = Settings(
        GRANTFLOW_TASK_QUEUE=f"slack-tq-{uuid.uuid4().hex[:8]}",
        DATABASE_URL=f"sqlite:///{tmp_path}/gf.db",
        GRANTFLOW_STATE_DIR=str(state_dir),
        GRANTFLOW_CONFIG=str(config_path),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_API_URL=fake.api_url,
    )
    config = ConfigSource(config_path)
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
        justification="the on-call approvers are asleep",
    )

    def is_top(c: Call, u: str, rid: str) -> bool:
        return c.args.get("channel") == u and rid in c.text() and not c.args.get("thread_ts")

    def top(u: str, rid: str) -> list[Call]:
        return [c for c in fake.of("chat.postMessage") if is_top(c, u, rid)]

    try:
        async with worker:
            sub = await client.submit(spec)
            rid = sub.request_id
            first = {
                u: await fake.wait("chat.postMessage", lambda c, u=u: is_top(c, u, rid)) for u in ("UBOB", "UCAROL")
            }
            await fake.wait("chat.postMessage", lambda c: is_top(c, "UALICE", rid))
            assert not top("UERIN", rid) and not top("UFRANK", rid), "the seniors are not asked before 4h"

            await time_env.sleep(4 * HOUR + 60)
            dms = {
                u: await fake.wait("chat.postMessage", lambda c, u=u: is_top(c, u, rid)) for u in ("UERIN", "UFRANK")
            }
            for dm in dms.values():
                assert dm.action_ids() == [ids.APPROVE, ids.REJECT]
                assert "Escalated to" in dm.text()
            for u in ("UERIN", "UFRANK"):  # their Home tabs list it under "Pending my approval"
                await fake.wait("views.publish", lambda c, u=u: c.args.get("user_id") == u and rid in c.text())
            note = await fake.wait(
                "chat.postMessage", lambda c: c.args.get("channel") == "#access-escalations" and rid in c.text()
            )
            assert "Still waiting for approval after 4h" in note.text() and "escalated to" in note.text()
            assert "UERIN" in note.text() and "UFRANK" in note.text()
            # The messages already sent say so (edited in place), and the requester hears it in a thread.
            for call in first.values():
                ts = call.response["ts"]
                await fake.wait("chat.update", lambda c, ts=ts: c.args.get("ts") == ts and "Escalated to" in c.text())
            alice_ts = top("UALICE", rid)[0].response["ts"]
            await fake.wait(
                "chat.postMessage", lambda c: c.args.get("thread_ts") == alice_ts and "escalated to" in c.text()
            )

            await client.approve(rid, "frank@example.com", "covering for the leads")
            handle = time_env.client.get_workflow_handle(sub.workflow_id)
            for _ in range(200):
                if (await handle.query("status"))["status"] == "ACTIVE":
                    break
                await asyncio.sleep(0.05)
            assert (await handle.query("status"))["status"] == "ACTIVE"
            erin_ts = dms["UERIN"].response["ts"]
            await fake.wait("chat.update", lambda c: c.args.get("ts") == erin_ts and not c.action_ids())
            # One note per step, one DM per new approver: nothing twice.
            assert len([c for c in fake.of("chat.postMessage") if c.args.get("channel") == "#access-escalations"]) == 1
            assert len(top("UERIN", rid)) == 1 and len(top("UFRANK", rid)) == 1
    finally:
        await fake.stop()
