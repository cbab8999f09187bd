"""Process settings from the environment (docs/contract.md, "Environment")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    temporal_address: str = Field("localhost:7233", validation_alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field("default", validation_alias="TEMPORAL_NAMESPACE")
    task_queue: str = Field("access-requests", validation_alias="GRANTFLOW_TASK_QUEUE")
    config_file: str | None = Field(None, validation_alias="GRANTFLOW_CONFIG")
    state_dir: Path = Field(Path(".grantflow"), validation_alias="GRANTFLOW_STATE_DIR")
    database_url: str = Field("sqlite:///.grantflow/grantflow.db", validation_alias="DATABASE_URL")
    slack_bot_token: str | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    slack_port: int = Field(3000, validation_alias="GRANTFLOW_SLACK_PORT")
    encryption_keys: str | None = Field(None, validation_alias="GRANTFLOW_ENCRYPTION_KEYS")
    # Decision proof keys (grantflow/domain/proofs.py): front doors sign with the first, the worker verifies.
    decision_keys: str | None = Field(None, validation_alias="GRANTFLOW_DECISION_KEYS")
    metrics_port: int | None = Field(None, validation_alias=AliasChoices("GRANTFLOW_METRICS_PORT"))
    temporal_metrics_port: int | None = Field(None, validation_alias="GRANTFLOW_TEMPORAL_METRICS_PORT")
    max_cached_workflows: int = Field(500, validation_alias="GRANTFLOW_MAX_CACHED_WORKFLOWS")
    # How long the Slack app trusts what users.info said about a person (email, deactivated, guest).
    slack_identity_ttl: int = Field(600, validation_alias="GRANTFLOW_SLACK_IDENTITY_TTL", ge=0)
    # The Temporal Web UI (links printed by `grantflow list`, docs/operators.md) and the dev codec server.
    temporal_ui_url: str = Field("http://localhost:8233", validation_alias="TEMPORAL_UI_URL")
    codec_port: int = Field(8081, validation_alias="GRANTFLOW_CODEC_PORT")
    # Connection security to Temporal (grantflow.temporal.connect, docs/deploy.md): mTLS to a self-hosted
    # cluster (PEM files), or an API key (Temporal Cloud; TLS with the system's roots).
    temporal_tls_cert: Path | None = Field(None, validation_alias="TEMPORAL_TLS_CERT")
    temporal_tls_key: Path | None = Field(None, validation_alias="TEMPORAL_TLS_KEY")
    temporal_tls_ca: Path | None = Field(None, validation_alias="TEMPORAL_TLS_CA")
    temporal_tls_server_name: str | None = Field(None, validation_alias="TEMPORAL_TLS_SERVER_NAME")
    temporal_api_key: str | None = Field(None, validation_alias="TEMPORAL_API_KEY", repr=False)

    @field_validator("temporal_tls_cert", "temporal_tls_key", "temporal_tls_ca", mode="before")
    @classmethod
    def _readable_file(cls, value: Any) -> Any:
        """A PEM file that exists and can be read (checked at start, so a typo is one line, not a TLS error)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        path = Path(str(value)).expanduser()
        if not path.is_file():
            raise ValueError(f"{path}: no such file")
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            raise ValueError(f"{path}: cannot be read ({exc.strerror})") from None
        return path

    @field_validator("temporal_tls_server_name", "temporal_api_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (the client certificate and its key)")
        return self

    @field_validator("slack_identity_ttl", mode="before")
    @classmethod
    def _ttl_duration(cls, value: Any) -> Any:
        """Seconds, or a duration like `10m`."""
        if isinstance(value, str) and value.strip() and not value.strip().isdigit():
            from grantflow.domain.durations import DurationError, parse_duration

            try:
                return parse_duration(value)
            except DurationError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _dev_key_file(self) -> Settings:
        """Without GRANTFLOW_ENCRYPTION_KEYS, use the key `grantflow dev` generated, so that a CLI in another
        terminal talks to the dev stack with the same key."""
        if not self.encryption_keys:
            key_file = self.state_dir / "encryption.key"
            if key_file.is_file():
                self.encryption_keys = key_file.read_text().strip() or None
        if not self.decision_keys:
            key_file = self.state_dir / "decision.key"
            if key_file.is_file():
                self.decision_keys = key_file.read_text().strip() or None
        return self

    def decision_key_map(self) -> dict[str, bytes]:
        """The parsed decision keys (empty when none is configured); DecisionKeyError when malformed."""
        from grantflow.domain.proofs import parse_keys

        return parse_keys(self.decision_keys) if self.decision_keys else {}


def load_settings() -> Settings:
    return Settings()


def settings_problem(exc: ValidationError) -> str:
    """One line for a ValidationError from Settings: the variable and what is wrong with it."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return (f"{where}: {message}" if where else message) + more
