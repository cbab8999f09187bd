"""Prometheus metrics of the worker, on two ports.

- `GRANTFLOW_METRICS_PORT`: grantflow's own metrics (prometheus_client): requests entering each status,
  requests in the index by status, time to approval, time to grant, grant and revoke failures per
  integration — plus the Python process collectors.
- `GRANTFLOW_TEMPORAL_METRICS_PORT` (default: the port above + 1): the Temporal SDK's runtime metrics
  (task slots, poll latencies, activity and workflow task failures), served by the SDK core itself, which
  cannot share a port with prometheus_client.

The lifecycle metrics are fed by the publish activity. A retried publish batch is not counted twice:
`observe` is only called for batches whose audit events were new.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from grantflow.domain.ops import PublishBatch
from grantflow.settings import Settings

STATUS_KINDS = frozenset(
    {"submitted", "granting", "active", "revoking", "rejected", "revoked", "expired", "failed", "approval_timeout"}
)
GAUGE_REFRESH_SECONDS = 10.0

TRANSITIONS = Counter("grantflow_request_transitions", "Requests entering a status", ["status"])
REQUESTS = Gauge("grantflow_requests", "Requests in the request index, by status", ["status"])
TIME_TO_APPROVAL = Histogram(
    "grantflow_time_to_approval_seconds",
    "From submission to the deciding approval (automatic approvals excluded)",
    buckets=(30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 604800),
)
TIME_TO_GRANT = Histogram(
    "grantflow_time_to_grant_seconds",
    "From the start of granting to ACTIVE (all items granted)",
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
)
GRANT_FAILURES = Counter("grantflow_grant_failures", "Failed grant attempts", ["integration"])
REVOKE_FAILURES = Counter("grantflow_revoke_failures", "Failed revoke rounds (they are retried)", ["integration"])

_gauge_lock = threading.Lock()
_gauge_refreshed = 0.0


def observe(batch: PublishBatch) -> None:
    for t in batch.transitions:
        v = t.status
        if t.kind in STATUS_KINDS:
            TRANSITIONS.labels(v.status.value).inc()
        if t.kind == "granting" and v.approvals:
            TIME_TO_APPROVAL.observe(max(0.0, (v.approvals[-1].at - v.submitted_at).total_seconds()))
        if t.kind == "active" and v.granted_at is not None:
            granted = [e.at for e in t.events if e.action == "grant" and e.outcome == "ok"]
            if granted:
                TIME_TO_GRANT.observe(max(0.0, (max(granted) - v.granted_at).total_seconds()))
        for e in t.events:
            if e.outcome != "failed" or e.action not in ("grant", "revoke"):
                continue
            integration = str(e.detail.get("integration") or "unknown")
            (GRANT_FAILURES if e.action == "grant" else REVOKE_FAILURES).labels(integration).inc()


def refresh_request_gauge(count_by_status: Callable[[], dict[str, int]], force: bool = False) -> None:
    """Set the by-status gauge from the index, at most every few seconds (it is one GROUP BY)."""
    global _gauge_refreshed
    with _gauge_lock:
        now = time.monotonic()
        if not force and now - _gauge_refreshed < GAUGE_REFRESH_SECONDS:
            return
        _gauge_refreshed = now
    from grantflow.domain.models import AccessStatus

    counts = count_by_status()
    for status in AccessStatus:
        REQUESTS.labels(status.value).set(counts.get(status.value, 0))


def temporal_metrics_port(settings: Settings) -> int | None:
    if settings.temporal_metrics_port is not None:
        return settings.temporal_metrics_port
    return settings.metrics_port + 1 if settings.metrics_port is not None else None


def serve_metrics(port: int, host: str = "0.0.0.0") -> WSGIServer:
    """grantflow's metrics over HTTP in a daemon thread; `shutdown()` on the result stops it."""
    server, _thread = start_http_server(port, addr=host)
    return server


def temporal_runtime(port: int, host: str = "0.0.0.0") -> Runtime:
    """A Temporal runtime whose SDK metrics are served on `port` (pass it to `Client.connect`)."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"{host}:{port}")))


def start_metrics(settings: Settings, host: str = "0.0.0.0") -> Runtime | None:
    """Serve grantflow's metrics; return a Temporal runtime exporting the SDK's (for `connect`), or None."""
    if settings.metrics_port is not None:
        serve_metrics(settings.metrics_port, host)
    port = temporal_metrics_port(settings)
    return temporal_runtime(port, host) if port is not None else None
