"""`grantflow slack` with SLACK_APP_TOKEN runs in Socket Mode: it asks the (fake) Web API for a socket URL,
takes `/access` over that websocket, acks there, opens no HTTP port, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import uuid
from pathlib import Path

from tests.conftest import DevServer, free_port
from tests.slack_app.conftest import CONFIG, USERS
from tests.slack_app.fake_slack import FakeSlack


def command(text: str, trigger: str) -> dict[str, str]:
    return {
        "token": "legacy",
        "team_id": "T1",
        "team_domain": "test",
        "channel_id": "CGENERAL",
        "channel_name": "general",
        "user_id": "UALICE",
        "user_name": "alice",
        "command": "/access",
        "text": text,
        "api_app_id": "A1",
        "response_url": "http://127.0.0.1:9/unused",
        "trigger_id": trigger,
    }


async def test_grantflow_slack_uses_socket_mode_with_an_app_token(dev_server: DevServer, tmp_path: Path) -> None:
    config = tmp_path / "grantflow.yml"
    config.write_text(CONFIG)
    fake = await FakeSlack(USERS).start()
    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        TEMPORAL_ADDRESS=dev_server.address,
        GRANTFLOW_TASK_QUEUE=f"socket-{uuid.uuid4().hex[:8]}",
        DATABASE_URL=f"sqlite:///{tmp_path}/gf.db",
        GRANTFLOW_CONFIG=str(config),
        GRANTFLOW_SLACK_PORT=str(http_port),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_APP_TOKEN="xapp-test",
        SLACK_API_URL=fake.api_url,
    )
    log = tmp_path / "slack.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from grantflow.cli import main; main()", "slack", env=env, stdout=out, stderr=out
        )
    try:
        await fake.connected(timeout=30)
        assert fake.of("apps.connections.open"), "the socket URL came from apps.connections.open"

        ack = await fake.envelope("slash_commands", command("help", "trigger-help"))
        assert "/access bundle" in str(ack.get("payload")), "the help text comes back in the ack"

        mark = fake.mark()
        ack = await fake.envelope("slash_commands", command("request", "trigger-request"))
        assert ack["envelope_id"]
        opened = await fake.wait("views.open", since=mark)
        assert opened.args["trigger_id"] == "trigger-request" and opened.args["view"]["callback_id"] == "gf_request"

        with contextlib.closing(socket.socket()) as sock:
            assert sock.connect_ex(("127.0.0.1", http_port)) != 0, "no HTTP endpoint in Socket Mode"

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0, log.read_text()
        assert "Socket Mode" in log.read_text()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await fake.stop()
