"""Reseal a history's encrypted payloads from one key list to another, nothing else changed.

A history kept by a test run (e.g. `make upgrade-test` with GF_UPGRADE_KEEP=1, which writes the lane's key
beside it as `encryption.keys`) is sealed with a key made for that run; the corpus is replayed with the test
key (tests/e2e/conftest.py: TEST_ENCRYPTION_KEYS). This decrypts every `binary/encrypted` payload with the
first list and encrypts it again with the second; events, ids and times stay as they were.

    .venv/bin/python -m tests.workflows.reseal_history KEPT.json OUT.json "$(cat encryption.keys)"
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import Payload

from grantflow.payloads.codec import EncryptionCodec, parse_keys
from tests.e2e.conftest import TEST_ENCRYPTION_KEYS

ENCRYPTED = b"binary/encrypted"


def reseal(history: Any, old: EncryptionCodec, new: EncryptionCodec) -> tuple[Any, int]:
    """The history (as `temporal workflow show -o json` writes it) with every encrypted payload resealed, and
    how many there were."""
    count = 0

    def walk(node: Any) -> Any:
        nonlocal count
        if isinstance(node, dict):
            meta = node.get("metadata")
            if isinstance(meta, dict) and base64.b64decode(meta.get("encoding", "")) == ENCRYPTED:
                sealed = Payload(
                    metadata={k: base64.b64decode(v) for k, v in meta.items()},
                    data=base64.b64decode(node.get("data", "")),
                )
                again = new.encrypt(old.decrypt(sealed))
                count += 1
                return {
                    "metadata": {k: base64.b64encode(v).decode() for k, v in again.metadata.items()},
                    "data": base64.b64encode(again.data).decode(),
                }
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(history), count


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", type=Path)
    p.add_argument("target", type=Path)
    p.add_argument("old_keys", help="the key list the history was sealed with (id:base64,...)")
    p.add_argument("--new-keys", default=TEST_ENCRYPTION_KEYS, help="default: the corpus's test key")
    args = p.parse_args()
    old, new = EncryptionCodec(parse_keys(args.old_keys)), EncryptionCodec(parse_keys(args.new_keys))
    history, count = reseal(json.loads(args.source.read_text()), old, new)
    args.target.write_text(json.dumps(history, indent=2) + "\n")
    print(f"{args.target}: {count} payloads resealed")


if __name__ == "__main__":
    main()
