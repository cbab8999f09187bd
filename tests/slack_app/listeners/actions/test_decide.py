"""Approve and Reject (slack_app/listeners/actions/decide.py): who may decide, and every copy follows."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from tests.slack_app.conftest import Stack
from tests.slack_app.helpers import buttons


async def test_non_approver_and_cli_decision_update_every_copy(stack: Stack) -> None:
    s = stack.slack
    mark = s.mark()
    rid, _ = await stack.request_via_modal("UALICE", "folder", ["gamma"], "debugging")
    to_bob = await stack.posted_to("UBOB", rid, since=mark)
    to_carol = await stack.posted_to("UCAROL", rid, since=mark)

    mark = s.mark()
    await stack.click("UMALLORY", "gf_approve", rid, message=to_bob)
    note = await s.wait("chat.postEphemeral", lambda c: c.args.get("user") == "UMALLORY", since=mark)
    assert "not an approver" in note.text()
    await stack.click("UALICE", "gf_approve", rid, message=to_bob)
    note = await s.wait("chat.postEphemeral", lambda c: c.args.get("user") == "UALICE", since=mark)
    assert "own request" in note.text()
    assert (await stack.client.status(rid)).status.value == "PENDING_APPROVAL"
    assert not s.since(mark, "chat.update"), "nothing changed"

    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "GRANTFLOW_TASK_QUEUE": stack.settings.task_queue,
        "DATABASE_URL": stack.settings.database_url,
        "GRANTFLOW_CONFIG": str(stack.settings.config_file),
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-c",
            "from grantflow.cli import main; main()",
            "reject",
            rid,
            "--as",
            "bob@example.com",
            "--reason",
            "not now",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    await stack.wait_status(rid, "REJECTED")
    for copy in (to_bob, to_carol):
        decided = await stack.updated(copy, lambda c: "Rejected by" in c.text(), since=mark)
        assert "gf_approve" not in buttons(decided) and "not now" in decided.text()
