"""The `script` integration runs admin commands as argv lists: no shell, placeholders substituted per
argument, a timeout, stderr in the failure reason, stdout as access details."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from activities.integrations.base import GrantContext, IntegrationError
from activities.integrations.script import ScriptIntegrationDriver
from grantflow.config import ScriptIntegration
from grantflow.models import GrantItem

PY = sys.executable


def driver(tmp_path: Path, grant: list[str], revoke: list[str] | None = None, timeout: int = 5,
           extend: list[str] | None = None) -> ScriptIntegrationDriver:
    cfg = ScriptIntegration.model_validate({
        "id": "t", "type": "script", "timeout": timeout, "grant": grant, "revoke": revoke or [PY, "-c", "pass"],
        "extend": extend, "resource_types": [{"id": "folder", "resources": ["a"], "permissions": ["read"]}],
    })
    return ScriptIntegrationDriver(cfg, tmp_path, tmp_path / "state")


def ctx(resource: str = "a") -> GrantContext:
    return GrantContext(request_id="r1", requester="alice@example.com", grantee="bob@example.com",
                        item=GrantItem(integration="t", resource_type="folder", resource=resource, permission="read"),
                        expires_at=datetime(2030, 1, 1, tzinfo=UTC))


async def test_placeholders_are_single_arguments_and_no_shell_runs(tmp_path: Path) -> None:
    echo = [PY, "-c", "import json,sys; print(json.dumps(sys.argv[1:]))",
            "{grantee}", "{resource}", "{permission}", "{request_id}", "{expires_at}", "x{resource_type}y"]
    hostile = "a; touch pwned; $(touch pwned2) `touch pwned3`"
    details = await driver(tmp_path, echo).grant(ctx(hostile))
    assert details == {"output": ["bob@example.com", hostile, "read", "r1", "2030-01-01T00:00:00+00:00",
                                  "xfoldery"]}
    assert not list(tmp_path.glob("pwned*"))


async def test_stdout_json_object_is_the_access_details(tmp_path: Path) -> None:
    d = driver(tmp_path, [PY, "-c", "print('{\"path\": \"/srv/a\"}')"])
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
