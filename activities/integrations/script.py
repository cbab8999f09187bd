"""The `script` integration: admin-supplied commands, run as an argv list with no shell.

Placeholders (`{grantee}`, `{resource}`, `{permission}`, `{request_id}`, `{expires_at}`,
`{resource_type}`, `{integration}`, `{requester}`) are substituted per argument by plain string
replacement, so a value can never add arguments or reach a shell. A non-zero exit is a failure whose
reason carries the tail of stderr (at most `MAX_REASON_STDERR` characters, every value of the
integration's `env:` variables masked as `***`); stdout is the access details (a JSON object, or text),
which the grant activity seals in the vault whole.

A command sees a minimal environment (`script_environment`): `PATH`, `HOME`, `LANG`, `TZ` of the worker,
`GRANTFLOW_STATE_DIR`, and the variables its integration lists in `env:` — never the worker's keys,
Slack tokens or DSNs. A listed variable the worker does not have is left out (the command sees it unset).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from activities.integrations.base import GrantContext, Integration, IntegrationError
from grantflow.domain.config import ScriptIntegration, reserved_env

PLACEHOLDERS = (
    "grantee",
    "resource",
    "permission",
    "request_id",
    "expires_at",
    "resource_type",
    "integration",
    "requester",
)
_MAX_OUTPUT = 64 * 1024
MAX_REASON_STDERR = 500
BASE_ENV = ("PATH", "HOME", "LANG", "TZ")
MASK = "***"


def substitute(argv: list[str], values: dict[str, str]) -> list[str]:
    out = []
    for arg in argv:
        for key in PLACEHOLDERS:
            arg = arg.replace("{" + key + "}", values.get(key, ""))
        out.append(arg)
    return out


def script_environment(listed: list[str], state_dir: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a command: the base variables, the listed ones, the state directory.
    grantflow's own settings are left out even if listed (config check refuses that already)."""
    source = os.environ if environ is None else environ
    env = {name: source[name] for name in (*BASE_ENV, *listed) if name in source and not reserved_env(name)}
    env["GRANTFLOW_STATE_DIR"] = str(state_dir.resolve())
    return env


def mask_values(text: str, values: list[str]) -> str:
    """Replace every occurrence of each value by `***`, longest first (so a value inside another goes too)."""
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def failure_text(stderr: bytes, secrets: list[str]) -> str:
    """What of a failing command's stderr goes into the failure reason: masked first, then its tail, so
    that truncation can never cut a secret into a part that is no longer recognised."""
    text = mask_values(stderr.decode(errors="replace"), secrets).strip()
    if not text:
        return "(no stderr)"
    if len(text) > MAX_REASON_STDERR:
        text = "…" + text[-(MAX_REASON_STDERR - 1) :]
    return text


class ScriptIntegrationDriver(Integration):
    seals_all_details = True

    def __init__(self, config: ScriptIntegration, base_dir: Path, state_dir: Path):
        self.config = config
        self.cwd = Path(config.workdir) if config.workdir else base_dir
        if not self.cwd.is_absolute():
            self.cwd = base_dir / self.cwd
        self.state_dir = state_dir

    def _values(self, ctx: GrantContext) -> dict[str, str]:
        return {
            "grantee": ctx.grantee,
            "requester": ctx.requester,
            "resource": ctx.item.resource,
            "resource_type": ctx.item.resource_type,
            "permission": ctx.item.permission,
            "integration": ctx.item.integration,
            "request_id": ctx.request_id,
            "expires_at": ctx.expires_at.isoformat(),
        }

    async def _run(self, argv: list[str], what: str) -> str:
        env = script_environment(self.config.env, self.state_dir)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=self.cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise IntegrationError(
                f"{self.config.id}: cannot run {what} command {argv[0]!r}: {exc.strerror}", retryable=False
            ) from None
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=self.config.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise IntegrationError(f"{self.config.id}: {what} command timed out after {self.config.timeout}s") from None
        except asyncio.CancelledError:
            proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            err = failure_text(stderr, [env[name] for name in self.config.env if name in env])
            raise IntegrationError(f"{self.config.id}: {what} failed (exit {proc.returncode}): {err}")
        return stdout[:_MAX_OUTPUT].decode(errors="replace").strip()

    async def grant(self, ctx: GrantContext) -> dict[str, Any]:
        out = await self._run(substitute(self.config.grant, self._values(ctx)), "grant")
        if not out:
            return {}
        try:
            parsed = json.loads(out)
        except ValueError:
            return {"output": out}
        return parsed if isinstance(parsed, dict) else {"output": parsed}

    async def extend(self, ctx: GrantContext) -> None:
        if self.config.extend:
            await self._run(substitute(self.config.extend, self._values(ctx)), "extend")

    async def revoke(self, ctx: GrantContext) -> None:
        await self._run(substitute(self.config.revoke, self._values(ctx)), "revoke")

    async def list_resources(self, resource_type: str) -> list[str]:
        rt = next((t for t in self.config.resource_types if t.id == resource_type), None)
        if rt is None:
            raise IntegrationError(f"{self.config.id} has no resource type {resource_type!r}", retryable=False)
        if self.config.list_resources:
            out = await self._run(substitute(self.config.list_resources, {"resource_type": resource_type}), "list")
            return [line.strip() for line in out.splitlines() if line.strip()]
        return list(rt.resources)
