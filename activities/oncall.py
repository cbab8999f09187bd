"""Who is on call now, as an activity: the answer (or its failure) is recorded in the request's history, so
an automatic approval replays identically after the rotation has moved on or the on-call service changed."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from grantflow.domain.config import ConfigSource
from grantflow.domain.config.schema import OncallSchedule
from grantflow.domain.emails import BadEmail, check_email
from grantflow.domain.oncall import DEFAULT_START, on_call, parse_handover

BASE_ENV = ("PATH", "HOME", "LANG", "TZ")


class OncallActivities:
    def __init__(self, config: ConfigSource):
        self.config = config

    @activity.defn(name="who_is_on_call")
    async def who_is_on_call(self, schedule: str) -> list[str]:
        """The emails on call for `schedule` now (lower-case, sorted). Raises when nobody can be named."""
        cfg = self.config.get()
        sched = cfg.oncall.get(schedule)
        if sched is None:
            raise ApplicationError(f'no on-call schedule "{schedule}" in the config', non_retryable=True)
        if sched.rotation and sched.handover:
            person = on_call(
                sched.rotation, parse_handover(sched.handover), datetime.now(UTC), sched.start or DEFAULT_START
            )
            return [person.strip().lower()]
        if sched.command:
            return await _run_command(schedule, sched, str(cfg.source_dir))
        raise ApplicationError(f'on-call schedule "{schedule}" has neither rotation nor command', non_retryable=True)


async def _run_command(name: str, sched: OncallSchedule, cwd: str) -> list[str]:
    assert sched.command is not None
    env = {k: os.environ[k] for k in (*BASE_ENV, *sched.env) if k in os.environ}
    try:
        proc = await asyncio.create_subprocess_exec(
            *sched.command,
            cwd=cwd,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise ApplicationError(f"on-call {name}: cannot run {sched.command[0]}: {exc}", non_retryable=True) from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=sched.timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ApplicationError(f"on-call {name}: the command took longer than {sched.timeout}s") from None
    if proc.returncode != 0:
        last = (err.decode(errors="replace").strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        raise ApplicationError(f"on-call {name}: the command failed: {last[:300]}")
    emails: list[str] = []
    for line in out.decode(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            emails.append(check_email(line.strip()).lower())
        except BadEmail as exc:
            raise ApplicationError(f"on-call {name}: the command printed {line.strip()[:80]!r}: {exc}") from None
    if not emails:
        raise ApplicationError(f"on-call {name}: the command named nobody")
    return sorted(set(emails))
