"""The grantflow.yml schema: pydantic models of integrations, bundles, access flows and the whole file."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, field_validator

from grantflow.domain.durations import DurationError, parse_duration

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# grantflow's own settings (keys, tokens, DSNs) never reach a script, even when an `env:` lists them.
RESERVED_ENV = ("DATABASE_URL",)
RESERVED_ENV_PREFIXES = ("GRANTFLOW_", "SLACK_", "TEMPORAL_")


def reserved_env(name: str) -> bool:
    return name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIXES)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _duration(value: Any) -> int:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None


class ScriptResourceType(_Strict):
    id: str
    name: str | None = None
    resources: list[str] = Field(default_factory=list)
    permissions: list[str] = Field(default_factory=list)
    description: str = ""


class IntegrationBase(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    name: str = ""
    description: str = ""
    tags: list[str] = Field(default_factory=list)


class ScriptIntegration(IntegrationBase):
    type: Literal["script"]
    resource_types: list[ScriptResourceType]
    grant: list[str] = Field(min_length=1)
    revoke: list[str] = Field(min_length=1)
    extend: list[str] | None = None
    list_resources: list[str] | None = None
    timeout: Annotated[int, Field(gt=0)] = 60
    workdir: str | None = None
    # Names of worker environment variables the commands receive (besides PATH, HOME, LANG, TZ).
    env: list[Annotated[str, Field(pattern=ENV_NAME)]] = Field(default_factory=list)

    _timeout_duration = field_validator("timeout", mode="before")(_duration)


class PostgresIntegration(IntegrationBase):
    type: Literal["postgresql"]
    dsn_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    resource_types: list[Literal["database", "schema", "table"]] = Field(
        default_factory=lambda: ["database", "schema", "table"]  # type: ignore[arg-type]
    )
    permissions: dict[str, str | list[str]] = Field(default_factory=dict)
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    host: str | None = None
    port: int | None = None
    # On revoke, hand the objects the grantee created to the no-privilege role `grantflow_orphans`
    # (defused) instead of dropping them.
    keep_objects: bool = False


class MysqlIntegration(IntegrationBase):
    """MySQL 8 / MariaDB 10.6+: one `gf_` account per request (activities/integrations/mysql)."""

    type: Literal["mysql"]
    dsn_env: str = Field(pattern=ENV_NAME)  # mysql://USER:PASSWORD@HOST:PORT/ of the admin account
    resource_types: list[Literal["database", "table"]] = Field(
        default_factory=lambda: ["database", "table"]  # type: ignore[arg-type]
    )
    permissions: dict[str, str | list[str]] = Field(default_factory=dict)
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    host: str | None = None  # shown to grantees; default: the DSN's host
    port: int | None = None
    # The host part of every account grantflow creates (`'gf_...'@'<account_host>'`).
    account_host: str = Field(default="%", min_length=1, max_length=255, pattern=r"^[^'\\`\x00]+$")


class WebhookResourceType(ScriptResourceType):
    # Instead of `resources`: a URL that answers a signed GET with a JSON list of names.
    discovery_url: str | None = Field(default=None, pattern=r"^https?://")


class WebhookIntegration(IntegrationBase):
    """grantflow POSTs a signed JSON delivery per grant, extend and revoke to `url`."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    # HMAC-SHA256 key of `X-Grantflow-Signature`, read from this worker environment variable.
    secret_env: str = Field(pattern=ENV_NAME)
    # Extra request headers: header name -> the worker environment variable holding its value.
    headers: dict[str, Annotated[str, Field(pattern=ENV_NAME)]] = Field(default_factory=dict)
    timeout: Annotated[int, Field(gt=0)] = 10
    resource_types: list[WebhookResourceType] = Field(min_length=1)

    _timeout_duration = field_validator("timeout", mode="before")(_duration)


class AwsIdentityCenterIntegration(IntegrationBase):
    """Account assignments of IAM Identity Center permission sets; credentials from boto3's default chain."""

    type: Literal["aws_identity_center"]
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
    instance_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sso:::instance/(sso)?ins-[a-zA-Z0-9.-]{16}$")
    identity_store_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,64}$")
    # The AWS access portal (default: https://<identity_store_id>.awsapps.com/start).
    portal_url: str | None = Field(default=None, pattern=r"^https://")
    resource_types: list[Literal["account"]] = Field(default_factory=lambda: ["account"])  # type: ignore[arg-type]
    # The permission sets that may be requested, by name (the permission of a request).
    permission_sets: list[str] = Field(min_length=1)
    # Permission sets whose names start with this are grantflow's: reconcile removes their assignments
    # that no live request holds. Empty: reconcile leaves this integration alone.
    managed_prefix: str = ""
    # Account ids (fnmatch globs) offered; empty = every account of the organization. `exclude` wins.
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    # How long grant and revoke wait for AWS to finish an assignment before retrying.
    wait_timeout: Annotated[int, Field(gt=0)] = 120

    _wait_duration = field_validator("wait_timeout", mode="before")(_duration)


AnyIntegration = (
    ScriptIntegration | PostgresIntegration | MysqlIntegration | WebhookIntegration | AwsIdentityCenterIntegration
)
Integration = Annotated[AnyIntegration, Field(discriminator="type")]


class BundleItem(_Strict):
    integration: str
    resource_type: str
    resource: str
    permission: str


class Bundle(_Strict):
    id: str
    name: str = ""
    description: str = ""
    items: list[BundleItem] = Field(min_length=1)


class FlowGrant(_Strict):
    integration: str
    resource_types: list[str] = Field(default_factory=lambda: ["*"])
    resources: list[str] = Field(default_factory=lambda: ["*"])
    permissions: list[str] = Field(min_length=1)


class FlowBundleGrant(_Strict):
    bundle: str


def _grant_kind(value: Any) -> str:
    """A grant naming a bundle is a bundle grant; anything else is judged as an integration grant, so that
    a mistake in either is reported once, against the shape the author meant."""
    if isinstance(value, FlowBundleGrant) or (isinstance(value, dict) and "bundle" in value):
        return "FlowBundleGrant"
    return "FlowGrant"


AnyFlowGrant = Annotated[
    Annotated[FlowGrant, Tag("FlowGrant")] | Annotated[FlowBundleGrant, Tag("FlowBundleGrant")],
    Discriminator(_grant_kind),
]


class Extension(_Strict):
    enabled: bool = False
    max_extensions: int = Field(default=1, ge=0)
    duration: int = 3600
    notify_before: int = 900

    _durations = field_validator("duration", "notify_before", mode="before")(_duration)


# How long a request waits for approval before it fails (the workflow's time-out; PolicyDecision's default).
APPROVAL_TIMEOUT_SECONDS = 7 * 24 * 3600


class EscalationStep(_Strict):
    """While a request is still pending `after` its submission, these approvers are added (never removed)."""

    after: int
    approvers: list[str] = Field(min_length=1)
    notify: str | None = None  # a Slack channel that gets a note

    _after = field_validator("after", mode="before")(_duration)


class OncallSchedule(_Strict):
    """Who is on call: a weekly `rotation` with a `handover` ("monday 09:00 Europe/Berlin", first person
    from the first handover at or after `start`), or a `command` that prints the on-call emails one per
    line (run by the worker with `timeout` seconds; its failure falls back to human approval)."""

    rotation: list[str] = Field(default_factory=list)
    handover: str | None = None
    start: date | None = None
    command: list[str] | None = None
    timeout: Annotated[int, Field(gt=0, le=120)] = 10
    # Names of worker environment variables the command receives (e.g. PAGERDUTY_TOKEN).
    env: list[Annotated[str, Field(pattern=ENV_NAME)]] = Field(default_factory=list)


class AccessFlow(_Strict):
    id: str
    name: str = ""
    description: str = ""
    requestors: list[str] = Field(min_length=1)
    # Who else the requestors may name as grantee (`--for`), as principals; the requestors always may.
    grantees: list[str] = Field(default_factory=list)
    grants: list[AnyFlowGrant] = Field(min_length=1)
    approvers: list[str] = Field(default_factory=list)
    approvals_required: int = Field(default=1, ge=0)
    approval_channel: str | None = None
    approval_reminder: int = 24 * 3600
    max_duration: int = 8 * 3600
    default_duration: int = 3600
    justification_required: bool = True
    extension: Extension = Field(default_factory=Extension)
    escalation: list[EscalationStep] = Field(default_factory=list)
    # How far ahead a request may ask its access to start (`--start-at`).
    max_schedule_ahead: int = 14 * 24 * 3600
    # A schedule of `oncall:`: a request from the person on call for it is approved automatically.
    auto_approve_if_oncall: str | None = None
    # Overrides the file's `decisions:` for this flow.
    decisions: Literal["enforce", "audit"] | None = None

    _durations = field_validator(
        "max_duration", "default_duration", "approval_reminder", "max_schedule_ahead", mode="before"
    )(_duration)


class SlackOptions(_Strict):
    # Guests (Slack's `is_restricted` / `is_ultra_restricted`) may request and decide only when this is true.
    allow_guests: bool = False


class GrantflowConfig(_Strict):
    admins: list[str] = Field(default_factory=list)
    slack: SlackOptions = Field(default_factory=SlackOptions)
    admin_channel: str | None = None  # where reconciliation reports drift (Slack channel); else the log
    # `enforce`: a decision without a valid proof from a front door is refused; `audit`: it counts, marked
    # "unverified (Temporal API)" and announced (docs/security.md). Revokes always count.
    decisions: Literal["enforce", "audit"] = "audit"
    groups: dict[str, list[str]] = Field(default_factory=dict)
    oncall: dict[str, OncallSchedule] = Field(default_factory=dict)
    integrations: list[Integration] = Field(default_factory=list)
    bundles: list[Bundle] = Field(default_factory=list)
    access_flows: list[AccessFlow] = Field(default_factory=list)
    # The folder of the file it came from: relative script paths resolve against it.
    _source_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def source_dir(self) -> Path:
        return self._source_dir

    def integration(self, integration_id: str) -> AnyIntegration | None:
        return next((i for i in self.integrations if i.id == integration_id), None)

    def bundle(self, bundle_id: str) -> Bundle | None:
        return next((b for b in self.bundles if b.id == bundle_id), None)

    def flow(self, flow_id: str) -> AccessFlow | None:
        return next((f for f in self.access_flows if f.id == flow_id), None)

    def expand(self, principals: Iterable[str]) -> list[str]:
        """Principals (`user:X`, `group:G`) to a sorted list of lower-cased emails."""
        out: set[str] = set()
        for p in principals:
            kind, _, name = p.partition(":")
            if kind == "user":
                out.add(name.strip().lower())
            elif kind == "group":
                out.update(e.strip().lower() for e in self.groups.get(name, []))
        return sorted(out)
