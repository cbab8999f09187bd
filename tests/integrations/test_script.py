"""The `script` integration runs admin commands as argv lists: no shell, placeholders substituted per
argument, a timeout, stderr in the failure reason, stdout as access details."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.grants import WITHHELD, GrantActivities
from activities.integrations.base import GrantContext, IntegrationError
from activities.integrations.script import (
    MAX_REASON_STDERR,
    ScriptIntegrationDriver,
    failure_text,
    script_environment,
)
from grantflow.domain.config import ConfigSource, ScriptIntegration
from grantflow.domain.models import GrantItem
from grantflow.domain.ops import ItemOp
from grantflow.storage.store import Store
from grantflow.storage.vault import SecretVault

PY = sys.executable


def driver(
    tmp_path: Path,
    grant: list[str],
    revoke: list[str] | None = None,
    timeout: int = 5,
    extend: list[str] | None = None,
    env: list[str] | None = None,
    list_resources: list[str] | None = None,
) -> ScriptIntegrationDriver:
    cfg = ScriptIntegration.model_validate(
        {
            "id": "t",
            "type": "script",
            "timeout": timeout,
            "grant": grant,
            "revoke": revoke or [PY, "-c", "pass"],
            "extend": extend,
            "resource_types": [{"id": "folder", "resources": ["a"], "permissions": ["read"]}],
            "env": env or [],
            "list_resources": list_resources,
        }
    )
    return ScriptIntegrationDriver(cfg, tmp_path, tmp_path / "state")


def ctx(resource: str = "a") -> GrantContext:
    return GrantContext(
        request_id="r1",
        requester="alice@example.com",
        grantee="bob@example.com",
        item=GrantItem(integration="t", resource_type="folder", resource=resource, permission="read"),
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )


async def test_placeholders_are_single_arguments_and_no_shell_runs(tmp_path: Path) -> None:
    echo = [
        PY,
        "-c",
        "import json,sys; print(json.dumps(sys.argv[1:]))",
        "{grantee}",
        "{resource}",
        "{permission}",
        "{request_id}",
        "{expires_at}",
        "x{resource_type}y",
    ]
    hostile = "a; touch pwned; $(touch pwned2) `touch pwned3`"
    details = await driver(tmp_path, echo).grant(ctx(hostile))
    assert details == {"output": ["bob@example.com", hostile, "read", "r1", "2030-01-01T00:00:00+00:00", "xfoldery"]}
    assert not list(tmp_path.glob("pwned*"))


async def test_stdout_json_object_is_the_access_details(tmp_path: Path) -> None:
    d = driver(tmp_path, [PY, "-c", 'print(\'{"path": "/srv/a"}\')'])
    assert await d.grant(ctx()) == {"path": "/srv/a"}
    text = driver(tmp_path, [PY, "-c", "print('mounted at /srv/a')"])
    assert await text.grant(ctx()) == {"output": "mounted at /srv/a"}


async def test_non_zero_exit_fails_with_stderr(tmp_path: Path) -> None:
    d = driver(tmp_path, [PY, "-c", "import sys; sys.stderr.write('quota exceeded'); sys.exit(4)"])
    with pytest.raises(IntegrationError, match=r"t: grant failed \(exit 4\): quota exceeded"):
        await d.grant(ctx())


async def test_timeout_kills_the_command(tmp_path: Path) -> None:
    d = driver(tmp_path, [PY, "-c", "import time; time.sleep(30)"], timeout=1)
    start = datetime.now(UTC)
    with pytest.raises(IntegrationError, match="grant command timed out after 1s"):
        await d.grant(ctx())
    assert (datetime.now(UTC) - start).total_seconds() < 10


async def test_missing_program_is_not_retryable(tmp_path: Path) -> None:
    d = driver(tmp_path, ["/nonexistent/grant-tool", "{grantee}"])
    with pytest.raises(IntegrationError, match="cannot run grant command") as info:
        await d.grant(ctx())
    assert info.value.retryable is False


async def test_extend_is_optional_and_revoke_runs(tmp_path: Path) -> None:
    marker = tmp_path / "revoked"
    d = driver(tmp_path, [PY, "-c", "pass"], revoke=[PY, "-c", f"open({str(marker)!r}, 'w').write('{{resource}}')"])
    await d.extend(ctx())  # no extend command: nothing to do
    await d.revoke(ctx())
    assert marker.read_text() == "a"
    assert await d.list_resources("folder") == ["a"]


# --- issue 10: a minimal environment, masked and cut stderr ---------------------------------------------------

PRINT_ENV = [PY, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]
WORKER_SECRETS = {
    "GRANTFLOW_ENCRYPTION_KEYS": "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "SLACK_BOT_TOKEN": "xoxb-worker-token",
    "SLACK_SIGNING_SECRET": "signing-secret",
    "DATABASE_URL": "postgresql://gf:dbpw@db/grantflow",
    "DEMO_PG_DSN": "postgresql://admin:adminpw@db/demo",
    "GRANTFLOW_MCP_TOKENS": "tok:ops@example.com",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
}


@pytest.fixture()
def worker_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The worker's environment holds every secret grantflow has, plus what an integration lists."""
    for name, value in WORKER_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REPORTS_TOKEN", "reports-token-value")
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("TZ", "Europe/Paris")
    monkeypatch.delenv("REPORTS_UNSET", raising=False)
    return WORKER_SECRETS


@pytest.mark.parametrize("action", ["grant", "extend", "revoke", "list"])
async def test_commands_see_only_the_base_and_listed_environment(
    tmp_path: Path, worker_env: dict[str, str], action: str
) -> None:
    seen = tmp_path / "env.json"
    dump = [PY, "-c", f"import json, os; open({str(seen)!r}, 'w').write(json.dumps(dict(os.environ)))"]
    d = driver(tmp_path, dump, revoke=dump, extend=dump, list_resources=dump, env=["REPORTS_TOKEN", "REPORTS_UNSET"])
    if action == "list":
        await d.list_resources("folder")
    else:
        await getattr(d, action)(ctx())
    env = json.loads(seen.read_text())
    assert set(env) == {"PATH", "HOME", "LANG", "TZ", "GRANTFLOW_STATE_DIR", "REPORTS_TOKEN"}
    assert env["REPORTS_TOKEN"] == "reports-token-value" and env["TZ"] == "Europe/Paris"
    assert env["GRANTFLOW_STATE_DIR"] == str((tmp_path / "state").resolve())
    for value in worker_env.values():
        assert value not in json.dumps(env)


def test_grantflows_own_settings_never_pass_even_if_listed(tmp_path: Path) -> None:
    worker = {
        "PATH": "/bin",
        "GRANTFLOW_ENCRYPTION_KEYS": "k",
        "SLACK_BOT_TOKEN": "t",
        "DATABASE_URL": "d",
        "TEMPORAL_TLS_KEY": "x",
        "REPORTS_TOKEN": "r",
    }
    listed = ["GRANTFLOW_ENCRYPTION_KEYS", "SLACK_BOT_TOKEN", "DATABASE_URL", "TEMPORAL_TLS_KEY", "REPORTS_TOKEN"]
    env = script_environment(listed, tmp_path, worker)
    assert env == {"PATH": "/bin", "REPORTS_TOKEN": "r", "GRANTFLOW_STATE_DIR": str(tmp_path.resolve())}


async def test_without_env_a_command_gets_only_the_base(tmp_path: Path, worker_env: dict[str, str]) -> None:
    env = await driver(tmp_path, PRINT_ENV).grant(ctx())
    assert set(env) == {"PATH", "HOME", "LANG", "TZ", "GRANTFLOW_STATE_DIR"}


async def test_stderr_in_the_reason_is_masked_and_cut_to_its_tail(tmp_path: Path, worker_env: dict[str, str]) -> None:
    noisy = [
        PY,
        "-c",
        "import os, sys; t = os.environ['REPORTS_TOKEN']; "
        "sys.stderr.write(f'token {t} refused ' + 'x' * 2000 + f' (sent {t}) MARKER-END'); sys.exit(2)",
    ]
    with pytest.raises(IntegrationError) as info:
        await driver(tmp_path, noisy, env=["REPORTS_TOKEN"]).grant(ctx())
    message = str(info.value)
    prefix = "t: grant failed (exit 2): "
    assert message.startswith(prefix)
    err = message.removeprefix(prefix)
    assert len(err) == MAX_REASON_STDERR and err.endswith("x (sent ***) MARKER-END") and err.startswith("…x")
    assert "reports-token-value" not in message


def test_masking_runs_before_the_cut_and_longest_value_first() -> None:
    secret = "s3cr3t-value"
    # Cut first, the last 499 characters would start inside the secret ("alue..."); masked first, it is gone.
    stderr = (secret + "y" * 495).encode()
    assert failure_text(stderr, [secret]) == "***" + "y" * 495
    assert failure_text(b"a abc b", ["abc", "ab"]) == "a *** b"
    assert failure_text(b"  ", ["x"]) == "(no stderr)"
    assert failure_text(b"keep me", [""]) == "keep me"


SEALING_CONFIG = """\
groups: {{eng: [alice@example.com]}}
integrations:
  - id: t
    type: script
    resource_types: [{{id: folder, resources: [a], permissions: [read]}}]
    grant: [{py}, -c, {code}]
    revoke: [{py}, -c, pass]
access_flows: []
"""


def grant_activities(tmp_path: Path, code: str, vault: bool) -> tuple[GrantActivities, SecretVault | None]:
    path = tmp_path / "grantflow.yml"
    path.write_text(SEALING_CONFIG.format(py=json.dumps(PY), code=json.dumps(code)))
    store = Store(f"sqlite:///{tmp_path}/gf.db")
    store.create_all()
    keeper = SecretVault(store, "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=") if vault else None
    return GrantActivities(ConfigSource(path), tmp_path / "state", keeper), keeper


def op() -> ItemOp:
    c = ctx()
    return ItemOp(
        request_id=c.request_id, requester=c.requester, grantee=c.grantee, item=c.item, expires_at=c.expires_at
    )


PRINTS = "import json; print(json.dumps({'api_key': 'MARKER-1', 'hosts': ['a', 'b'], 'note': 'hi'}))"


async def test_the_grant_activity_seals_all_of_a_scripts_output(tmp_path: Path) -> None:
    acts, vault = grant_activities(tmp_path, PRINTS, vault=True)
    assert vault is not None
    result = await ActivityEnvironment().run(acts.grant_item, op())
    assert result == {"secret_ref": "vault:r1/t/folder/a/read"}
    assert vault.get("r1") == {"t/folder/a/read": {"api_key": "MARKER-1", "hosts": '["a", "b"]', "note": "hi"}}


async def test_without_a_vault_a_scripts_output_is_withheld_not_kept_in_history(tmp_path: Path) -> None:
    acts, _ = grant_activities(tmp_path, PRINTS, vault=False)
    result = await ActivityEnvironment().run(acts.grant_item, op())
    assert result == {"withheld": WITHHELD}
    assert "MARKER" not in json.dumps(result)


async def test_a_script_that_prints_nothing_needs_no_vault(tmp_path: Path) -> None:
    acts, _ = grant_activities(tmp_path, "pass", vault=False)
    assert await ActivityEnvironment().run(acts.grant_item, op()) == {}
