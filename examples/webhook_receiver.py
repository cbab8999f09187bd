"""A reference receiver for grantflow's `webhook` integration, standard library only.

Run it:   WEBHOOK_SECRET=... python examples/webhook_receiver.py --port 8787 [--resources folder=alpha,beta]

and point an integration at it (`url: http://host:8787/grantflow`, `secret_env` naming a worker variable
holding the same secret). What it shows, to copy into your own service:

- the signature: `X-Grantflow-Signature: v1=<hex HMAC-SHA256(secret, "v1:{timestamp}:{raw body}")>`, computed
  over the raw bytes and compared in constant time;
- staleness: `X-Grantflow-Timestamp` more than `--max-age` seconds (default 300) from now is refused;
- replay: a signature already seen within that window is refused (a captured delivery sent again);
- idempotency: grantflow sends the same `idempotency_key` for every delivery of one action (its retries
  after a timeout or a crashed worker); the first outcome is stored and answered again, not applied twice.

Answers: 200 with JSON (a grant's JSON is what the grantee sees as access details); 401 for a bad or stale
signature and 409 for a replay, each `{"error": ...}` — grantflow fails the item with that message (a 4xx
is final, a 5xx is retried). `GET /resources/<type>` (signed, empty body) answers discovery; `GET /state`
(signed) shows the grants held, for tests. State lives in memory: replace `apply` with the real work.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 64 * 1024


class Receiver:
    def __init__(self, secret: bytes, max_age: int, resources: dict[str, list[str]]):
        self.secret = secret
        self.max_age = max_age
        self.resources = resources
        self.lock = threading.Lock()
        self.seen: dict[str, float] = {}  # signature -> when it stops being replayable (its timestamp + max_age)
        self.outcomes: dict[str, tuple[int, dict[str, Any]]] = {}  # idempotency_key -> first answer
        self.grants: dict[str, dict[str, Any]] = {}  # "grantee|type|resource|permission|request" -> delivery
        self.applied = 0

    def verify(self, timestamp: str | None, signature: str | None, body: bytes) -> tuple[int, str] | None:
        """None when the delivery is genuine and fresh; else the status and reason to refuse it."""
        if not timestamp or not signature:
            return 401, "missing signature headers"
        try:
            ts = int(timestamp)
        except ValueError:
            return 401, "bad timestamp"
        now = time.time()
        if abs(now - ts) > self.max_age:
            return 401, f"stale delivery: timestamp is {int(now - ts)}s away from now (limit {self.max_age}s)"
        mac = hmac.new(self.secret, b"v1:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest("v1=" + mac, signature):
            return 401, "bad signature"
        with self.lock:
            self.seen = {s: until for s, until in self.seen.items() if until > now}
            if signature in self.seen:
                return 409, "replayed delivery: this signature was already received"
            self.seen[signature] = ts + self.max_age
        return None

    def handle(self, delivery: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        key = str(delivery.get("idempotency_key", ""))
        if not key:
            return 400, {"error": "idempotency_key is missing"}
        with self.lock:
            if key in self.outcomes:
                return self.outcomes[key]
            outcome = self.apply(delivery)
            self.outcomes[key] = outcome
            return outcome

    def apply(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The real work goes here. This one keeps grants in memory and refuses unknown resources."""
        rtype, resource = str(d.get("resource_type")), str(d.get("resource"))
        known = self.resources.get(rtype)
        if known is not None and resource not in known:
            return 400, {"error": f"unknown {rtype} {resource!r}"}
        grant = "|".join(str(d.get(k)) for k in ("grantee", "resource_type", "resource", "permission", "request_id"))
        action = d.get("action")
        self.applied += 1
        if action == "grant":
            self.grants[grant] = d
            return 200, {"account": str(d.get("grantee")), "resource": resource, "expires_at": d.get("expires_at")}
        if action == "extend":
            if grant in self.grants:
                self.grants[grant] = d
            return 200, {"ok": True}
        if action == "revoke":
            self.grants.pop(grant, None)
            return 200, {"ok": True}
        return 400, {"error": f"unknown action {action!r}"}


def make_handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _verified(self, body: bytes) -> bool:
            refused = receiver.verify(
                self.headers.get("X-Grantflow-Timestamp"), self.headers.get("X-Grantflow-Signature"), body
            )
            if refused is not None:
                self._answer(refused[0], {"error": refused[1]})
                return False
            return True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(413, {"error": "body too large"})
                return
            body = self.rfile.read(length)
            if not self._verified(body):
                return
            try:
                delivery = json.loads(body)
            except ValueError:
                self._answer(400, {"error": "body is not JSON"})
                return
            if not isinstance(delivery, dict):
                self._answer(400, {"error": "body is not a JSON object"})
                return
            self._answer(*receiver.handle(delivery))

        def do_GET(self) -> None:
            if not self._verified(b""):
                return
            if self.path == "/state":
                with receiver.lock:
                    self._answer(200, {"grants": sorted(receiver.grants), "applied": receiver.applied})
            elif self.path.startswith("/resources/"):
                self._answer(200, receiver.resources.get(self.path.removeprefix("/resources/"), []))
            else:
                self._answer(404, {"error": "not found"})

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"webhook_receiver: {self.command} {self.path} {args[1] if len(args) > 1 else ''}\n")

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--secret-env", default="WEBHOOK_SECRET", help="environment variable holding the secret")
    parser.add_argument("--max-age", type=int, default=300, help="seconds a delivery stays fresh")
    parser.add_argument("--resources", action="append", default=[], help="TYPE=a,b,c: the known resources")
    args = parser.parse_args(argv)
    secret = os.environ.get(args.secret_env, "")
    if not secret:
        print(f"webhook_receiver: set {args.secret_env} to the shared secret", file=sys.stderr)
        return 2
    resources = {}
    for spec in args.resources:
        rtype, _, names = spec.partition("=")
        resources[rtype] = [n for n in names.split(",") if n]
    server = ThreadingHTTPServer(
        (args.host, args.port), make_handler(Receiver(secret.encode(), args.max_age, resources))
    )
    print(f"webhook_receiver: listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
