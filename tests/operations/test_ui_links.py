"""Ready-made Web UI views (grantflow/domain/ui_views.py): each link's query, run on a real dev server, finds
exactly the requests of its view; `grantflow list` ends with the link of what it lists; the README and
docs/operators.md give the links."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from grantflow.domain.models import AccessStatus
from grantflow.domain.ui_views import list_query, ui_link, views
from tests.conftest import ROOT
from tests.operations.conftest import Stack, eventually

UI = "http://localhost:8233"


def query_of(link: str) -> str:
    parts = urlsplit(link)
    assert parts.path == "/namespaces/default/workflows", link
    [query] = parse_qs(parts.query)["query"]
    return query


async def grantflow(stack: Stack, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The CLI as tests/operations/cli.py runs it, on a UTF-8 terminal (the table draws box characters)."""
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "GRANTFLOW_TASK_QUEUE": stack.settings.task_queue,
        "DATABASE_URL": stack.settings.database_url,
        "GRANTFLOW_CONFIG": str(stack.config_path),
        "GRANTFLOW_ENCRYPTION_KEYS": stack.settings.encryption_keys or "",
        "PYTHONIOENCODING": "utf-8",
        "COLUMNS": "200",
    }
    env.pop("TEMPORAL_UI_URL", None)
    cmd = [str(Path(sys.executable).parent / "grantflow"), *args]
    return await asyncio.to_thread(subprocess.run, cmd, env=env, capture_output=True, timeout=60)


async def ids_for(stack: Stack, query: str) -> set[str]:
    scoped = f"({query}) AND TaskQueue = {json.dumps(stack.settings.task_queue)}"
    return {w.id async for w in stack.temporal.list_workflows(scoped)}


async def test_each_view_finds_exactly_its_requests(stack: Stack) -> None:
    async def submit(requester: str, resource: str, duration: str) -> str:
        spec = stack.client.build_spec(
            requester=requester,
            integration="files",
            resource_type="folder",
            resources=[resource],
            permission="read",
            duration=duration,
            justification="incident 42",
        )
        return (await stack.client.submit(spec)).request_id

    pending = await submit("alice@example.com", "alpha", "1h")
    soon = await submit("erin@example.com", "gamma", "30m")
    later = await submit("frank@example.com", "gamma", "5h")
    failed = await submit("dan@example.com", "broken", "1h")
    await stack.client.approve(failed, "bob@example.com")
    for rid, want in ((soon, AccessStatus.ACTIVE), (later, AccessStatus.ACTIVE), (failed, AccessStatus.FAILED)):
        view = await stack.client.wait_for(rid, {want}, timeout=60)
        assert view.status == want, view.status_reason
    links = {name: ui_link(UI, "default", q) for name, q in views(datetime.now(UTC)).items()}
    wid = "access-request-{}".format
    expected = {
        "pending approval": {wid(pending)},
        "active now": {wid(soon), wid(later)},
        "expiring in the next hour": {wid(soon)},
        "failed today": {wid(failed)},
    }
    assert set(links) == set(expected)
    for name, link in links.items():
        query = query_of(link)
        got = await eventually(lambda q=query: ids_for(stack, q), lambda ids, w=expected[name]: ids == w)  # type: ignore[misc]
        assert got == expected[name], (name, query)

    # `grantflow list` ends its table with the link of what it lists; `ui-links` prints the four views.
    listed = await grantflow(stack, "list", "--status", "active", "--as", "Erin@example.com")
    assert listed.returncode == 0, listed.stderr
    last = listed.stdout.decode().rstrip().splitlines()[-1]
    assert last.startswith("Web UI: http://localhost:8233/namespaces/default/workflows?query=")
    query = query_of(last.removeprefix("Web UI: "))
    assert query == list_query("erin@example.com", "ACTIVE")
    assert await eventually(lambda: ids_for(stack, query), lambda ids: ids == {wid(soon)}) == {wid(soon)}
    printed = await grantflow(stack, "ui-links", "--json")
    assert printed.returncode == 0, printed.stderr
    assert {k: query_of(v).split(" AND ")[:2] for k, v in json.loads(printed.stdout).items()} == {
        k: query_of(v).split(" AND ")[:2] for k, v in links.items()
    }


def test_the_docs_give_the_links() -> None:
    now = datetime.now(UTC)
    static = {name: ui_link(UI, "default", views(now)[name]) for name in ("pending approval", "active now")}
    for doc in ("README.md", "docs/operators.md"):
        text = (ROOT / doc).read_text()
        for name, link in static.items():
            assert link in text, f"{doc}: no link for {name}"
        assert "grantflow ui-links" in text, doc
        # The time-bound views, with the time to fill in shown as a placeholder.
        assert "AccessExpiresAt%20%3C%3D%20%22" in text and "CloseTime%20%3E%3D%20%22" in text, doc
