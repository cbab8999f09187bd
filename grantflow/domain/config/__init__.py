"""The grantflow.yml schema, its loader and its line-pointing validation.

`load_config` returns a validated `GrantflowConfig` or raises `ConfigError` with every problem found,
each as `file:line: path: message`, so that `grantflow config check` can print them all at once.

The schema is in `schema.py`, the cross-reference checks in `checks.py`, line-pointing error reporting in
`errors.py` and reading the file in `loading.py`; every public name is importable from here.
"""

from grantflow.domain.config.checks import MIN_APPROVAL_REMINDER, PRINCIPAL_HELP
from grantflow.domain.config.errors import ConfigError, format_path
from grantflow.domain.config.loading import (
    SHIPPED_EXAMPLE,
    ConfigSource,
    check_config,
    config_path,
    config_warnings,
    load_config,
    parse_config,
)
from grantflow.domain.config.schema import (
    APPROVAL_TIMEOUT_SECONDS,
    ENV_NAME,
    RESERVED_ENV,
    RESERVED_ENV_PREFIXES,
    AccessFlow,
    AnyFlowGrant,
    AnyIntegration,
    AwsIdentityCenterIntegration,
    Bundle,
    BundleItem,
    EscalationStep,
    Extension,
    FlowBundleGrant,
    FlowGrant,
    GrantflowConfig,
    Integration,
    IntegrationBase,
    MysqlIntegration,
    PostgresIntegration,
    ScriptIntegration,
    ScriptResourceType,
    SlackOptions,
    WebhookIntegration,
    WebhookResourceType,
    reserved_env,
)

__all__ = [
    "APPROVAL_TIMEOUT_SECONDS",
    "ENV_NAME",
    "MIN_APPROVAL_REMINDER",
    "PRINCIPAL_HELP",
    "RESERVED_ENV",
    "RESERVED_ENV_PREFIXES",
    "SHIPPED_EXAMPLE",
    "AccessFlow",
    "AnyFlowGrant",
    "AnyIntegration",
    "AwsIdentityCenterIntegration",
    "Bundle",
    "BundleItem",
    "ConfigError",
    "ConfigSource",
    "EscalationStep",
    "Extension",
    "FlowBundleGrant",
    "FlowGrant",
    "GrantflowConfig",
    "Integration",
    "IntegrationBase",
    "MysqlIntegration",
    "PostgresIntegration",
    "ScriptIntegration",
    "ScriptResourceType",
    "SlackOptions",
    "WebhookIntegration",
    "WebhookResourceType",
    "check_config",
    "config_path",
    "config_warnings",
    "format_path",
    "load_config",
    "parse_config",
    "reserved_env",
]
