"""What assist answers with (`Suggestion`) and the error it raises for input it cannot answer."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

from grantflow.domain.models import GrantItem, RequestSpec


class AssistError(ValueError):
    """Assist cannot answer this input; the message is meant for the person who asked."""


class FavoriteLike(Protocol):
    name: str

    def spec(self) -> RequestSpec: ...


class Suggestion(BaseModel):
    """One complete request the person may submit as is (see the module docstring)."""

    integration: str | None = None
    resource_type: str | None = None
    resources: list[str] = Field(default_factory=list)
    permission: str | None = None
    bundle: str | None = None
    items: list[GrantItem]
    duration_seconds: int
    duration_from_text: bool = False
    flow_id: str
    flow_name: str
    approvers: list[str]
    approvals_required: int
    justification_required: bool
    justification: str = ""
    favorite: str | None = None
    explanation: str
    score: float

    def label(self) -> str:
        if self.bundle:
            return f"bundle {self.bundle}"
        return f"{self.integration}/{self.resource_type}:{','.join(self.resources)} ({self.permission})"
