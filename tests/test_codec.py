"""Payload encryption and the codec server (over real HTTP on loopback)."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from temporalio.api.common.v1 import Payload

from grantflow.dev.pgserver import free_port
from grantflow.domain.models import GrantItem, GrantResult
from grantflow.payloads import codec_server
from grantflow.payloads.codec import (
    ENCODING,
    KEY_ID_METADATA,
    CodecKeyError,
    EncryptionCodec,
    data_converter,
    generate_key_file,
    keys_from_env,
    new_key_entry,
    parse_keys,
)

SECRET = "s3cr3t-Password-for-alice"
UI = "http://localhost:8233"


def ring(*ids: str) -> dict[str, bytes]:
    return parse_keys(",".join(new_key_entry(i) for i in ids))


def result() -> GrantResult:
    item = GrantItem(integration="demo-postgres", resource_type="table", resource="orders.customers", permission="read")
    return GrantResult(item=item, ok=True, details={"user": "gf_alice_r1", "password": SECRET})


async def test_round_trip_through_the_pydantic_converter() -> None:
    conv = data_converter(ring("k1"))
    payloads = await conv.encode([result()])
    assert len(payloads) == 1
    assert payloads[0].metadata["encoding"] == ENCODING
    assert payloads[0].metadata[KEY_ID_METADATA] == b"k1"
    assert SECRET.encode() not in payloads[0].SerializeToString()
    assert b"gf_alice" not in payloads[0].data
    [back] = await conv.decode(payloads, [GrantResult])
    assert back == result()


async def test_each_encryption_uses_a_fresh_nonce() -> None:
    c = EncryptionCodec(ring("k1"))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"same"')
    a, b = await c.encode([plain, plain])
    assert a.data != b.data


async def test_key_rotation_keeps_old_payloads_readable() -> None:
    old = ring("old")
    old_conv = data_converter(old)
    written_with_old = await old_conv.encode([result()])

    new = {**ring("new"), **old}
    new_conv = data_converter(new)
    [back] = await new_conv.decode(written_with_old, [GrantResult])
    assert back == result()
    fresh = await new_conv.encode([result()])
    assert fresh[0].metadata[KEY_ID_METADATA] == b"new"
    with pytest.raises(CodecKeyError, match="key id 'new'"):
        await old_conv.decode(fresh, [GrantResult])


async def test_unknown_key_and_tampering_are_clear_errors() -> None:
    c = EncryptionCodec(ring("k1"))
    [enc] = await c.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')])
    other = EncryptionCodec(ring("k2"))
    with pytest.raises(CodecKeyError, match=r"key id 'k1', which is not in GRANTFLOW_ENCRYPTION_KEYS"):
        await other.decode([enc])
    same_id_wrong_key = EncryptionCodec(ring("k1"))
    with pytest.raises(CodecKeyError, match="wrong key or tampered"):
        await same_id_wrong_key.decode([enc])
    relabelled = Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: b"k1"}, data=enc.data[:-1] + b"\0")
    with pytest.raises(CodecKeyError, match="wrong key or tampered"):
        await c.decode([relabelled])


async def test_unencrypted_payloads_pass_through() -> None:
    c = EncryptionCodec(ring("k1"))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}')
    assert await c.decode([plain]) == [plain]


def test_parse_keys_validates_without_echoing_keys() -> None:
    entry = new_key_entry("a")
    key_b64 = entry.split(":", 1)[1]
    urlsafe = base64.urlsafe_b64encode(base64.b64decode(key_b64)).decode().rstrip("=")
    assert parse_keys(f" a:{key_b64} , b:{urlsafe} ") == {
        "a": base64.b64decode(key_b64),
        "b": base64.b64decode(key_b64),
    }
    assert list(parse_keys(f"z:{key_b64},a:{key_b64}")) == ["z", "a"]
    short = base64.b64encode(b"x" * 10).decode()
    for bad, message in [
        ("", "no keys"),
        ("nocolon", "id:base64key"),
        (f"a:{key_b64},a:{key_b64}", "twice"),
        ("a:!!!notbase64", "not valid base64"),
        (f"a:{short}", "10 bytes"),
        (f"bad id:{key_b64}", "may only use"),
    ]:
        with pytest.raises(CodecKeyError, match=message) as err:
            parse_keys(bad)
        assert key_b64 not in str(err.value)


def test_keys_from_env() -> None:
    entry = new_key_entry("env1")
    assert list(keys_from_env({"GRANTFLOW_ENCRYPTION_KEYS": entry})) == ["env1"]
    assert keys_from_env({}) == {}


def test_generate_key_file_creates_once_with_private_permissions(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "encryption.key"
    first = generate_key_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(next(iter(parse_keys(first).values()))) == 32
    assert generate_key_file(path) == first
    path.write_text("garbage\n")
    with pytest.raises(CodecKeyError):
        generate_key_file(path)


# --- codec server -------------------------------------------------------------------------------


@pytest.fixture()
async def server() -> AsyncIterator[str]:
    port = free_port()
    runner = await codec_server.start(EncryptionCodec(ring("srv")), "127.0.0.1", port, UI)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def as_json(payloads: list[Payload]) -> dict[str, Any]:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


async def test_codec_server_encodes_and_decodes_over_http(server: str) -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"password": SECRET}).encode())
    headers = {"Origin": UI, "Content-Type": "application/json", "X-Namespace": "default"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server}/encode", json=as_json([plain]), headers=headers) as resp:
            assert resp.status == 200
            assert resp.headers["Access-Control-Allow-Origin"] == UI
            encoded = await resp.json()
        [enc] = encoded["payloads"]
        assert base64.b64decode(enc["metadata"]["encoding"]) == ENCODING
        assert SECRET.encode() not in base64.b64decode(enc["data"])

        async with http.post(f"{server}/decode", json=encoded, headers=headers) as resp:
            assert resp.status == 200
            decoded = await resp.json()
        [dec] = decoded["payloads"]
        assert base64.b64decode(dec["data"]) == plain.data
        assert base64.b64decode(dec["metadata"]["encoding"]) == b"json/plain"

        async with http.post(f"{server}/decode", data=b"{not json", headers=headers) as resp:
            assert resp.status == 400
        foreign = await EncryptionCodec(ring("elsewhere")).encode([plain])
        async with http.post(f"{server}/decode", json=as_json(foreign), headers=headers) as resp:
            assert resp.status == 422
            assert "elsewhere" in (await resp.json())["error"]


async def test_codec_server_cors_only_for_the_ui_origin(server: str) -> None:
    preflight = {
        "Origin": UI,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    async with aiohttp.ClientSession() as http:
        for path in ("/decode", "/encode"):
            async with http.options(f"{server}{path}", headers=preflight) as resp:
                assert resp.status < 300
                assert resp.headers["Access-Control-Allow-Origin"] == UI
                assert "POST" in resp.headers["Access-Control-Allow-Methods"]
                allowed = {h.strip() for h in resp.headers["Access-Control-Allow-Headers"].split(",")}
                assert {"content-type", "x-namespace"} <= allowed

        evil = {**preflight, "Origin": "http://evil.example"}
        async with http.options(f"{server}/decode", headers=evil) as resp:
            assert "Access-Control-Allow-Origin" not in resp.headers
        async with http.post(
            f"{server}/decode", json={"payloads": []}, headers={"Origin": "http://evil.example"}
        ) as resp:
            assert resp.status == 200
            assert "Access-Control-Allow-Origin" not in resp.headers


async def test_failure_text_is_encrypted_and_failures_recorded_in_clear_still_read() -> None:
    """The worker's converter (grantflow.temporal) encodes a failure's message and stack trace; a failure
    written before that (message in clear, as in recorded v0.1.0 histories) still decodes to its message."""
    from temporalio.api.failure.v1 import Failure
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.exceptions import ApplicationError

    from grantflow.temporal import data_converter as worker_converter

    marker = "quota exceeded for MARKER-7f3a"
    conv = worker_converter(new_key_entry("k1"))
    sealed = Failure()
    await conv.encode_failure(ApplicationError(marker, type="IntegrationError"), sealed)
    assert sealed.message == "Encoded failure" and sealed.HasField("encoded_attributes")
    assert marker.encode() not in sealed.SerializeToString()
    back = await conv.decode_failure(sealed)
    assert isinstance(back, ApplicationError) and back.message == marker

    clear = Failure()
    await pydantic_data_converter.encode_failure(ApplicationError(marker, type="IntegrationError"), clear)
    assert clear.message == marker and not clear.HasField("encoded_attributes")
    old = await conv.decode_failure(clear)
    assert isinstance(old, ApplicationError) and old.message == marker
