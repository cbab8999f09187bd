"""Type-ahead for the resources select when the integration lists too many to show at once."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck

from grantflow import catalog
from slack_app import views
from slack_app.forms import metadata_of
from slack_app.listeners.common import Body, Deps


async def resource_options(ack: AsyncAck, body: Body, deps: Deps) -> None:
    # The block id carries what the resources depend on: `resources|<integration>|<resource type>`.
    _, integration, resource_type = (str(body.get("block_id") or "") + "||").split("|")[:3]
    requester = str(metadata_of(body.get("view") or {}).get("requester") or "")
    found = catalog.suggest_resources(
        deps.client.config, requester, integration, resource_type, str(body.get("value") or "")
    )
    await ack(options=[views.option(c) for c in found])
