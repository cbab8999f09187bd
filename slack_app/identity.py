"""Slack user ⇄ email, the identity grantflow knows people by (users.info and users.lookupByEmail, cached)."""

from __future__ import annotations

import asyncio

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient


class NoEmail(Exception):
    """A Slack user whose profile shows no email (a bot, or a workspace hiding emails)."""


class Directory:
    def __init__(self, web: AsyncWebClient):
        self.web = web
        self._emails: dict[str, str] = {}
        self._ids: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def email_of(self, user_id: str) -> str:
        """The user's email, lower-cased; raises NoEmail when Slack has none for them."""
        if user_id in self._emails:
            return self._emails[user_id]
        try:
            resp = await self.web.users_info(user=user_id)
        except SlackApiError as exc:
            if exc.response.get("error") == "user_not_found":
                raise NoEmail(f"Slack does not know user {user_id}") from None
            raise
        user = resp.get("user") or {}
        email = str((user.get("profile") or {}).get("email") or "").strip().lower()
        if not email or user.get("is_bot"):
            raise NoEmail(
                "Your Slack profile has no email address, and grantflow knows people by email. "
                "Ask a workspace admin to add one (or to grant the app the users:read.email scope)."
            )
        self._remember(user_id, email)
        return email

    async def user_id_for(self, email: str) -> str | None:
        """The Slack id for an email, or None when nobody in the workspace has it."""
        email = email.strip().lower()
        if email in self._ids:
            return self._ids[email]
        try:
            resp = await self.web.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response.get("error") in ("users_not_found", "user_not_found"):
                return None
            raise
        user_id = str((resp.get("user") or {}).get("id") or "")
        if not user_id:
            return None
        self._remember(user_id, email)
        return user_id

    def _remember(self, user_id: str, email: str) -> None:
        self._emails[user_id] = email
        self._ids[email] = user_id

    def mentions(self) -> dict[str, str]:
        """Emails already resolved, as Slack mentions: views show people as Slack shows them."""
        return {email: f"<@{uid}>" for email, uid in self._ids.items()}
