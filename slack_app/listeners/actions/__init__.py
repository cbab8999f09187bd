"""Buttons and selects, each registered by its own action id (`slack_app/ids.py`)."""

from __future__ import annotations

from functools import partial

from slack_bolt.async_app import AsyncApp

from slack_app import ids
from slack_app.listeners.actions import assist, decide, favorites, new, owner
from slack_app.listeners.actions.form import form_changed
from slack_app.listeners.actions.unknown import register_unknown
from slack_app.listeners.common import Deps, button


def register(app: AsyncApp, deps: Deps) -> None:
    app.action(ids.APPROVE)(button(decide.approve, deps))
    app.action(ids.REJECT)(button(decide.reject, deps))
    app.action(ids.REVOKE)(button(owner.revoke, deps))
    app.action(ids.EXTEND)(button(owner.extend, deps))
    app.action(ids.DETAILS)(button(owner.details, deps))
    app.action(ids.AGAIN)(button(owner.again, deps))
    app.action(ids.MORE)(button(owner.more, deps))
    app.action(ids.FAV_ADD)(button(favorites.add, deps))
    app.action(ids.FAV_USE)(button(favorites.use, deps))
    app.action(ids.FAV_REMOVE)(button(favorites.remove, deps))
    app.action(ids.NEW_REQUEST)(button(new.new_request, deps))
    app.action(ids.NEW_BUNDLE)(button(new.new_bundle, deps))
    app.action(ids.ASSIST_OPEN)(button(assist.ask, deps))
    app.action(ids.ASSIST_PICK)(button(assist.pick, deps))
    app.action(ids.PICK_INTEGRATION)(partial(form_changed, deps=deps))
    app.action(ids.PICK_TYPE)(partial(form_changed, deps=deps))
    app.action(ids.PICK_BUNDLE)(partial(form_changed, deps=deps))
    register_unknown(app, deps)
