"""The requester is never left guessing (issue 15.5): while pending, who was asked and when it times out;
once decided, who approved and how (a person, on call, break-glass), who rejected and why; when scheduled,
when it starts."""

from __future__ import annotations

import json
from datetime import timedelta

from grantflow.domain.models import AccessStatus, Approval
from slack_app import views
from tests.slack_app.test_views import NAMES, T0, status


def text_of(v: object) -> str:
    _, blocks = views.request_message(v, "requester", "alice@example.com", NAMES)  # type: ignore[arg-type]
    return json.dumps(blocks, ensure_ascii=False)


def test_pending_names_who_was_asked_and_when_it_times_out() -> None:
    deadline = T0 + timedelta(days=7)
    text = text_of(status(approval_deadline=deadline))
    assert "Asked: <@UBOB>, carol@example.com" in text
    assert f"Times out <!date^{int(deadline.timestamp())}^" in text


def test_who_approved_and_how() -> None:
    oncall = Approval(approver="grantflow", comment="automatic: on call for night", at=T0, automatic=True)
    text = text_of(status(status=AccessStatus.GRANTING, approvals=[oncall]))
    assert "Approved by grantflow: automatic: on call for night" in text
    glass = Approval(approver="bob@example.com", comment="db down", at=T0, break_glass=True)
    text = text_of(status(status=AccessStatus.GRANTING, approvals=[glass]))
    assert "Approved by <@UBOB> (break-glass): db down" in text
    assert "Asked:" not in text and "Times out" not in text


def test_who_rejected_and_why() -> None:
    text = text_of(
        status(status=AccessStatus.REJECTED, rejected_by="bob@example.com", status_reason="rejected by bob: too broad")
    )
    assert "Rejected by <@UBOB>: too broad" in text


def test_scheduled_says_when_it_starts() -> None:
    start = T0 + timedelta(hours=5)
    text = text_of(status(status=AccessStatus.SCHEDULED, start_at=start, status_reason="access starts at …"))
    assert f"Starts <!date^{int(start.timestamp())}^" in text and "Withdraw request" in text


def test_pending_says_when_it_escalates_and_to_whom() -> None:
    at = T0 + timedelta(hours=4)
    text = text_of(status(escalates_at=at, escalates_to=["bob@example.com", "erin@example.com"]))
    assert f"Escalates <!date^{int(at.timestamp())}^" in text and "to <@UBOB>, erin@example.com" in text
