"""The reason for a rejection submitted: reject, and show a refusal inline when it comes back in time."""

from __future__ import annotations

import asyncio

from slack_bolt.async_app import AsyncAck

from grantflow.client import GrantflowError
from slack_app.forms import metadata_of, read_reason
from slack_app.identity import NoEmail
from slack_app.listeners.common import INLINE_BUDGET_SECONDS, SOMETHING_WRONG, Body, Deps, drain, inline, log, user_of


async def reject_submitted(ack: AsyncAck, body: Body, deps: Deps) -> None:
    view = body["view"]
    meta = metadata_of(view)
    request_id = str(meta.get("request_id") or "")
    reason = read_reason(view)
    try:
        email = await deps.email(user_of(body))
    except NoEmail as exc:
        await inline(ack, {"reason": str(exc)})
        return
    task = asyncio.ensure_future(deps.client.reject(request_id, email, reason))
    done, _ = await asyncio.wait({task}, timeout=INLINE_BUDGET_SECONDS)
    if not done:
        # Too slow to answer in the modal: close it and tell the person where they clicked Reject.
        await ack()
        tell_body = {**body, "channel": {"id": meta.get("channel")} if meta.get("channel") else None}
        await deps.guarded(tell_body, drain(task))
        return
    try:
        task.result()
    except GrantflowError as exc:
        await inline(ack, {"reason": str(exc)})
        return
    except Exception:
        log.exception("reject failed")
        await inline(ack, {"reason": SOMETHING_WRONG})
        return
    await ack()
