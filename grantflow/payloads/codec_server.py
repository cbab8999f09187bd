"""A codec server, so that operators can read encrypted payloads in the Web UI and the `temporal` CLI.

`temporal workflow show --codec-endpoint http://127.0.0.1:8081 ...` and the Web UI's "codec endpoint"
setting POST `{"payloads": [...]}` (protobuf JSON: base64 metadata values and data) to `/encode` and
`/decode`. The browser calls it cross-origin, so CORS answers only the one configured UI origin: any
other page the operator has open cannot use this server to decrypt history.

It binds to loopback by default: anyone who can reach it can decrypt, so it belongs next to the UI.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

from aiohttp import hdrs, web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from grantflow.payloads.codec import EncryptionCodec, keys_from_env

DEFAULT_UI_ORIGIN = "http://localhost:8233"
DEFAULT_PORT = 8081
ALLOWED_HEADERS = "content-type, x-namespace"
MAX_BODY = 8 * 1024 * 1024

_log = logging.getLogger(__name__)

CodecFn = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]
_ORIGINS: web.AppKey[frozenset[str]] = web.AppKey("ui_origins", frozenset)


def _cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    response.headers[hdrs.VARY] = "Origin"
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is not None and origin in request.app[_ORIGINS]:
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = "POST, OPTIONS"
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = ALLOWED_HEADERS
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
        response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = "600"
    return response


async def _preflight(request: web.Request) -> web.StreamResponse:
    return _cors(request, web.Response(status=204))


def _handler(fn: CodecFn, what: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            message = json_format.Parse(await request.read(), Payloads())
        except (json_format.ParseError, UnicodeDecodeError) as exc:
            return _cors(request, web.json_response({"error": f"bad payloads JSON: {exc}"}, status=400))
        try:
            result = Payloads(payloads=await fn(list(message.payloads)))
        except ValueError as exc:
            _log.warning("codec server could not %s: %s", what, exc)
            return _cors(request, web.json_response({"error": str(exc)}, status=422))
        body = json_format.MessageToJson(result)
        return _cors(request, web.Response(text=body, content_type="application/json"))

    return handle


def build_app(codec: PayloadCodec, ui_origin: str | Iterable[str] = DEFAULT_UI_ORIGIN) -> web.Application:
    origins = frozenset([ui_origin] if isinstance(ui_origin, str) else ui_origin)
    app = web.Application(client_max_size=MAX_BODY)
    app[_ORIGINS] = frozenset(o.rstrip("/") for o in origins)
    app.add_routes(
        [
            web.post("/encode", _handler(codec.encode, "encode")),
            web.post("/decode", _handler(codec.decode, "decode")),
            web.options("/encode", _preflight),
            web.options("/decode", _preflight),
        ]
    )
    return app


async def start(
    codec: PayloadCodec,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    ui_origin: str | Iterable[str] = DEFAULT_UI_ORIGIN,
) -> web.AppRunner:
    """Start listening and return the runner; `await runner.cleanup()` stops it."""
    runner = web.AppRunner(build_app(codec, ui_origin), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


async def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    codec: PayloadCodec | None = None,
    ui_origin: str | Iterable[str] = DEFAULT_UI_ORIGIN,
) -> None:
    """Serve until cancelled. Without a codec, the keys come from `GRANTFLOW_ENCRYPTION_KEYS`."""
    runner = await start(codec or EncryptionCodec(keys_from_env()), host, port, ui_origin)
    _log.info("codec server on http://%s:%s for %s", host, port, ui_origin)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
