"""Integration type → driver. Adding an integration type touches its own module and this table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from activities.integrations.base import Integration, IntegrationError
from activities.integrations.script import ScriptIntegrationDriver
from grantflow.domain.config import (
    AnyIntegration,
    AwsIdentityCenterIntegration,
    GrantflowConfig,
    PostgresIntegration,
    ScriptIntegration,
    WebhookIntegration,
)

Factory = Callable[[AnyIntegration, Path, Path], Integration]


def _script(cfg: AnyIntegration, base_dir: Path, state_dir: Path) -> Integration:
    assert isinstance(cfg, ScriptIntegration)
    return ScriptIntegrationDriver(cfg, base_dir, state_dir)


def _postgresql(cfg: AnyIntegration, base_dir: Path, state_dir: Path) -> Integration:
    from activities.integrations.postgresql import PostgresIntegrationDriver

    assert isinstance(cfg, PostgresIntegration)
    return PostgresIntegrationDriver(cfg)


def _mysql(cfg: AnyIntegration, base_dir: Path, state_dir: Path) -> Integration:
    from activities.integrations.mysql import MysqlIntegrationDriver
    from grantflow.domain.config import MysqlIntegration

    assert isinstance(cfg, MysqlIntegration)
    return MysqlIntegrationDriver(cfg)


def _webhook(cfg: AnyIntegration, base_dir: Path, state_dir: Path) -> Integration:
    from activities.integrations.webhook import WebhookIntegrationDriver

    assert isinstance(cfg, WebhookIntegration)
    return WebhookIntegrationDriver(cfg)


def _aws_identity_center(cfg: AnyIntegration, base_dir: Path, state_dir: Path) -> Integration:
    from activities.integrations.aws_identity_center import AwsIdentityCenterDriver

    assert isinstance(cfg, AwsIdentityCenterIntegration)
    return AwsIdentityCenterDriver(cfg)


FACTORIES: dict[str, Factory] = {
    "script": _script,
    "postgresql": _postgresql,
    "mysql": _mysql,
    "webhook": _webhook,
    "aws_identity_center": _aws_identity_center,
}


def build(config: GrantflowConfig, integration_id: str, state_dir: Path) -> Integration:
    integ = config.integration(integration_id)
    if integ is None:
        raise IntegrationError(f"unknown integration {integration_id!r}", retryable=False)
    factory = FACTORIES.get(integ.type)
    if factory is None:
        raise IntegrationError(f"integration type {integ.type!r} is not supported", retryable=False)
    return factory(integ, config.source_dir, state_dir)
