"""temporal-dev.yml cannot run here (no Docker engine), so it is checked against the code and the docs:
every service, command, port, environment variable and image tag it names must agree with them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import typer
import yaml

from grantflow.cli.app import app
from grantflow.domain.config import PostgresIntegration, load_config
from grantflow.settings import Settings
from grantflow.temporal import SEARCH_ATTRIBUTES
from tests.conftest import ROOT

COMPOSE = ROOT / "temporal-dev.yml"
GRANTFLOW_IMAGE = "grantflow:dev"
SERVICES = {"postgresql", "temporal", "temporal-setup", "temporal-ui", "codec-server", "worker", "schedules", "slack"}
PROCESS_ENV = {
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "GRANTFLOW_TASK_QUEUE",
    "GRANTFLOW_CONFIG",
    "DATABASE_URL",
    "GRANTFLOW_ENCRYPTION_KEYS",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = compose["services"]
    return out


def env(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def published(service: dict[str, Any]) -> dict[int, int]:
    """container port -> host port."""
    out = {}
    for spec in service.get("ports", []):
        parts = str(spec).split(":")
        out[int(parts[-1])] = int(parts[-2])
    return out


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services(compose).items() if s.get("image") == GRANTFLOW_IMAGE}


def test_services_and_image_tags(compose: dict[str, Any]) -> None:
    assert set(services(compose)) == SERVICES
    assert set(ours(compose)) == {"codec-server", "worker", "schedules", "slack"}
    for name, s in services(compose).items():
        image = s["image"]
        tag = image.partition(":")[2]
        assert tag and tag != "latest" and re.match(r"^\d+(\.\d+)+$|^dev$", tag), f"{name}: pin {image}"
        if image == GRANTFLOW_IMAGE:
            assert s["build"] == "."
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["grantflow"]' in dockerfile
    for src in re.findall(r"^COPY (.+) \S+$", dockerfile, re.MULTILINE):
        for path in src.split():
            assert (ROOT / path).exists(), f"Dockerfile copies missing {path}"
    ui, temporal, setup = (services(compose)[n] for n in ("temporal-ui", "temporal", "temporal-setup"))
    assert ui["image"].startswith("temporalio/ui:") and temporal["image"].startswith("temporalio/auto-setup:")
    assert setup["image"].split(":")[1] == temporal["image"].split(":")[1], "admin-tools must match the server"


def test_commands_are_real_cli_commands(compose: dict[str, Any]) -> None:
    root: Any = typer.main.get_command(app)
    for name, s in ours(compose).items():
        words: list[str] = s["command"]
        cmd: Any = root.commands.get(words[0])
        rest = words[1:]
        if cmd is not None and hasattr(cmd, "commands"):
            cmd = cmd.commands.get(rest[0])
            rest = rest[1:]
        assert cmd is not None, f"{name}: unknown command {words}"
        known = {o for p in cmd.params for o in getattr(p, "opts", [])}
        for word in rest:
            if word.startswith("--"):
                assert word in known, f"{name}: {words[0]} has no option {word}"


def test_environment_matches_settings_and_config(compose: dict[str, Any]) -> None:
    aliases = {str(f.validation_alias) for f in Settings.model_fields.values() if isinstance(f.validation_alias, str)}
    aliases |= {
        c
        for f in Settings.model_fields.values()
        if f.validation_alias is not None and not isinstance(f.validation_alias, str)
        for c in f.validation_alias.choices
    }  # type: ignore[union-attr]
    sources = "".join(p.read_text() for p in sorted((ROOT / "grantflow").rglob("*.py")))
    worker = services(compose)["worker"]
    mount = next(v for v in worker["volumes"] if v.endswith(":/etc/grantflow:ro"))
    config_file = ROOT / mount.split(":")[0].removeprefix("./") / Path(env(worker)["GRANTFLOW_CONFIG"]).name
    cfg = load_config(config_file)
    dsn_envs = {i.dsn_env for i in cfg.integrations if isinstance(i, PostgresIntegration)}
    for name, s in ours(compose).items():
        for var in env(s):
            assert var in aliases or var in dsn_envs or f'"{var}"' in sources, f"{name}: {var} is read by nothing"
    for name in ("worker", "slack", "schedules"):
        e = env(services(compose)[name])
        assert set(e) >= PROCESS_ENV, f"{name} lacks {PROCESS_ENV - set(e)}"
        assert e["GRANTFLOW_TASK_QUEUE"] == Settings().task_queue
        host, port = e["TEMPORAL_ADDRESS"].split(":")
        assert host == "temporal" and published(services(compose)["temporal"]).get(int(port)) == int(port)
        assert urlparse(e["DATABASE_URL"]).hostname == "postgresql"
        assert e["GRANTFLOW_CONFIG"].startswith("/etc/grantflow/")
    assert dsn_envs <= set(env(worker)), "the worker needs every integration's admin DSN"
    assert env(services(compose)["codec-server"])["GRANTFLOW_ENCRYPTION_KEYS"].startswith("${GRANTFLOW_ENCRYPTION_KEYS")


def test_ports_agree_between_services(compose: dict[str, Any]) -> None:
    s = services(compose)
    worker_env = env(s["worker"])
    metrics_ports = {int(worker_env["GRANTFLOW_METRICS_PORT"]), int(worker_env["GRANTFLOW_TEMPORAL_METRICS_PORT"])}
    assert metrics_ports <= set(published(s["worker"]))
    assert int(env(s["slack"])["GRANTFLOW_SLACK_PORT"]) in published(s["slack"])
    codec_cmd = s["codec-server"]["command"]
    codec_port = int(option(codec_cmd, "--port"))
    assert codec_port in published(s["codec-server"])
    assert str(s["codec-server"]["ports"][0]).startswith("127.0.0.1:"), "the codec server decrypts: loopback only"
    ui_env = env(s["temporal-ui"])
    codec_url = urlparse(ui_env["TEMPORAL_CODEC_ENDPOINT"])
    assert (codec_url.hostname, codec_url.port) == ("localhost", published(s["codec-server"])[codec_port])
    ui_origin = f"http://localhost:{published(s['temporal-ui'])[8080]}"
    assert option(codec_cmd, "--ui-origin") == ui_origin == ui_env["TEMPORAL_CORS_ORIGINS"]
    assert ui_env["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_search_attributes_created_are_the_contracts(compose: dict[str, Any]) -> None:
    script = " ".join(services(compose)["temporal-setup"]["command"])
    assert dict(re.findall(r"\b(Access\w+)=(\w+)", script)) == SEARCH_ATTRIBUTES
    contract = (ROOT / "docs" / "contract.md").read_text()
    for name in SEARCH_ATTRIBUTES:
        assert f"`{name}`" in contract


def test_docs_describe_the_same_stack(compose: dict[str, Any]) -> None:
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    operators = (ROOT / "docs" / "operators.md").read_text()
    for name, s in services(compose).items():
        assert f"`{name}`" in deploy, f"docs/deploy.md does not mention {name}"
        assert f"`{s['image']}`" in deploy, f"docs/deploy.md does not name {s['image']}"
        for host_port in published(s).values():
            assert str(host_port) in deploy, f"docs/deploy.md does not mention port {host_port} of {name}"
    documented = (ROOT / "docs" / "contract.md").read_text() + deploy + operators
    for name, s in ours(compose).items():
        for var in env(s):
            assert var in documented, f"{var} ({name}) is not documented"
    for name in SEARCH_ATTRIBUTES:
        assert f"`{name}`" in operators


# --- deployment defaults (issue 10, point 16) ----------------------------------------------------


def test_temporal_and_its_ui_are_published_on_loopback_only(compose: dict[str, Any]) -> None:
    s = services(compose)
    for name, port in (("temporal", 7233), ("temporal-ui", 8080), ("codec-server", 8081)):
        specs = [str(p) for p in s[name]["ports"]]
        assert specs and all(p.startswith("127.0.0.1:") for p in specs), f"{name} publishes {specs}"
        assert published(s[name])[port] == port
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    for needed in ("mTLS", "authorizer", "authenticating proxy", "127.0.0.1:7233", "127.0.0.1:8080"):
        assert needed in deploy, f"docs/deploy.md does not say {needed!r}"


def demo_dsn(compose: dict[str, Any]) -> Any:
    raw = env(services(compose)["worker"])["DEMO_PG_DSN"]
    return urlparse(re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", raw))


def test_the_demo_admin_is_not_temporals_superuser_nor_on_its_databases(compose: dict[str, Any]) -> None:
    dsn = demo_dsn(compose)
    superuser = env(services(compose)["postgresql"])["POSTGRES_USER"]
    assert dsn.username and dsn.username != superuser and dsn.username != "grantflow"
    database = dsn.path.lstrip("/")
    grantflow_db = urlparse(env(services(compose)["worker"])["DATABASE_URL"]).path.lstrip("/")
    assert database not in {"temporal", "temporal_visibility", grantflow_db, "postgres"}
    cfg = load_config(ROOT / "grantflow" / "examples" / "grantflow.yml")
    for integration in cfg.integrations:
        if isinstance(integration, PostgresIntegration):
            for db in ("temporal", "temporal_visibility", grantflow_db):
                assert db in integration.exclude and f"{db}.*" in integration.exclude, f"{db} is offered"


async def test_the_init_scripts_make_a_working_non_superuser_demo_admin(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    """Run deploy/postgres-init/*.sql as the postgres image would (psql, as the superuser), then grant and
    revoke through the demo integration with the compose file's DEMO_PG_DSN pointed at that server."""
    import asyncio
    import os
    import subprocess
    from datetime import UTC, datetime, timedelta

    import psycopg

    from activities.integrations.base import GrantContext
    from activities.integrations.postgresql import PostgresIntegrationDriver
    from grantflow.dev.pgserver import PgServer, _bin_dir
    from grantflow.domain.models import GrantItem

    dsn = demo_dsn(compose)
    with PgServer(tmp_path / "pg", durable=False) as server:
        for script in sorted((ROOT / "deploy" / "postgres-init").glob("*.sql")):
            subprocess.run(
                [str(_bin_dir() / "psql"), "-v", "ON_ERROR_STOP=1", "-q", "-f", str(script), server.admin_dsn],
                check=True,
                capture_output=True,
                text=True,
                timeout=60,
            )
        with psycopg.connect(server.admin_dsn) as conn:
            row = conn.execute(
                "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = %s", (dsn.username,)
            ).fetchone()
        assert row == (False, True)
        admin_dsn = f"postgresql://{dsn.username}:{dsn.password}@127.0.0.1:{server.port}{dsn.path}"
        os.environ["GF_DEPLOY_DEMO_DSN"] = admin_dsn
        try:
            driver = PostgresIntegrationDriver(
                PostgresIntegration.model_validate(
                    {"id": "demo-postgres", "type": "postgresql", "dsn_env": "GF_DEPLOY_DEMO_DSN"}
                )
            )
            database = dsn.path.lstrip("/")

            def item(permission: str, grantee: str) -> GrantContext:
                return GrantContext(
                    request_id=f"deploy{permission}",
                    requester=grantee,
                    grantee=grantee,
                    secret_seed=b"d" * 32,
                    item=GrantItem(
                        integration="demo-postgres", resource_type="database", resource=database, permission=permission
                    ),
                    expires_at=datetime.now(UTC) + timedelta(hours=1),
                )

            write, admin = item("write", "bob@example.com"), item("admin", "carol@example.com")
            granted = await asyncio.gather(driver.grant(write), driver.grant(admin))
            assert await driver.grant(write) == granted[0]  # a retry ALTERs the role: allowed without superuser
            with psycopg.connect(
                host="127.0.0.1",
                port=server.port,
                dbname=database,
                user=granted[0]["user"],
                password=granted[0]["password"],
                autocommit=True,
            ) as conn:
                conn.execute("INSERT INTO customers (name, email) VALUES ('b', 'bob@example.com')")
            with psycopg.connect(
                host="127.0.0.1",
                port=server.port,
                dbname=database,
                user=granted[1]["user"],
                password=granted[1]["password"],
                autocommit=True,
            ) as conn:
                conn.execute("CREATE TABLE public.carols (id int)")
                conn.execute(
                    "CREATE FUNCTION public.carols_fn() RETURNS int LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1 $$"
                )
            await asyncio.gather(driver.revoke(write), driver.revoke(admin))
            with psycopg.connect(server.dsn(database)) as conn:
                assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'gf\\_%'").fetchone() == (0,)
                assert conn.execute(
                    "SELECT to_regclass('public.carols'), to_regproc('public.carols_fn')"
                ).fetchone() == (None, None)
        finally:
            os.environ.pop("GF_DEPLOY_DEMO_DSN", None)
