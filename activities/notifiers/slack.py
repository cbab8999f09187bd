"""Slack notifications: one message per person (or one in the flow's approval channel), edited in place.

This module only sends: what each message says is built by `slack_app.views` (request messages, thread
notes, announcements, the Home tab). Every transition re-renders the request's messages from the latest
status, so a decision made anywhere (Slack, the CLI, a `temporal workflow signal`) shows on every approver's
copy. Message references live in the database: a retried batch edits what it already posted instead of
posting again. Thread replies tell people what happened, because an edited message notifies nobody.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from grantflow.domain.config import ConfigSource
from grantflow.domain.models import AccessStatus, StatusView, Transition
from grantflow.settings import Settings
from grantflow.storage.store import Store
from slack_app import views
from slack_app.home import home_for
from slack_app.identity import Directory
from slack_app.refs import SlackMessageRef, ensure_tables, refs_for, save_ref
from slack_app.web import make_web_client

log = structlog.get_logger("grantflow.slack")

OWNER_NOTES = frozenset(
    {
        "active",
        "expiry_reminder",
        "extended",
        "extend_failed",
        "rejected",
        "revoked",
        "expired",
        "failed",
        "approval_timeout",
    }
)
# Notes that ask for action by a deadline also show in the conversation itself, so they notify for sure.
BROADCAST_NOTES = frozenset({"approval_reminder", "expiry_reminder", "approval_timeout"})
# Transitions after which approvers' Home tabs change (a request joins or leaves "Pending my approval").
APPROVER_HOME_KINDS = frozenset(
    {"submitted", "approval", "granting", "rejected", "approval_timeout", "revoked", "failed", "escalated"}
)


def _transient(exc: SlackApiError) -> bool:
    status = getattr(exc.response, "status_code", 200)
    return status == 429 or status >= 500


class SlackNotifier:
    def __init__(self, web: AsyncWebClient, store: Store, config: ConfigSource, directory: Directory | None = None):
        self.web = web
        self.store = store
        self.config = config
        self.directory = directory or Directory(web)

    @classmethod
    def from_settings(cls, settings: Settings, store: Store, config: ConfigSource) -> SlackNotifier:
        ensure_tables(store)
        return cls(make_web_client(settings), store, config)

    async def notify(self, transitions: list[Transition]) -> None:
        by_request: dict[str, list[Transition]] = {}
        for t in transitions:
            by_request.setdefault(t.status.request_id, []).append(t)
        for batch in by_request.values():
            await self._request(batch)

    # --- one request ---------------------------------------------------------------------------------

    async def _request(self, batch: list[Transition]) -> None:
        latest = batch[-1].status
        kinds = {t.kind for t in batch}
        refs = await asyncio.to_thread(refs_for, self.store, latest.request_id)
        for email in self._owners(latest):
            await self._main(
                latest, refs, f"owner:{email}", email, "requester" if email == latest.requester else "grantee"
            )
        if (
            latest.approvals_required > 0
            and latest.approvers
            and not any(a.automatic for a in latest.approvals)
            and ("submitted" in kinds or "escalated" in kinds or self._has_approval_refs(refs))
        ):
            if latest.approval_channel:
                await self._main(latest, refs, f"channel:{latest.approval_channel}", None, "channel")
            else:
                for email in latest.approvers:
                    await self._main(latest, refs, f"approver:{email}", email, "approver")
        for t in batch:
            await self._notes(t, latest, refs)
            await self._break_glass_notes(t, refs)
            await self._escalation_notes(t, refs)
            await self._unverified_notes(t, refs)
        people = set(self._owners(latest))
        if kinds & APPROVER_HOME_KINDS:
            people.update(latest.approvers)
        for email in sorted(people):
            await self.publish_home(email)

    @staticmethod
    def _owners(v: StatusView) -> list[str]:
        return [v.requester] + ([v.grantee] if v.grantee != v.requester else [])

    @staticmethod
    def _has_approval_refs(refs: dict[str, SlackMessageRef]) -> bool:
        return any(k.startswith(("approver:", "channel:")) for k in refs)

    async def _main(
        self,
        v: StatusView,
        refs: dict[str, SlackMessageRef],
        key: str,
        email: str | None,
        audience: views.Audience,
    ) -> None:
        """Post the message once; afterwards edit that same message."""
        text, blocks = views.request_message(v, audience, email, self.directory.mentions())
        try:
            ref = refs.get(key)
            if ref is not None:
                await self.web.chat_update(channel=ref.channel, ts=ref.ts, text=text, blocks=blocks)
                return
            channel = await self._destination(email, v.approval_channel if audience == "channel" else None)
            if channel is None:
                return
            # Resolving mentions may have taught the directory new names: render again with them.
            text, blocks = views.request_message(v, audience, email, self.directory.mentions())
            resp = await self.web.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False)
            await self._remember(refs, v.request_id, key, resp)
        except SlackApiError as exc:
            self._skip_or_raise(exc, key, v.request_id)

    async def _notes(self, t: Transition, latest: StatusView, refs: dict[str, SlackMessageRef]) -> None:
        if t.kind == "approval_reminder":
            if latest.status != AccessStatus.PENDING_APPROVAL:
                return
            done = {a.approver for a in latest.approvals}
            parents = (
                [f"channel:{latest.approval_channel}"]
                if latest.approval_channel
                else [f"approver:{a}" for a in latest.approvers if a not in done]
            )
        elif t.kind in OWNER_NOTES:
            parents = [f"owner:{e}" for e in self._owners(latest)]
        else:
            return
        text = views.note_text(t.kind, t.status)
        if text is None:
            return
        tag = t.events[-1].key if t.events else f"{t.kind}:{t.status.extensions_used}"
        for parent_key in parents:
            parent = refs.get(parent_key)
            key = f"note:{tag}:{parent_key}"
            if parent is None or key in refs:
                continue
            try:
                resp = await self.web.chat_postMessage(
                    channel=parent.channel, thread_ts=parent.ts, text=text, reply_broadcast=t.kind in BROADCAST_NOTES
                )
                await self._remember(refs, t.status.request_id, key, resp)
            except SlackApiError as exc:
                self._skip_or_raise(exc, key, t.status.request_id)

    async def _break_glass_notes(self, t: Transition, refs: dict[str, SlackMessageRef]) -> None:
        """Announce a break-glass approval under each approver's copy (or the approval channel's message):
        the people the flow trusts must learn that an admin bypassed them, and why."""
        for event in t.events:
            if event.action != "approve" or event.outcome != "ok" or not event.detail.get("break_glass"):
                continue
            await self._thread_notes(t, refs, event.key, views.break_glass_note(event.actor, event.reason))

    async def _unverified_notes(self, t: Transition, refs: dict[str, SlackMessageRef]) -> None:
        """Announce a decision that counts unverified (sent straight through Temporal, `decisions: audit`), or
        that was refused for want of a valid proof, under each approver's copy and in the config's
        `admin_channel`, as a break-glass approval is."""
        for event in t.events:
            if event.action not in views.UNVERIFIED_ACTIONS or event.actor == "grantflow":
                continue
            if event.outcome == "ok" and event.detail.get("verified") is False:
                text = views.unverified_note(event.actor, event.action, t.status.request_id)
            elif event.outcome == "refused" and event.reason.startswith(views.PROOF_REFUSALS):
                text = views.unproven_refusal_note(event.actor, event.action, t.status.request_id, event.reason)
            else:
                continue
            await self._thread_notes(t, refs, f"{event.key}:unverified", text)
            key = f"admin:{event.key}"
            channel = self.config.get().admin_channel
            if channel and key not in refs:
                body, blocks = views.announcement(text)
                try:
                    resp = await self.web.chat_postMessage(
                        channel=channel, text=body, blocks=blocks, unfurl_links=False
                    )
                    await self._remember(refs, t.status.request_id, key, resp)
                except SlackApiError as exc:
                    self._skip_or_raise(exc, key, t.status.request_id)

    async def _escalation_notes(self, t: Transition, refs: dict[str, SlackMessageRef]) -> None:
        """Each escalation step tells the requester (under their message) and its `notify` channel, if any; the new
        approvers get the approval message itself (`_request`), and every copy says "Escalated to ..."."""
        for event in t.events:
            if event.action != "escalate":
                continue
            text = views.escalation_note(
                t.status,
                event.detail.get("approvers", []),
                event.detail.get("after_seconds", 0),
                self.directory.mentions(),
            )
            targets: list[tuple[str, str, str | None]] = [
                (k, refs[k].channel, refs[k].ts) for k in (f"owner:{e}" for e in self._owners(t.status)) if k in refs
            ]
            if event.detail.get("notify"):
                targets.append(("notify", str(event.detail["notify"]), None))
            for parent_key, channel, thread_ts in targets:
                key = f"note:{event.key}:{parent_key}"
                if key in refs:
                    continue
                try:
                    resp = await self.web.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
                    await self._remember(refs, t.status.request_id, key, resp)
                except SlackApiError as exc:
                    self._skip_or_raise(exc, key, t.status.request_id)

    async def _thread_notes(self, t: Transition, refs: dict[str, SlackMessageRef], tag: str, text: str) -> None:
        for parent_key, parent in list(refs.items()):
            key = f"note:{tag}:{parent_key}"
            if not parent_key.startswith(("approver:", "channel:")) or key in refs:
                continue
            try:
                resp = await self.web.chat_postMessage(
                    channel=parent.channel, thread_ts=parent.ts, text=text, reply_broadcast=True
                )
                await self._remember(refs, t.status.request_id, key, resp)
            except SlackApiError as exc:
                self._skip_or_raise(exc, key, t.status.request_id)

    async def _destination(self, email: str | None, channel: str | None) -> str | None:
        if channel:
            return channel
        assert email is not None
        user_id = await self.directory.user_id_for(email)
        if user_id is None:
            log.warning("no Slack user for email; not notified", email=email)
        return user_id

    async def _remember(self, refs: dict[str, SlackMessageRef], request_id: str, key: str, resp: Any) -> None:
        channel, ts = str(resp["channel"]), str(resp["ts"])
        await asyncio.to_thread(save_ref, self.store, request_id, key, channel, ts)
        refs[key] = SlackMessageRef(request_id=request_id, recipient=key, channel=channel, ts=ts)

    @staticmethod
    def _skip_or_raise(exc: SlackApiError, key: str, request_id: str) -> None:
        """Rate limits and outages retry the batch (already-posted messages are edited, not re-posted);
        a permanent error (a deleted channel, a deactivated user) is logged so it cannot block the rest."""
        if _transient(exc):
            raise exc
        log.warning("slack refused a message", request_id=request_id, to=key, error=exc.response.get("error"))

    async def announce(self, channel: str | None, text: str) -> None:
        """A free-text report for admins (reconciliation drift) in the config's `admin_channel`; without one,
        the log keeps it (config.py: "else the log").

        Never raises: the caller's audit write is what makes its retries idempotent, so a retry after a
        failed post would not post again anyway; a failure is logged instead of failing the caller."""
        if not channel:
            log.warning("announce: no admin_channel in the config", message=text)
            return
        body, blocks = views.announcement(text)
        try:
            await self.web.chat_postMessage(channel=channel, text=body, blocks=blocks, unfurl_links=False)
        except SlackApiError as exc:
            log.warning("announce failed", channel=channel, error=exc.response.get("error"), message=text)

    async def publish_home(self, email: str) -> None:
        try:
            user_id = await self.directory.user_id_for(email)
            if user_id is None:
                return
            view = await asyncio.to_thread(home_for, self.store, email, self.directory.mentions())
            await self.web.views_publish(user_id=user_id, view=view)
        except SlackApiError as exc:
            self._skip_or_raise(exc, f"home:{email}", "")
