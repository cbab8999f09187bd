"""The grantflow worker: every workflow and activity on the task queue, with the encrypted data converter.

`grantflow worker` runs it; tests build it with `build_worker` against their own servers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.decisions import DecisionActivities
from activities.discovery import DiscoveryActivities
from activities.grants import GrantActivities, SecretKeeper
from activities.notifiers.base import Notifier
from activities.notifiers.console import ConsoleNotifier
from activities.oncall import OncallActivities
from activities.policy import PolicyActivities
from activities.reconcile import ReconcileActivities
from activities.records import RecordActivities
from grantflow.domain.config import ConfigSource
from grantflow.settings import Settings
from grantflow.storage.store import Store
from workflows.access_request import AccessRequestWorkflow
from workflows.discovery import DiscoveryWorkflow
from workflows.reconcile import ReconcileWorkflow

log = structlog.get_logger("grantflow.worker")

ALL_WORKFLOWS: list[type] = [AccessRequestWorkflow, ReconcileWorkflow, DiscoveryWorkflow]

PASSTHROUGH = ("grantflow", "pydantic", "pydantic_core", "yaml", "annotated_types", "typing_extensions")


def sandbox_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))


def secret_keeper(settings: Settings, store: Store) -> SecretKeeper | None:
    """Where integration secrets go instead of workflow history (None when no key is configured)."""
    if not settings.encryption_keys:
        return None
    from grantflow.storage.vault import SecretVault

    return SecretVault(store, settings.encryption_keys)


def default_notifier(settings: Settings, store: Store, config: ConfigSource) -> Notifier:
    if settings.slack_bot_token:
        from activities.notifiers.slack import SlackNotifier

        return SlackNotifier.from_settings(settings, store, config)
    return ConsoleNotifier()


def build_worker(
    client: Client,
    settings: Settings,
    *,
    config: ConfigSource | None = None,
    store: Store | None = None,
    notifier: Notifier | None = None,
) -> Worker:
    config = config or ConfigSource(settings.config_file)
    config.get()
    store = store or Store(settings.database_url)
    store.create_all()
    notifier = notifier or default_notifier(settings, store, config)
    policy_acts = PolicyActivities(config)
    oncall = OncallActivities(config)
    grants = GrantActivities(config, Path(settings.state_dir), secret_keeper(settings, store))
    records = RecordActivities(store, notifier)
    reconcile = ReconcileActivities(config, store, Path(settings.state_dir), notifier)
    discovery = DiscoveryActivities(config, Path(settings.state_dir))
    decisions = DecisionActivities(settings.decision_key_map())
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=ALL_WORKFLOWS,
        activities=[
            policy_acts.resolve_policy,
            policy_acts.still_eligible,
            oncall.who_is_on_call,
            decisions.verify_decision,
            grants.grant_item,
            grants.extend_item,
            grants.revoke_item,
            records.publish_transitions,
            reconcile.reconcile_inventory,
            reconcile.reconcile_remove,
            reconcile.reconcile_record,
            discovery.list_resources,
        ],
        workflow_runner=sandbox_runner(),
        max_cached_workflows=settings.max_cached_workflows,
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM; in-flight activities get 30 s to finish."""
    from grantflow.observability.logs import configure_logging
    from grantflow.observability.metrics import start_metrics
    from grantflow.temporal import connect

    configure_logging()
    client = await connect(settings, runtime=start_metrics(settings))
    worker = build_worker(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker started", task_queue=settings.task_queue, temporal=settings.temporal_address)
    async with worker:
        await stop.wait()
        log.info("worker stopping: finishing in-flight activities")
    log.info("worker stopped")


def main() -> None:
    from pydantic import ValidationError

    from grantflow.settings import settings_problem
    from grantflow.temporal import TemporalUnavailable

    try:
        asyncio.run(run_worker(Settings()))
    except ValidationError as exc:
        sys.stderr.write(f"worker: error: {settings_problem(exc)}\n")
        sys.stderr.flush()
        os._exit(2)
    except TemporalUnavailable as exc:
        sys.stderr.write(f"worker: error: {exc}\n")
        sys.stderr.flush()
        os._exit(1)
    # Skip interpreter teardown, which the Temporal runtime's threads can abort (temporalio/sdk-python#300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
