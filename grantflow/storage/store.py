"""The durable record: request index, append-only audit trail, favorites (sqlmodel; SQLite or PostgreSQL).

Temporal is the source of truth for a live request; this database is what outlives Temporal's
retention and answers listing queries quickly. Writes are idempotent (audit rows carry a unique key)
so an activity that runs twice records once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Index, Text, event, or_, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from grantflow.domain.models import AuditEvent, RequestSpec, StatusView

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(dt: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; everything here is UTC."""
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt


class RequestRow(SQLModel, table=True):
    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_status", "status"),
        Index("ix_requests_requester", "requester"),
        Index("ix_requests_grantee", "grantee"),
    )

    request_id: str = Field(primary_key=True, max_length=32)
    workflow_id: str = Field(max_length=64)
    status: str = Field(max_length=20)
    status_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    requester: str = Field(max_length=320)
    grantee: str = Field(max_length=320)
    flow_id: str = Field(default="", max_length=128)
    integrations: str = Field(default="", max_length=1000)
    view_json: str = Field(sa_column=Column(Text, nullable=False))
    submitted_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    ended_at: datetime | None = None

    def view(self) -> StatusView:
        return StatusView.model_validate_json(self.view_json)


class AuditRow(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_request", "request_id"), Index("ix_audit_at", "at"))

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)
    request_id: str = Field(max_length=32)
    at: datetime
    actor: str = Field(max_length=320)
    action: str = Field(max_length=64)
    outcome: str = Field(max_length=16)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    detail_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))

    def event(self) -> AuditEvent:
        return AuditEvent(
            key=self.key,
            request_id=self.request_id,
            at=_aware(self.at) or self.at,
            actor=self.actor,
            action=self.action,
            outcome=self.outcome,  # type: ignore[arg-type]
            reason=self.reason,
            detail=json.loads(self.detail_json or "{}"),
        )


class FavoriteRow(SQLModel, table=True):
    __tablename__ = "favorites"
    __table_args__ = (Index("ix_favorites_owner", "owner"),)

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=320)
    name: str = Field(max_length=200)
    spec_json: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime

    def spec(self) -> RequestSpec:
        return RequestSpec.model_validate_json(self.spec_json)


class SchemaVersionRow(SQLModel, table=True):
    """One row: the schema version this database is at, so a later release can migrate it."""

    __tablename__ = "schema_version"
    id: int = Field(default=1, primary_key=True)
    version: int


def _request_values(view: StatusView) -> dict[str, Any]:
    """The index row of a request, from its current view (everything but the key)."""
    return {
        "workflow_id": view.workflow_id,
        "status": view.status.value,
        "status_reason": view.status_reason,
        "requester": view.requester,
        "grantee": view.grantee,
        "flow_id": view.flow_id,
        "integrations": ",".join(sorted({g.integration for g in view.grants})),
        "view_json": view.model_dump_json(),
        "submitted_at": view.submitted_at,
        "updated_at": utcnow(),
        "expires_at": view.expires_at,
        "ended_at": view.ended_at,
    }


def _audit_values(e: AuditEvent) -> dict[str, Any]:
    return {
        "key": e.key,
        "request_id": e.request_id,
        "at": e.at,
        "actor": e.actor,
        "action": e.action,
        "outcome": e.outcome,
        "reason": e.reason,
        "detail_json": json.dumps(e.detail, default=str, sort_keys=True),
    }


def _dialect_insert(dialect: str) -> Any:
    """The INSERT with ON CONFLICT of this dialect, or None where there is none."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    return None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=10000")
    # Switching a fresh file to WAL takes an exclusive lock that SQLite does not wait for: processes opening the
    # same new database at once (the dev worker and a first command) see "database is locked"; try again.
    for attempt in range(1, 101):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 100:
                raise
            time.sleep(0.02)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def make_engine(url: str) -> Engine:
    """One engine per URL per process; SQLite files get their folder created and WAL mode."""
    with _engines_lock:
        if url in _engines:
            return _engines[url]
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if url.startswith("postgresql://"):
            url_for_driver = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        else:
            url_for_driver = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        engine = create_engine(url_for_driver, **kwargs)
        if url.startswith("sqlite"):
            event.listen(engine, "connect", _sqlite_pragmas)
        _engines[url] = engine
        return engine


# How often creating the schema is tried when another process creates the same tables at the same moment.
SCHEMA_ATTEMPTS = 10


class StoreError(Exception):
    pass


class Store:
    def __init__(self, database_url: str):
        self.url = database_url
        self.engine = make_engine(database_url)

    def create_all(self) -> None:
        """Create the schema on start; refuse a database written by a newer grantflow. Several processes may do
        this at once on a fresh database (`grantflow dev`'s worker and a first command): create_all checks a
        table, then creates it, and another process can create it in between (or, on SQLite, hold the write
        lock the check's read cannot be upgraded to: "database is locked" at once); the loser tries again."""
        for attempt in range(1, SCHEMA_ATTEMPTS + 1):
            try:
                SQLModel.metadata.create_all(self.engine)
                break
            except (OperationalError, ProgrammingError, IntegrityError) as exc:
                text = str(exc).lower()
                raced = ("already exists", "duplicate key", "database is locked")  # the last: SQLite's busy upgrade
                if attempt == SCHEMA_ATTEMPTS or not any(r in text for r in raced):
                    raise
                time.sleep(0.05 * attempt)
        with Session(self.engine) as s:
            row = s.get(SchemaVersionRow, 1)
            if row is None:
                s.add(SchemaVersionRow(id=1, version=SCHEMA_VERSION))
                try:
                    s.commit()
                except IntegrityError:
                    s.rollback()
            elif row.version > SCHEMA_VERSION:
                raise StoreError(
                    f"the database schema is version {row.version}, newer than this grantflow "
                    f"({SCHEMA_VERSION}): upgrade grantflow"
                )

    # --- request index ---------------------------------------------------------------------------

    def upsert_request(self, view: StatusView) -> None:
        with Session(self.engine) as s:
            row = s.get(RequestRow, view.request_id)
            values = _request_values(view)
            if row is None:
                s.add(RequestRow(request_id=view.request_id, **values))
            else:
                for k, v in values.items():
                    setattr(row, k, v)
                s.add(row)
            try:
                s.commit()
            except IntegrityError:
                # A concurrent first insert won: apply ours as an update.
                s.rollback()
                self.upsert_request(view)

    def record(self, view: StatusView, events: list[AuditEvent]) -> int:
        """A lifecycle batch: upsert the index row and add the audit events not yet recorded, in one
        transaction of two statements where the dialect has ON CONFLICT (through the ORM these writes were
        a quarter of the worker's CPU per request, bench/README.md). Returns how many events were new."""
        insert = _dialect_insert(self.engine.dialect.name)
        if insert is None:
            self.upsert_request(view)
            return self.append_audit(events)
        values = {"request_id": view.request_id, **_request_values(view)}
        requests, audit = RequestRow.__table__, AuditRow.__table__  # type: ignore[attr-defined]
        upsert = insert(requests).values(values)
        upsert = upsert.on_conflict_do_update(
            index_elements=[requests.c.request_id],
            set_={k: upsert.excluded[k] for k in values if k != "request_id"},
        )
        with self.engine.begin() as conn:
            conn.execute(upsert)
            if not events:
                return 0
            rows = [_audit_values(e) for e in events]
            # A retried batch writes the same rows again: nothing changes. A batch that a workflow published
            # from a task the server then refused (signals arrived while it completed) can differ from the
            # one its accepted retry publishes under the same keys; the accepted one is the one that stands.
            stmt = insert(audit).values(rows)
            changed = [c for c in _audit_values(events[0]) if c != "key"]
            stmt = stmt.on_conflict_do_update(
                index_elements=[audit.c.key],
                set_={c: stmt.excluded[c] for c in changed},
                where=or_(*(audit.c[c] != stmt.excluded[c] for c in changed)),
            )
            result = conn.execute(stmt)
            return max(0, result.rowcount)

    def get_request(self, request_id: str) -> StatusView | None:
        with Session(self.engine) as s:
            row = s.get(RequestRow, request_id)
            return row.view() if row else None

    def list_requests(
        self,
        *,
        person: str | None = None,
        status: str | Sequence[str] | None = None,
        since: datetime | None = None,
        limit: int | None = 200,
    ) -> list[StatusView]:
        """Newest first; `limit=None` for all of them."""
        with Session(self.engine) as s:
            q = select(RequestRow)
            if person:
                q = q.where((col(RequestRow.requester) == person) | (col(RequestRow.grantee) == person))
            if status:
                statuses = [status] if isinstance(status, str) else list(status)
                q = q.where(col(RequestRow.status).in_(statuses))
            if since:
                q = q.where(col(RequestRow.submitted_at) >= since)
            q = q.order_by(col(RequestRow.submitted_at).desc())
            if limit is not None:
                q = q.limit(limit)
            return [r.view() for r in s.exec(q)]

    def count_by_status(self) -> dict[str, int]:
        with Session(self.engine) as s:
            rows = s.exec(text("SELECT status, COUNT(*) FROM requests GROUP BY status"))  # type: ignore[call-overload]
            return {str(k): int(v) for k, v in rows}

    # --- audit trail -----------------------------------------------------------------------------

    def append_audit(self, events: Iterable[AuditEvent]) -> int:
        """Insert events whose key is new; return how many were new. Never updates a row."""
        events = list(events)
        if not events:
            return 0
        with Session(self.engine) as s:
            existing = set(s.exec(select(AuditRow.key).where(col(AuditRow.key).in_([e.key for e in events]))))
            new = [e for e in events if e.key not in existing]
            for e in new:
                s.add(AuditRow(**_audit_values(e)))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                return sum(self.append_audit([e]) for e in new) if len(new) > 1 else 0
            return len(new)

    def audit(
        self, *, request_id: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[AuditEvent]:
        with Session(self.engine) as s:
            q = select(AuditRow)
            if request_id:
                q = q.where(AuditRow.request_id == request_id)
            if since:
                q = q.where(col(AuditRow.at) >= since)
            q = q.order_by(col(AuditRow.at), col(AuditRow.id))
            if limit:
                q = q.limit(limit)
            return [r.event() for r in s.exec(q)]

    # --- favorites -------------------------------------------------------------------------------

    def add_favorite(self, owner: str, name: str, spec: RequestSpec) -> int:
        with Session(self.engine) as s:
            for existing in s.exec(select(FavoriteRow).where(FavoriteRow.owner == owner)):
                if existing.spec().items == spec.items and existing.spec().grantee == spec.grantee:
                    return existing.id or 0
            row = FavoriteRow(owner=owner, name=name, spec_json=spec.model_dump_json(), created_at=utcnow())
            s.add(row)
            s.commit()
            s.refresh(row)
            return row.id or 0

    def favorites(self, owner: str) -> list[FavoriteRow]:
        with Session(self.engine) as s:
            q = select(FavoriteRow).where(FavoriteRow.owner == owner).order_by(col(FavoriteRow.created_at).desc())
            return list(s.exec(q))

    def remove_favorite(self, owner: str, favorite_id: int) -> bool:
        with Session(self.engine) as s:
            row = s.get(FavoriteRow, favorite_id)
            if row is None or row.owner != owner:
                return False
            s.delete(row)
            s.commit()
            return True
