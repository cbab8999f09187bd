"""Where each Slack message about a request lives (channel, ts), so later transitions edit it in place.

A row per (request, recipient key). The notifier checks here before posting, so an activity retry that
repeats a batch edits the messages it already sent instead of posting them again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from grantflow.storage.store import Store


class SlackMessageRef(SQLModel, table=True):
    __tablename__ = "slack_messages"
    __table_args__ = (UniqueConstraint("request_id", "recipient", name="uq_slack_messages_request_recipient"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=32, index=True)
    recipient: str = Field(max_length=400)
    channel: str = Field(max_length=64)
    ts: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def ensure_tables(store: Store) -> None:
    """The worker may create the schema before this module is imported; make sure the table exists."""
    SQLModel.metadata.create_all(store.engine, tables=[SlackMessageRef.__table__])  # type: ignore[attr-defined]


def refs_for(store: Store, request_id: str) -> dict[str, SlackMessageRef]:
    with Session(store.engine) as s:
        rows = s.exec(select(SlackMessageRef).where(col(SlackMessageRef.request_id) == request_id))
        return {r.recipient: r for r in rows}


def save_ref(store: Store, request_id: str, recipient: str, channel: str, ts: str) -> None:
    """Keep the first reference written: a concurrent duplicate loses quietly."""
    with Session(store.engine) as s:
        s.add(SlackMessageRef(request_id=request_id, recipient=recipient, channel=channel, ts=ts))
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
