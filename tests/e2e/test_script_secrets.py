"""Issue 10, points 9-11 on the real stack (dev server, worker, CLI): a script sees only the environment its
integration lists; whatever it prints reaches only the vault (history and the audit trail hold a reference);
a failing script's stderr is masked and cut; failure text in history is encrypted."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from grantflow.payloads.codec import EncryptionCodec, parse_keys
from grantflow.payloads.codec_server import start as start_codec_server
from tests.conftest import DevServer, free_port
from tests.e2e.conftest import TEST_ENCRYPTION_KEYS, Stack, start_stack
from tests.e2e.test_postgres_journey import payload_texts

SCRIPT = Path(__file__).resolve().parent.parent / "fixtures" / "scripts" / "secretive.py"

CONFIG = """\
groups:
  eng: [alice@example.com]
integrations:
  - id: vaulted
    type: script
    resource_types:
      - {{id: account, resources: [ok, fail], permissions: [use]}}
    grant: [{py}, {script}, grant, "{{resource}}"]
    revoke: [{py}, {script}, revoke, "{{resource}}"]
    env: [REPORTS_API_KEY, REPORTS_NOT_SET]
access_flows:
  - id: auto
    requestors: [group:eng]
    grants:
      - {{integration: vaulted, resource_types: [account], resources: ["*"], permissions: [use]}}
    approvals_required: 0
    max_duration: 8h
    justification_required: false
"""


@pytest.fixture()
async def script_stack(dev_server: DevServer, tmp_path: Path) -> AsyncIterator[Stack]:
    config = tmp_path / "grantflow.yml"
    config.write_text(CONFIG.format(py=json.dumps(sys.executable), script=json.dumps(str(SCRIPT))))
    # What the worker holds and a script must not see, beside GRANTFLOW_ENCRYPTION_KEYS and DATABASE_URL.
    extra = {
        "REPORTS_API_KEY": f"sk-live-{uuid.uuid4().hex}",
        "SLACK_SIGNING_SECRET": f"slack-{uuid.uuid4().hex}",
        "SLACK_APP_TOKEN": f"xapp-{uuid.uuid4().hex}",
        "DEMO_PG_DSN": f"postgresql://admin:pw-{uuid.uuid4().hex}@127.0.0.1:1/postgres",
        "AWS_SECRET_ACCESS_KEY": uuid.uuid4().hex,
        "LANG": "C.UTF-8",
        "TZ": "UTC",
    }
    async for s in start_stack(dev_server, tmp_path, config=config, extra_env=extra):
        yield s


async def request(st: Stack, resource: str) -> tuple[str, str]:
    out = await st.cli_json(
        "request",
        "--as",
        "alice@example.com",
        "--integration",
        "vaulted",
        "--resource-type",
        "account",
        "--resource",
        resource,
        "--permission",
        "use",
        "--duration",
        "1h",
    )
    return out["request_id"], out["workflow_id"]


async def histories(st: Stack, wid: str) -> dict[str, str]:
    """The history as stored (SDK fetch, no codec) and as an operator with the key sees it (the real CLI
    decoding through `grantflow codec-server`), each with every payload's data base64-decoded too."""
    raw = (await st.client.get_workflow_handle(wid).fetch_history()).to_json()
    plain = await st.temporal("workflow", "show", "--workflow-id", wid, "--output", "json")
    assert plain.returncode == 0, plain.stderr
    runner = await start_codec_server(EncryptionCodec(parse_keys(TEST_ENCRYPTION_KEYS)), "127.0.0.1", free_port())
    try:
        port = runner.addresses[0][1]
        shown = await st.temporal(
            "workflow", "show", "--workflow-id", wid, "--output", "json", "--codec-endpoint", f"http://127.0.0.1:{port}"
        )
    finally:
        await runner.cleanup()
    assert shown.returncode == 0, shown.stderr
    return {
        "fetch_history": raw + payload_texts(json.loads(raw)),
        "cli_without_codec": plain.stdout + payload_texts(json.loads(plain.stdout)),
        "cli_with_codec": shown.stdout + payload_texts(json.loads(shown.stdout)),
    }


async def audit_trail(st: Stack, rid: str) -> str:
    events = await st.facade.audit(request_id=rid)
    exported = await st.cli("audit", "--request", rid, "--format", "jsonl", check=True)
    return json.dumps([e.model_dump(mode="json") for e in events]) + exported.stdout


async def test_script_output_is_sealed_and_its_environment_is_minimal(script_stack: Stack) -> None:
    st = script_stack
    api_key = st.env["REPORTS_API_KEY"]
    rid, wid = await request(st, "ok")
    await st.wait_status(rid, "ACTIVE")

    # The grantee reads exactly what the script printed.
    details: dict[str, Any] = await st.cli_json("details", rid, "--as", "alice@example.com")
    [access] = details.values()
    assert access["api_key"] == api_key
    seen = json.loads(access["env"])
    assert set(seen) == {"PATH", "HOME", "LANG", "TZ", "GRANTFLOW_STATE_DIR", "REPORTS_API_KEY"}
    assert (seen["LANG"], seen["TZ"], seen["REPORTS_API_KEY"]) == ("C.UTF-8", "UTC", api_key)
    assert seen["GRANTFLOW_STATE_DIR"] == str(st.state_dir.resolve())

    # History (as stored, and decoded with the key) and the audit trail hold a reference, not the output.
    for name, text in (await histories(st, wid)).items():
        assert api_key not in text, name
        assert "sk-live-" not in text, name
    assert "secret_ref" in (await histories(st, wid))["cli_with_codec"]
    trail = await audit_trail(st, rid)
    assert "secret_ref" in trail and "vault:" in trail
    assert api_key not in trail and "api_key" not in trail

    await st.cli("revoke", rid, "--as", "alice@example.com", check=True)
    await st.wait_status(rid, "REVOKED")


async def test_a_failing_script_is_masked_cut_and_encrypted_in_history(script_stack: Stack) -> None:
    st = script_stack
    api_key = st.env["REPORTS_API_KEY"]
    marker = f"FAILMARK-{uuid.uuid4().hex}"
    (st.state_dir / "fail-marker").write_text(marker)
    rid, wid = await request(st, "fail")
    view = await st.wait_status(rid, "FAILED", timeout=60)

    reason: str = view["status_reason"]
    assert reason.startswith("grant failed: ") and marker in reason and api_key not in reason
    stderr_part = reason.split("(exit 5): ", 1)[1]
    assert len(stderr_part) <= 500 and stderr_part.endswith(f"retry with ***: {marker}")
    trail = await audit_trail(st, rid)
    assert marker in trail and api_key not in trail

    # Point 11: the failure's text is in history only encrypted: absent without the key, present with it.
    seen = await histories(st, wid)
    assert marker not in seen["fetch_history"]
    assert marker not in seen["cli_without_codec"]
    assert marker in seen["cli_with_codec"]
    for text in seen.values():
        assert api_key not in text
