"""The Slack front door: `/access`, the request modals, the buttons on request messages and the Home tab.

Every handler acks first (Slack wants an answer within 3 seconds) and then only talks to
`grantflow.client.GrantflowClient`. A refusal comes back as an inline field error in a modal, or as an
ephemeral message to the person who clicked; nothing a person sends yields a 500.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from grantflow.assist import AssistError, Suggestion, suggest
from grantflow.client import BadRequest, GrantflowClient, GrantflowError, NotFound, Refused, new_request_id
from grantflow.domain import policy
from grantflow.domain.config import GrantflowConfig
from grantflow.domain.durations import format_duration
from grantflow.domain.models import AccessStatus, RequestSpec, StatusView
from grantflow.settings import Settings
from slack_app import catalog, views
from slack_app.catalog import Choice, FormChoices
from slack_app.forms import (
    ASSIST_CALLBACK,
    ASSIST_TEXT,
    BUNDLE_CALLBACK,
    FAVORITE_CALLBACK,
    REJECT_CALLBACK,
    REQUEST_CALLBACK,
    AssistPick,
    BundleForm,
    RequestForm,
    block_id_of,
    metadata_of,
    read_assist_text,
    read_bundle_form,
    read_request_form,
)
from slack_app.home import home_for
from slack_app.identity import DEFAULT_TTL_SECONDS, Barred, Directory, NoEmail
from slack_app.web import make_web_client

log = structlog.get_logger("grantflow.slack")
T = TypeVar("T")
Body = dict[str, Any]
# Leave Slack's 3-second window some room for the network.
INLINE_BUDGET_SECONDS = 2.0
SOMETHING_WRONG = "Something went wrong on our side; nothing was changed. Try again in a minute."
NOTHING_MATCHED = (
    "Assist found nothing you may request for that. Name the system or resource (a database, a folder) and "
    "what you need to do with it, or use `/access request` to pick from the full list."
)


# `grantflow.assist.suggest` unless a test or deployment brings its own: (config, person, text, favorites).
Suggester = Callable[[GrantflowConfig, str, str, Sequence[Any]], list[Suggestion]]


def _user(body: Body) -> str:
    user = body.get("user")
    return str(user.get("id") if isinstance(user, dict) else body.get("user_id") or "")


def _channel(body: Body) -> str | None:
    channel = body.get("channel")
    if isinstance(channel, dict) and channel.get("id"):
        return str(channel["id"])
    container = body.get("container") or {}
    return str(container["channel_id"]) if container.get("channel_id") else None


class SlackFrontDoor:
    def __init__(
        self,
        client: GrantflowClient,
        web: AsyncWebClient,
        assist: Suggester = suggest,
        identity_ttl: float = DEFAULT_TTL_SECONDS,
    ):
        self.client = client
        self.web = web
        self.directory = Directory(web, identity_ttl, allow_guests=lambda: self.client.config.slack.allow_guests)
        self.assist = assist

    # --- plumbing ------------------------------------------------------------------------------------

    async def email(self, user_id: str) -> str:
        return await self.directory.email_of(user_id)

    async def tell(self, body: Body, text: str) -> None:
        """An ephemeral note to whoever acted, where they acted (a DM when there is no channel, e.g. Home)."""
        user = _user(body)
        channel = _channel(body)
        try:
            if channel:
                try:
                    await self.web.chat_postEphemeral(channel=channel, user=user, text=text)
                    return
                except SlackApiError as exc:
                    log.info("ephemeral failed, sending a DM", error=exc.response.get("error"))
            await self.web.chat_postMessage(channel=user, text=text)
        except SlackApiError as exc:
            log.warning("could not tell the user", user=user, error=exc.response.get("error"))

    async def guarded(self, body: Body, work: Awaitable[None]) -> None:
        """Turn every failure into a sentence for the person; log what was unexpected."""
        try:
            await work
        except NoEmail as exc:
            await self.tell(body, str(exc))
        except GrantflowError as exc:
            await self.tell(body, f":no_entry: {exc}")
        except Exception:
            log.exception("slack handler failed")
            await self.tell(body, SOMETHING_WRONG)

    async def publish_home(self, user_id: str, email: str) -> None:
        view = await asyncio.to_thread(home_for, self.client.store, email, self.directory.mentions())
        await self.web.views_publish(user_id=user_id, view=view)

    # --- opening the forms ---------------------------------------------------------------------------

    def request_view(self, form: RequestForm) -> dict[str, Any]:
        cfg = self.client.config
        choices = catalog.form_choices(cfg, form.requester, form.integration, form.resource_type)
        if not form.integration and len(choices.integrations) == 1:
            form.integration = choices.integrations[0].value
            choices = catalog.form_choices(cfg, form.requester, form.integration)
        if form.integration and not form.resource_type and len(choices.resource_types) == 1:
            form.resource_type = choices.resource_types[0].value
            choices = catalog.form_choices(cfg, form.requester, form.integration, form.resource_type)
        return views.request_modal(form, _offering(choices, form.duration))

    def bundle_view(self, form: BundleForm) -> dict[str, Any]:
        cfg = self.client.config
        bundles = catalog.bundle_choices(cfg, form.requester)
        if not form.bundle and len(bundles) == 1:
            form.bundle = bundles[0].value
        resources: list[catalog.Choice] = []
        bundle = cfg.bundle(form.bundle) if form.bundle else None
        if bundle is not None:
            resources = [
                catalog.Choice(i.resource, f"{i.resource} ({i.integration}, {i.permission})") for i in bundle.items
            ]
        durations = _offering(catalog.bundle_durations(cfg, form.requester, form.bundle), form.duration)
        return views.bundle_modal(form, bundles, resources, durations)

    async def open_request(self, trigger_id: str, user_id: str, again: StatusView | None = None) -> None:
        email = await self.email(user_id)
        if again is not None and again.bundle:
            bform = BundleForm(
                requester=email,
                user_id=user_id,
                on_behalf=await self.directory.user_id_for(again.grantee),
                bundle=again.bundle,
                resources=[g.resource for g in again.grants],
                duration=str(again.duration_seconds),
            )
            await self.web.views_open(trigger_id=trigger_id, view=self.bundle_view(bform))
            return
        form = RequestForm(requester=email, user_id=user_id)
        if again is not None and again.grants:
            first = again.grants[0]
            form.on_behalf = await self.directory.user_id_for(again.grantee)
            form.integration, form.resource_type, form.permission = (
                first.integration,
                first.resource_type,
                first.permission,
            )
            form.resources = [g.resource for g in again.grants]
            form.duration = str(again.duration_seconds)
            form.again_of = again.request_id
        await self.web.views_open(trigger_id=trigger_id, view=self.request_view(form))

    async def open_bundle(self, trigger_id: str, user_id: str) -> None:
        email = await self.email(user_id)
        await self.web.views_open(
            trigger_id=trigger_id, view=self.bundle_view(BundleForm(requester=email, user_id=user_id))
        )

    # --- /access ---------------------------------------------------------------------------------------

    async def on_command(self, ack: AsyncAck, body: Body, respond: AsyncRespond) -> None:
        text = str(body.get("text") or "").strip()
        sub = " ".join(text.lower().split())
        user_id = _user(body)
        if sub == "help":
            await ack(blocks=views.help_message(), text="How to use /access")
            return
        await ack()

        async def say(message: str) -> None:
            await respond(text=message, response_type="ephemeral")

        try:
            if sub in ("", "request"):
                await self.open_request(str(body["trigger_id"]), user_id)
            elif sub == "bundle":
                await self.open_bundle(str(body["trigger_id"]), user_id)
            elif sub in ("favorites", "favourites"):
                email = await self.email(user_id)
                favs = await asyncio.to_thread(self.client.store.favorites, email)
                blocks = views.favorites_message([(f.id or 0, f.name, f.spec()) for f in favs])
                await respond(blocks=blocks, text="Your favorites", response_type="ephemeral")
            elif sub in ("my requests", "my", "mine", "requests"):
                email = await self.email(user_id)
                mine = await self.client.recent(email)
                blocks = views.my_requests_message(mine, email, self.directory.mentions())
                await respond(blocks=blocks, text="Your requests", response_type="ephemeral")
            elif sub == "assist" or sub.startswith("assist "):
                await self.assist_command(body, text[len("assist") :].strip(), say)
            else:
                await respond(
                    blocks=[views.section(f"I don't know `/access {views.clip(text, 100)}`."), *views.help_message()],
                    text="Unknown subcommand",
                    response_type="ephemeral",
                )
        except NoEmail as exc:
            await say(str(exc))
        except GrantflowError as exc:
            await say(f":no_entry: {exc}")
        except Exception:
            log.exception("/access failed", text=text)
            await say(SOMETHING_WRONG)

    # --- Assist ----------------------------------------------------------------------------------------

    async def suggestions(self, email: str, text: str) -> list[Suggestion]:
        """Raises AssistError with a sentence for the person (empty or over-long text, no access flow)."""

        def work() -> list[Suggestion]:
            favorites = self.client.store.favorites(email)
            return self.assist(self.client.config, email, text, favorites)

        return await asyncio.to_thread(work)

    async def assist_command(self, body: Body, text: str, say: Callable[[str], Awaitable[None]]) -> None:
        email = await self.email(_user(body))
        try:
            found = await self.suggestions(email, text)
        except AssistError as exc:
            await say(f"Sorry, Assist cannot work with that: {exc}.")
            return
        if not found:
            await say(NOTHING_MATCHED)
            return
        await self.web.views_open(trigger_id=str(body["trigger_id"]), view=views.assist_results_modal(text, found))

    async def on_assist_submit(self, ack: AsyncAck, body: Body) -> None:
        view = body["view"]
        text = read_assist_text(view)
        try:
            email = await self.email(_user(body))
            found = await self.suggestions(email, text)
        except (NoEmail, AssistError) as exc:
            await self._inline(ack, {ASSIST_TEXT: str(exc)})
            return
        if not found:
            await self._inline(ack, {ASSIST_TEXT: NOTHING_MATCHED})
            return
        await ack(response_action="update", view=views.assist_results_modal(text, found))

    async def _assist_open(self, body: Body, _value: str) -> None:
        """From inside the request form the form gives way to the question; elsewhere a new modal opens."""
        view = body.get("view") or {}
        if view.get("type") == "modal" and view.get("id"):
            await self.web.views_update(view_id=str(view["id"]), view=views.assist_modal())
        else:
            await self.web.views_open(trigger_id=str(body["trigger_id"]), view=views.assist_modal())

    async def _assist_pick(self, body: Body, value: str) -> None:
        pick = AssistPick.parse(value)
        view = body.get("view") or {}
        if pick is None or not view.get("id"):
            raise BadRequest("that suggestion can no longer be used: ask Assist again")
        user_id = _user(body)
        email = await self.email(user_id)
        sentence = str(metadata_of(view).get("text") or "")
        duration = str(pick.duration) if pick.duration else None
        new: dict[str, Any]
        if pick.bundle:
            bform = BundleForm(
                requester=email,
                user_id=user_id,
                bundle=pick.bundle,
                resources=pick.resources or None,
                duration=duration,
                justification=sentence,
            )
            new = self.bundle_view(bform)
        else:
            form = RequestForm(
                requester=email,
                user_id=user_id,
                integration=pick.integration,
                resource_type=pick.resource_type,
                resources=pick.resources,
                permission=pick.permission,
                duration=duration,
                justification=sentence,
            )
            new = self.request_view(form)
        await self.web.views_update(view_id=str(view["id"]), hash=view.get("hash"), view=new)

    # --- the request modal -------------------------------------------------------------------------------

    async def on_form_change(self, ack: AsyncAck, body: Body) -> None:
        await ack()
        view = body["view"]

        async def work() -> None:
            if view.get("callback_id") == BUNDLE_CALLBACK:
                new = self.bundle_view(read_bundle_form(view))
            else:
                new = self.request_view(read_request_form(view))
            try:
                await self.web.views_update(view_id=view["id"], hash=view.get("hash"), view=new)
            except SlackApiError as exc:
                if exc.response.get("error") != "hash_conflict":
                    raise

        await self.guarded(body, work())

    async def on_suggest(self, ack: AsyncAck, body: Body) -> None:
        _, integration, resource_type = (str(body.get("block_id") or "") + "||").split("|")[:3]
        requester = str(metadata_of(body.get("view") or {}).get("requester") or "")
        found = catalog.suggest_resources(
            self.client.config, requester, integration, resource_type, str(body.get("value") or "")
        )
        await ack(options=[views.option(c) for c in found])

    async def _inline(self, ack: AsyncAck, errors: dict[str, str]) -> None:
        await ack(response_action="errors", errors={k: views.clip(v, 300) for k, v in errors.items()})

    async def _grantee(self, user_id: str, email: str, on_behalf: str | None) -> str:
        if not on_behalf or on_behalf == user_id:
            return email
        return await self.email(on_behalf)

    async def on_request_submit(self, ack: AsyncAck, body: Body) -> None:
        view = body["view"]
        form = read_request_form(view)
        user_id = _user(body)

        def block(name: str) -> str:
            return block_id_of(view, name)

        try:
            email = await self.email(user_id)
        except NoEmail as exc:
            await self._inline(ack, {block("on_behalf"): str(exc)})
            return
        try:
            grantee = await self._grantee(user_id, email, form.on_behalf)
        except NoEmail as exc:
            await self._inline(ack, {block("on_behalf"): _about_them(exc)})
            return
        missing = {
            name: f"Choose {label}"
            for name, label, value in (
                ("integration", "an integration", form.integration),
                ("resource_type", "a resource type", form.resource_type),
                ("resources", "at least one resource", form.resources),
                ("permission", "a permission", form.permission),
            )
            if not value
        }
        if missing:
            present = {block(n): m for n, m in missing.items() if block(n) != n or n == "integration"}
            await self._inline(ack, present or {block("integration"): next(iter(missing.values()))})
            return
        try:
            spec = self.client.build_spec(
                requester=email,
                grantee=grantee,
                integration=form.integration,
                resource_type=form.resource_type,
                resources=form.resources,
                permission=form.permission,
                duration=int(form.duration) if form.duration else None,
                justification=form.justification,
                source="slack",
            )
        except (BadRequest, Refused) as exc:
            await self._refused(ack, email, exc, view, "resources")
            return
        await self._submit(ack, body, spec)

    async def _refused(self, ack: AsyncAck, email: str, exc: GrantflowError, view: Body, fallback: str) -> None:
        """A policy refusal, shown next to the field it is about."""
        message = str(exc)
        lower = message.lower()
        name = fallback
        blocks = view.get("blocks") or []
        has_on_behalf = any(str(b.get("block_id") or "").split("|", 1)[0] == "on_behalf" for b in blocks)
        if (policy.GRANTEE_REFUSAL in message or "not an email address" in lower) and has_on_behalf:
            name = "on_behalf"
        elif "duration" in lower:
            name = "duration"
        elif "justification" in lower:
            name = "justification"
        elif "email" in lower and has_on_behalf:
            name = "on_behalf"
        elif "permission" in lower and block_id_of(view, "permission") != "permission":
            name = "permission"
        if isinstance(exc, Refused):
            await self.client.record_refusal(email, "request", message, detail={"source": "slack"})
        await self._inline(ack, {block_id_of(view, name): message})

    async def _submit(self, ack: AsyncAck, body: Body, spec: RequestSpec) -> None:
        """The view id is the idempotency key: Slack re-sending a submission starts no second workflow."""
        key = str(body["view"]["id"])
        await ack(response_action="update", view=views.submitted_modal(new_request_id(key, spec.requester)))
        await self.guarded(body, self._start(spec, key))

    async def _start(self, spec: RequestSpec, key: str) -> None:
        sub = await self.client.submit(spec, idempotency_key=key)
        log.info("request submitted from slack", request_id=sub.request_id, existing=sub.existing)

    async def on_bundle_submit(self, ack: AsyncAck, body: Body) -> None:
        view = body["view"]
        form = read_bundle_form(view)
        user_id = _user(body)
        try:
            email = await self.email(user_id)
        except NoEmail as exc:
            await self._inline(ack, {block_id_of(view, "on_behalf"): str(exc)})
            return
        try:
            grantee = await self._grantee(user_id, email, form.on_behalf)
        except NoEmail as exc:
            await self._inline(ack, {block_id_of(view, "on_behalf"): _about_them(exc)})
            return
        if not form.bundle:
            await self._inline(ack, {block_id_of(view, "bundle"): "Choose a bundle"})
            return
        if form.resources is not None and not form.resources:
            await self._inline(ack, {block_id_of(view, "bundle_resources"): "Choose at least one resource"})
            return
        try:
            spec = self.client.build_spec(
                requester=email,
                grantee=grantee,
                bundle=form.bundle,
                resources=form.resources or [],
                duration=int(form.duration) if form.duration else None,
                justification=form.justification,
                source="slack",
            )
        except (BadRequest, Refused) as exc:
            await self._refused(ack, email, exc, view, "bundle")
            return
        await self._submit(ack, body, spec)

    async def on_favorite_submit(self, ack: AsyncAck, body: Body) -> None:
        view = body["view"]
        user_id = _user(body)
        try:
            email = await self.email(user_id)
        except NoEmail as exc:
            await self._inline(ack, {"justification": str(exc)})
            return
        fav_id = metadata_of(view).get("favorite_id")
        favs = await asyncio.to_thread(self.client.store.favorites, email)
        fav = next((f for f in favs if f.id == fav_id), None)
        if fav is None:
            await self._inline(ack, {"justification": "This favorite no longer exists."})
            return
        saved = fav.spec()
        justification = str(read_request_form(view).justification)
        first = saved.items[0]
        try:
            spec = self.client.build_spec(
                requester=email,
                grantee=saved.grantee,
                bundle=saved.bundle,
                integration=None if saved.bundle else first.integration,
                resource_type=None if saved.bundle else first.resource_type,
                permission=None if saved.bundle else first.permission,
                resources=[i.resource for i in saved.items],
                duration=saved.duration_seconds,
                justification=justification,
                source="slack",
            )
        except (BadRequest, Refused) as exc:
            await self._refused(ack, email, exc, view, "justification")
            return
        await self._submit(ack, body, spec)

    async def on_reject_submit(self, ack: AsyncAck, body: Body) -> None:
        view = body["view"]
        meta = metadata_of(view)
        request_id = str(meta.get("request_id") or "")
        reason = str(
            ((view.get("state") or {}).get("values", {}).get("reason") or {}).get("reason", {}).get("value") or ""
        )
        try:
            email = await self.email(_user(body))
        except NoEmail as exc:
            await self._inline(ack, {"reason": str(exc)})
            return
        task = asyncio.ensure_future(self.client.reject(request_id, email, reason))
        done, _ = await asyncio.wait({task}, timeout=INLINE_BUDGET_SECONDS)
        if not done:
            await ack()
            tell_body = {**body, "channel": {"id": meta.get("channel")} if meta.get("channel") else None}
            await self.guarded(tell_body, _drain(task))
            return
        try:
            task.result()
        except GrantflowError as exc:
            await self._inline(ack, {"reason": str(exc)})
            return
        except Exception:
            log.exception("reject failed")
            await self._inline(ack, {"reason": SOMETHING_WRONG})
            return
        await ack()

    # --- buttons -------------------------------------------------------------------------------------

    async def on_action(self, ack: AsyncAck, body: Body) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        action_id = str(action.get("action_id") or "")
        value = str(action.get("value") or "")
        handler = self._buttons.get(action_id)
        if handler is None:
            await self.tell(
                body, "That button is not one I know (it may come from an older version). Try `/access help`."
            )
            return
        await self.guarded(body, handler(self, body, value))

    async def _approve(self, body: Body, request_id: str) -> None:
        await self.client.approve(request_id, await self.email(_user(body)))

    async def _reject(self, body: Body, request_id: str) -> None:
        email = await self.email(_user(body))
        v = await self.client.status(request_id)
        if v.status != AccessStatus.PENDING_APPROVAL:
            raise Refused(f"request {v.request_id} is already {v.status.value}")
        if email in (v.requester, v.grantee):
            raise Refused("you cannot reject your own request: withdraw it instead")
        view = views.reject_modal(v, _channel(body), self.directory.mentions())
        await self.web.views_open(trigger_id=str(body["trigger_id"]), view=view)

    async def _revoke(self, body: Body, request_id: str) -> None:
        await self.client.revoke(request_id, await self.email(_user(body)))

    async def _extend(self, body: Body, request_id: str) -> None:
        v = await self.client.extend(request_id, await self.email(_user(body)))
        await self.tell(body, f"Extended: access to {views.what(v)} now ends {views.slack_date(v.expires_at)}.")

    async def _details(self, body: Body, request_id: str) -> None:
        email = await self.email(_user(body))
        details = await self.client.details(request_id, email)
        v = await self.client.status(request_id)
        await self.web.views_open(trigger_id=str(body["trigger_id"]), view=views.details_modal(v, details))

    async def _again(self, body: Body, request_id: str) -> None:
        v = await self.client.status(request_id)
        await self.open_request(str(body["trigger_id"]), _user(body), again=v)

    async def _more(self, body: Body, request_id: str) -> None:
        v = await self.client.status(request_id)
        view = views.status_modal(v, self.directory.mentions())
        await self.web.views_open(trigger_id=str(body["trigger_id"]), view=view)

    async def _fav_add(self, body: Body, request_id: str) -> None:
        user_id = _user(body)
        email = await self.email(user_id)
        v = await self.client.status(request_id)
        if email != v.requester:
            raise Refused("only the person who asked can keep this request as a favorite")
        spec = RequestSpec(
            requester=v.requester,
            grantee=v.grantee,
            items=v.grants,
            bundle=v.bundle,
            duration_seconds=v.duration_seconds,
            source="slack",
        )
        name = views.clip(views.what(v), 200)
        await asyncio.to_thread(self.client.store.add_favorite, email, name, spec)
        await self.tell(body, f":star: Saved *{name}* to your favorites (`/access favorites`).")
        await self.publish_home(user_id, email)

    async def _fav_use(self, body: Body, value: str) -> None:
        email = await self.email(_user(body))
        favs = await asyncio.to_thread(self.client.store.favorites, email)
        fav = next((f for f in favs if str(f.id) == value), None)
        if fav is None:
            raise NotFound("that favorite no longer exists")
        await self.web.views_open(
            trigger_id=str(body["trigger_id"]), view=views.favorite_modal(fav.id or 0, fav.name, fav.spec())
        )

    async def _fav_remove(self, body: Body, value: str) -> None:
        user_id = _user(body)
        email = await self.email(user_id)
        removed = value.isdigit() and await asyncio.to_thread(self.client.store.remove_favorite, email, int(value))
        await self.tell(body, "Removed from your favorites." if removed else "That favorite was already gone.")
        await self.publish_home(user_id, email)

    async def _new(self, body: Body, _value: str) -> None:
        await self.open_request(str(body["trigger_id"]), _user(body))

    async def _new_bundle(self, body: Body, _value: str) -> None:
        await self.open_bundle(str(body["trigger_id"]), _user(body))

    _buttons: dict[str, Callable[[SlackFrontDoor, Body, str], Coroutine[Any, Any, None]]] = {
        views.APPROVE: _approve,
        views.REJECT: _reject,
        views.REVOKE: _revoke,
        views.EXTEND: _extend,
        views.DETAILS: _details,
        views.AGAIN: _again,
        views.MORE: _more,
        views.FAV_ADD: _fav_add,
        views.FAV_USE: _fav_use,
        views.FAV_REMOVE: _fav_remove,
        views.NEW_REQUEST: _new,
        views.NEW_BUNDLE: _new_bundle,
        views.ASSIST_OPEN: _assist_open,
        views.ASSIST_PICK: _assist_pick,
    }

    # --- Home tab --------------------------------------------------------------------------------------

    async def on_home_opened(self, ack: AsyncAck, event: Body) -> None:
        await ack()
        if event.get("tab", "home") != "home":
            return
        user_id = str(event.get("user") or "")
        try:
            await self.publish_home(user_id, await self.email(user_id))
        except NoEmail as exc:
            await self.web.views_publish(user_id=user_id, view={"type": "home", "blocks": [views.section(str(exc))]})
        except Exception:
            log.exception("home tab failed", user=user_id)

    async def on_view_closed(self, ack: AsyncAck) -> None:
        await ack()


def _about_them(exc: NoEmail) -> str:
    """Why the person named in "Request on behalf of" cannot receive access, said of them."""
    if isinstance(exc, Barred):
        return exc.about_them
    return "That person has no usable email in Slack, so grantflow cannot know them."


async def _drain(task: asyncio.Future[T]) -> None:
    await task


def _offering(choices: FormChoices, duration: str | None) -> FormChoices:
    """A duration Assist read from a sentence ("for 90 minutes") may be no standard menu entry: offer it too.
    The policy still checks it against the flow's maximum on submit."""
    if not duration or not duration.isdigit() or any(c.value == duration for c in choices.durations):
        return choices
    extra = Choice(duration, format_duration(int(duration)))
    choices.durations = sorted([*choices.durations, extra], key=lambda c: int(c.value))
    return choices


def build_app(
    settings: Settings,
    client: GrantflowClient,
    *,
    web: AsyncWebClient | None = None,
    assist: Suggester | None = None,
    socket_mode: bool = False,
) -> AsyncApp:
    """The bolt app. HTTP mode verifies every request's signature (5-minute replay window).
    `assist` defaults to `grantflow.assist.suggest` (offline, reads the person's favorites from the store)."""
    web = web or make_web_client(settings)
    door = SlackFrontDoor(client, web, assist or suggest, identity_ttl=settings.slack_identity_ttl)
    app = AsyncApp(
        client=web,
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not socket_mode,
        raise_error_for_unhandled_request=False,
    )
    app.command("/access")(door.on_command)
    app.action(re.compile(f"^({views.PICK_INTEGRATION}|{views.PICK_TYPE}|{views.PICK_BUNDLE})$"))(door.on_form_change)
    app.options(views.PICK_RESOURCES)(door.on_suggest)
    app.view(REQUEST_CALLBACK)(door.on_request_submit)
    app.view(BUNDLE_CALLBACK)(door.on_bundle_submit)
    app.view(FAVORITE_CALLBACK)(door.on_favorite_submit)
    app.view(REJECT_CALLBACK)(door.on_reject_submit)
    app.view(ASSIST_CALLBACK)(door.on_assist_submit)
    app.view_closed(re.compile(".*"))(door.on_view_closed)
    app.action(re.compile(".*"))(door.on_action)
    app.event("app_home_opened")(door.on_home_opened)
    app.error(_on_error)
    return app


# What reading fields of the wrong type or missing ones raises, in bolt's own matching or in a handler.
MALFORMED = (KeyError, IndexError, TypeError, AttributeError, ValueError)


async def _on_error(error: Exception, body: Any) -> BoltResponse | None:
    """A signed payload that is not shaped as Slack shapes it (which Slack never sends) is answered 400, not
    bolt's 500: a 500 would claim a fault of ours. Anything else keeps bolt's 500, with the traceback logged."""
    kind = body.get("type") if isinstance(body, dict) else None
    if isinstance(error, MALFORMED):
        log.warning("malformed slack payload", type=kind, error=repr(error)[:300])
        return BoltResponse(status=400, body="")
    log.error("slack request failed", type=kind, exc_info=error)
    return None
