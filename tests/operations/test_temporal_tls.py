"""Temporal connection security (TEMPORAL_TLS_*, TEMPORAL_API_KEY), end to end through the real CLI.

`temporal server start-dev` has no TLS of its own, so the test puts a TLS terminator in front of it: an
mTLS listener (its own CA, a server certificate for `temporal.test`, client certificates required) that
forwards the decrypted gRPC stream to the dev server. The CLI connects through it with the settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from grantflow.settings import Settings
from grantflow.temporal import TemporalUnavailable, connect, tls_config
from tests.conftest import EXAMPLE_CONFIG, DevServer, free_port

SERVER_NAME = "temporal.test"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    else:
        eku = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _write(folder: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
    crt, pem = folder / f"{name}.crt", folder / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return crt, pem


@dataclass
class Pki:
    ca: Path
    server: tuple[Path, Path]
    client: tuple[Path, Path]
    stranger: tuple[Path, Path]  # a client certificate from another CA


def make_pki(folder: Path) -> Pki:
    ca_key = _key()
    ca = _cert("grantflow test CA", ca_key, None, ca=True)
    other_key = _key()
    other = _cert("another CA", other_key, None, ca=True)
    server_key, client_key, stranger_key = _key(), _key(), _key()
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return Pki(
        ca=folder / "ca.crt",
        server=_write(folder, "server", _cert(SERVER_NAME, server_key, (ca, ca_key), server=True), server_key),
        client=_write(folder, "worker", _cert("grantflow-worker", client_key, (ca, ca_key)), client_key),
        stranger=_write(folder, "stranger", _cert("stranger", stranger_key, (other, other_key)), stranger_key),
    )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@contextlib.asynccontextmanager
async def mtls_terminator(pki: Pki, upstream: DevServer) -> AsyncIterator[str]:
    """An mTLS listener on loopback that forwards to the dev server's plaintext gRPC port."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    context.load_cert_chain(*map(str, pki.server))
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    host, port = upstream.address.rsplit(":", 1)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", free_port(), ssl=context)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


@pytest.fixture()
def pki(tmp_path: Path) -> Pki:
    folder = tmp_path / "pki"
    folder.mkdir()
    return make_pki(folder)


def tls_env(pki: Pki, client: tuple[Path, Path] | None) -> dict[str, str]:
    env = {"TEMPORAL_TLS_CA": str(pki.ca), "TEMPORAL_TLS_SERVER_NAME": SERVER_NAME}
    if client:
        env |= {"TEMPORAL_TLS_CERT": str(client[0]), "TEMPORAL_TLS_KEY": str(client[1])}
    return env


async def cli(tmp_path: Path, address: str, extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_TLS_", "TEMPORAL_API_KEY"))} | {
        "TEMPORAL_ADDRESS": address,
        "GRANTFLOW_CONFIG": str(EXAMPLE_CONFIG),
        "GRANTFLOW_STATE_DIR": str(tmp_path / "state"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/gf.db",
        **extra,
    }
    cmd = [str(Path(sys.executable).parent / "grantflow"), *args]
    return await asyncio.to_thread(subprocess.run, cmd, env=env, capture_output=True, text=True, timeout=90)


async def test_the_cli_reaches_temporal_over_mtls(dev_server: DevServer, pki: Pki, tmp_path: Path) -> None:
    async with mtls_terminator(pki, dev_server) as address:
        ok = await cli(tmp_path, address, tls_env(pki, pki.client), "status", "nosuchid0001")
        # The query reached the server through mTLS: the answer is the server's NOT_FOUND, as one line.
        assert ok.returncode == 2, ok.stderr
        assert ok.stderr.strip() == "grantflow: error: unknown request id nosuchid0001"

        settings = Settings(TEMPORAL_ADDRESS=address, **tls_env(pki, pki.client))
        client = await connect(settings)
        assert (await client.workflow_service.get_system_info(_system_info())).server_version

        for name, extra in (
            ("no client certificate", tls_env(pki, None)),
            ("a client certificate of another CA", tls_env(pki, pki.stranger)),
        ):
            refused = await cli(tmp_path, address, extra, "status", "nosuchid0001")
            assert refused.returncode == 1, (name, refused.stderr)
            line = refused.stderr.strip()
            assert "\n" not in line and line.startswith(
                f"grantflow: error: cannot reach Temporal at {address} over TLS"
            )


async def test_tls_to_a_plaintext_server_fails_clearly(dev_server: DevServer, pki: Pki, tmp_path: Path) -> None:
    got = await cli(tmp_path, dev_server.address, tls_env(pki, pki.client), "status", "nosuchid0001")
    assert got.returncode == 1
    line = got.stderr.strip()
    assert "\n" not in line and f"cannot reach Temporal at {dev_server.address} over TLS" in line, line
    with pytest.raises(TemporalUnavailable, match="check the certificates"):
        await connect(Settings(TEMPORAL_ADDRESS=dev_server.address, **tls_env(pki, pki.client)))


async def test_a_bad_path_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for extra, want in (
        ({"TEMPORAL_TLS_CA": str(tmp_path / "nope.pem")}, f"TEMPORAL_TLS_CA: {tmp_path / 'nope.pem'}: no such file"),
        (
            {"TEMPORAL_TLS_CERT": str(tmp_path)},  # a directory
            f"TEMPORAL_TLS_CERT: {tmp_path}: no such file",
        ),
        (
            {"TEMPORAL_TLS_CERT": __file__},
            "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (the client certificate and its key)",
        ),
    ):
        for args in (("status", "abc"), ("worker",)):
            got = await cli(tmp_path, "127.0.0.1:1", extra, *args)
            assert (got.returncode, got.stderr) == (2, f"grantflow: error: {want}\n"), (args, got.stderr)


def test_tls_config_from_the_settings(pki: Pki) -> None:
    assert tls_config(Settings()) is False
    assert tls_config(Settings(TEMPORAL_API_KEY="k")) is True  # Temporal Cloud: TLS with the system's roots
    cfg = tls_config(Settings(**tls_env(pki, pki.client)))
    assert not isinstance(cfg, bool)
    assert cfg.server_root_ca_cert == pki.ca.read_bytes() and cfg.domain == SERVER_NAME
    assert cfg.client_cert == pki.client[0].read_bytes() and cfg.client_private_key == pki.client[1].read_bytes()


def _system_info() -> object:
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

    return GetSystemInfoRequest()
