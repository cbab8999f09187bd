"""On-call approval on the time-skipping server: the person on call is approved by grantflow (audited as such);
anyone else, an on-behalf request, and every failure of the lookup go to the flow's human approvers.

The PagerDuty example script (grantflow/examples/scripts/pagerduty_oncall.py) runs as the schedule's command
against a local HTTP server that answers `GET /oncalls` in PagerDuty's documented shape.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

from tests.conftest import ROOT, TEST_CONFIG
from tests.workflows.conftest import Harness, make_harness, settle
from tests.workflows.scenarios import audited, signal, spec

PAGERDUTY_SCRIPT = ROOT / "grantflow" / "examples" / "scripts" / "pagerduty_oncall.py"
TOKEN = "pd-test-token"


def oncall_config(folder: Path, schedule: dict[str, Any]) -> Path:
    """The test catalog with an `oncall: {sre: schedule}` and `auto_approve_if_oncall: sre` on read-folders."""
    data = yaml.safe_load(TEST_CONFIG.read_text())
    data.setdefault("oncall", {})["sre"] = schedule
    next(f for f in data["access_flows"] if f["id"] == "read-folders")["auto_approve_if_oncall"] = "sre"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "grantflow.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    if not (folder / "scripts").exists():
        (folder / "scripts").symlink_to(TEST_CONFIG.parent / "scripts")
    return path


async def harness(
    env: WorkflowEnvironment, tmp_path: Path, state_dir: Path, schedule: dict[str, Any]
) -> AsyncIterator[Harness]:
    async for h in make_harness(env, tmp_path, state_dir, oncall_config(tmp_path / "cfg", schedule)):
        yield h


def audit_of(h: Harness, rid: str) -> list[tuple[str, str, str, str]]:
    return [(e.actor, e.action, e.outcome, e.reason) for e in h.store.audit(request_id=rid)]


ALICE_ON_CALL = {"rotation": ["alice@example.com"], "handover": "monday 09:00 Europe/Berlin"}


async def test_the_person_on_call_is_approved_automatically(
    time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path
) -> None:
    async for h in harness(time_env, tmp_path, state_dir, ALICE_ON_CALL):
        rid = (await h.client.submit(spec(h, requester="alice@example.com"))).request_id
        view = await settle(h, rid, {"ACTIVE"})
        assert [a["approver"] for a in view["approvals"]] == ["grantflow"]
        assert view["approvals"][0]["comment"] == "automatic: on call for sre"
        await audited(h, rid, "approve", "ok")
        assert ("grantflow", "approve", "ok", "automatic: on call for sre") in audit_of(h, rid)
        # Nobody was asked: no approver message among the transitions published.
        assert "approval" not in h.notifier.kinds(rid)


async def test_anyone_else_waits_for_a_human(time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path) -> None:
    async for h in harness(time_env, tmp_path, state_dir, ALICE_ON_CALL):
        rid = (await h.client.submit(spec(h, requester="dan@example.com"))).request_id
        view = await settle(h, rid, {"PENDING_APPROVAL"})
        assert view["approvals"] == []
        await audited(h, rid, "oncall_check", "info")
        assert any("not on call for sre" in r for *_, r in audit_of(h, rid))
        await signal(h, rid, "approve", {"approver": "bob@example.com"})
        await settle(h, rid, {"ACTIVE"})


async def test_a_request_on_behalf_of_someone_else_is_not_automatic(
    time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path
) -> None:
    async for h in harness(time_env, tmp_path, state_dir, ALICE_ON_CALL):
        s = spec(h, requester="alice@example.com").model_copy(update={"grantee": "carol@example.com"})
        rid = (await h.client.submit(s)).request_id
        await settle(h, rid, {"PENDING_APPROVAL"})
        await audited(h, rid, "oncall_check", "info")


@pytest.mark.parametrize(
    ("command", "timeout", "why"),
    [
        (
            [sys.executable, "-c", "import sys; print('down', file=sys.stderr); sys.exit(3)"],
            5,
            "the command failed: down",
        ),
        ([sys.executable, "-c", "import time; time.sleep(30)"], 1, "longer than 1s"),
        ([sys.executable, "-c", "print('not an email')"], 5, "printed 'not an email'"),
    ],
    ids=["fails", "times-out", "prints-garbage"],
)
async def test_a_failed_lookup_falls_back_to_humans(
    time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path, command: list[str], timeout: int, why: str
) -> None:
    async for h in harness(time_env, tmp_path, state_dir, {"command": command, "timeout": timeout}):
        rid = (await h.client.submit(spec(h, requester="alice@example.com"))).request_id
        await audited(h, rid, "oncall_check", "failed", timeout=60)
        view = await settle(h, rid, {"PENDING_APPROVAL"})
        assert view["approvals"] == []
        reasons = [r for _, action, outcome, r in audit_of(h, rid) if (action, outcome) == ("oncall_check", "failed")]
        assert any(why in r for r in reasons), reasons
        await signal(h, rid, "approve", {"approver": "bob@example.com"})
        await settle(h, rid, {"ACTIVE"})


# --- PagerDuty ---------------------------------------------------------------------------------------------


class FakePagerDuty(BaseHTTPRequestHandler):
    """`GET /oncalls` as PagerDuty documents it: `oncalls[]` with `user` expanded by `include[]=users`."""

    on_call: dict[str, list[str]] = {}
    seen: list[dict[str, Any]] = []

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        FakePagerDuty.seen.append({"path": url.path, "query": query, "auth": self.headers.get("Authorization")})
        if self.headers.get("Authorization") != f"Token token={TOKEN}":
            self._json(401, {"error": {"message": "Unauthorized", "code": 2006}})
            return
        entries = []
        for sched in query.get("schedule_ids[]", []):
            for level, email in enumerate(FakePagerDuty.on_call.get(sched, []), 1):
                user: dict[str, Any] = {"id": f"P{level}", "type": "user_reference", "summary": email.split("@")[0]}
                if "users" in query.get("include[]", []):
                    user = {**user, "type": "user", "email": email, "name": email.split("@")[0].title()}
                entries.append(
                    {
                        "escalation_level": level,
                        "schedule": {"id": sched, "type": "schedule_reference"},
                        "user": user,
                        "start": "2026-12-01T09:00:00Z",
                        "end": "2026-12-08T09:00:00Z",
                    }
                )
        self._json(200, {"oncalls": entries, "limit": 25, "offset": 0, "more": False, "total": None})

    def _json(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture()
def pagerduty(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePagerDuty)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    FakePagerDuty.on_call = {"PSRE": ["alice@example.com"]}
    FakePagerDuty.seen = []
    monkeypatch.setenv("PAGERDUTY_TOKEN", TOKEN)
    monkeypatch.setenv("PAGERDUTY_API_URL", url)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def pagerduty_schedule(schedule_id: str = "PSRE") -> dict[str, Any]:
    return {
        "command": [sys.executable, str(PAGERDUTY_SCRIPT), "--schedule", schedule_id],
        "env": ["PAGERDUTY_TOKEN", "PAGERDUTY_API_URL"],
        "timeout": 20,
    }


async def test_pagerduty_says_who_is_on_call(
    time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path, pagerduty: str
) -> None:
    async for h in harness(time_env, tmp_path, state_dir, pagerduty_schedule()):
        rid = (await h.client.submit(spec(h, requester="alice@example.com"))).request_id
        await settle(h, rid, {"ACTIVE"}, timeout=60)
        other = (await h.client.submit(spec(h, requester="dan@example.com"))).request_id
        await audited(h, other, "oncall_check", "info", timeout=60)
        await settle(h, other, {"PENDING_APPROVAL"})
    call = FakePagerDuty.seen[0]
    assert call["path"] == "/oncalls" and call["auth"] == f"Token token={TOKEN}"
    assert call["query"]["schedule_ids[]"] == ["PSRE"] and call["query"]["include[]"] == ["users"]


async def test_pagerduty_refusing_the_token_falls_back_to_humans(
    time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path, pagerduty: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAGERDUTY_TOKEN", "wrong")
    async for h in harness(time_env, tmp_path, state_dir, pagerduty_schedule()):
        rid = (await h.client.submit(spec(h, requester="alice@example.com"))).request_id
        await audited(h, rid, "oncall_check", "failed", timeout=60)
        reasons = [r for _, action, _, r in audit_of(h, rid) if action == "oncall_check"]
        assert any("PagerDuty answered 401" in r for r in reasons), reasons
        await settle(h, rid, {"PENDING_APPROVAL"})
