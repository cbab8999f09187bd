"""Access details that hold secrets live here, encrypted, instead of in workflow history.

The grant activity hands the whole access-details dict of an item to the vault and puts only a
reference (`secret_ref`) into history; `GrantflowClient.details` reads it back for the grantee alone;
the revoke activity deletes it. AES-GCM with the first GRANTFLOW_ENCRYPTION_KEYS key, bound to the
request and item (associated data), so a row copied onto another request does not decrypt.
See docs/security.md for why this, rather than encrypted payloads alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, select

from grantflow.payloads.codec import parse_keys
from grantflow.storage.store import Store


class SecretRow(SQLModel, table=True):
    __tablename__ = "access_secrets"
    __table_args__ = (UniqueConstraint("request_id", "item_key"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=32, index=True)
    item_key: str = Field(max_length=500)
    key_id: str = Field(max_length=64)
    nonce: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime


class SecretVault:
    def __init__(self, store: Store, keys: str):
        self.store = store
        self.keys = parse_keys(keys)
        self.key_id = next(iter(self.keys))

    def seed(self) -> bytes:
        """Per-installation secret for deriving credentials (never stored, never in history)."""
        return hmac.new(self.keys[self.key_id], b"grantflow-credential-seed", hashlib.sha256).digest()

    @staticmethod
    def _aad(request_id: str, item_key: str) -> bytes:
        return f"{request_id}\0{item_key}".encode()

    def put(self, request_id: str, item_key: str, details: dict[str, str]) -> str:
        nonce = os.urandom(12)
        data = AESGCM(self.keys[self.key_id]).encrypt(
            nonce, json.dumps(details).encode(), self._aad(request_id, item_key)
        )
        with Session(self.store.engine) as s:
            row = s.exec(
                select(SecretRow).where(SecretRow.request_id == request_id, SecretRow.item_key == item_key)
            ).first()
            if row is None:
                row = SecretRow(
                    request_id=request_id,
                    item_key=item_key,
                    key_id=self.key_id,
                    nonce=nonce,
                    ciphertext=data,
                    created_at=datetime.now(UTC),
                )
            else:
                row.key_id, row.nonce, row.ciphertext = self.key_id, nonce, data
            s.add(row)
            s.commit()
        return f"vault:{request_id}/{item_key}"

    def get(self, request_id: str) -> dict[str, dict[str, str]]:
        """item_key → details, for every item of the request still held."""
        out: dict[str, dict[str, str]] = {}
        with Session(self.store.engine) as s:
            for row in s.exec(select(SecretRow).where(SecretRow.request_id == request_id)):
                key = self.keys.get(row.key_id)
                if key is None:
                    raise ValueError(
                        f"the secret of {row.item_key} was sealed with key {row.key_id!r}, "
                        "which is not in GRANTFLOW_ENCRYPTION_KEYS"
                    )
                plain = AESGCM(key).decrypt(row.nonce, row.ciphertext, self._aad(request_id, row.item_key))
                out[row.item_key] = json.loads(plain)
        return out

    def delete(self, request_id: str, item_key: str) -> None:
        with Session(self.store.engine) as s:
            for row in s.exec(
                select(SecretRow).where(SecretRow.request_id == request_id, SecretRow.item_key == item_key)
            ):
                s.delete(row)
            s.commit()
