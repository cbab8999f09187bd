"""Slack user ⇄ email, the identity grantflow knows people by (users.info and users.lookupByEmail, cached).

The cache is short-lived (`GRANTFLOW_SLACK_IDENTITY_TTL`, 10 minutes by default): a person deactivated in
Slack, turned into a guest or given another email is known as such within that time. A deactivated user, and
a guest (`is_restricted` / `is_ultra_restricted`) unless the config says `slack: {allow_guests: true}`, can
neither request nor decide: `email_of` refuses them with `Barred`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from grantflow.domain.emails import BadEmail, check_email

DEFAULT_TTL_SECONDS = 600


class NoEmail(Exception):
    """A Slack user grantflow cannot know: no email in the profile (a bot, or a workspace hiding emails), or
    one that is not a valid address."""


class Barred(NoEmail):
    """A Slack user who may not act in grantflow: deactivated, or a guest where guests are not allowed.
    `about_them` says it of someone else (a person named in "Request on behalf of")."""

    def __init__(self, message: str, about_them: str):
        super().__init__(message)
        self.about_them = about_them


@dataclass(frozen=True)
class _Known:
    email: str
    deleted: bool
    guest: bool
    at: float


class Directory:
    def __init__(
        self,
        web: AsyncWebClient,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        allow_guests: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.web = web
        self.ttl = ttl_seconds
        self.allow_guests = allow_guests
        self.clock = clock
        self._users: dict[str, _Known] = {}
        self._ids: dict[str, tuple[str, float]] = {}

    def _fresh(self, at: float) -> bool:
        return self.clock() - at < self.ttl

    async def email_of(self, user_id: str) -> str:
        """The email of a user who may act, lower-cased; NoEmail when Slack has none for them, Barred when
        they are deactivated or a guest (and guests are not allowed)."""
        known = self._users.get(user_id)
        if known is None or not self._fresh(known.at):
            known = await self._look_up(user_id)
        if known.deleted:
            raise Barred(
                "Your Slack account is deactivated, so grantflow does not act for it.",
                "That person's Slack account is deactivated: access cannot be requested for them.",
            )
        if known.guest and not self.allow_guests():
            raise Barred(
                "Guests of this Slack workspace cannot request or decide access in grantflow. "
                "Ask a workspace admin if you need it.",
                "That person is a guest of this Slack workspace: access cannot be requested for them.",
            )
        return known.email

    async def _look_up(self, user_id: str) -> _Known:
        try:
            resp = await self.web.users_info(user=user_id)
        except SlackApiError as exc:
            if exc.response.get("error") == "user_not_found":
                self._forget(user_id)
                raise NoEmail(f"Slack does not know user {user_id}") from None
            raise
        user = resp.get("user") or {}
        raw = str((user.get("profile") or {}).get("email") or "")
        if not raw.strip() or user.get("is_bot"):
            self._forget(user_id)
            raise NoEmail(
                "Your Slack profile has no email address, and grantflow knows people by email. "
                "Ask a workspace admin to add one (or to grant the app the users:read.email scope)."
            )
        try:
            email = check_email(raw)
        except BadEmail as exc:
            self._forget(user_id)
            raise NoEmail(f"The email address of your Slack profile cannot be used: {exc}") from None
        known = _Known(
            email=email,
            deleted=bool(user.get("deleted")),
            guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
            at=self.clock(),
        )
        self._forget(user_id)
        self._users[user_id] = known
        self._ids[email] = (user_id, known.at)
        return known

    def _forget(self, user_id: str) -> None:
        old = self._users.pop(user_id, None)
        if old is not None and self._ids.get(old.email, ("", 0.0))[0] == user_id:
            del self._ids[old.email]

    async def user_id_for(self, email: str) -> str | None:
        """The Slack id for an email, or None when nobody in the workspace has it."""
        email = email.strip().lower()
        hit = self._ids.get(email)
        if hit is not None and self._fresh(hit[1]):
            return hit[0]
        try:
            resp = await self.web.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response.get("error") in ("users_not_found", "user_not_found"):
                self._ids.pop(email, None)
                return None
            raise
        user_id = str((resp.get("user") or {}).get("id") or "")
        if not user_id:
            return None
        self._ids[email] = (user_id, self.clock())
        return user_id

    def mentions(self) -> dict[str, str]:
        """Emails already resolved, as Slack mentions: views show people as Slack shows them."""
        return {email: f"<@{uid}>" for email, (uid, _) in self._ids.items()}
