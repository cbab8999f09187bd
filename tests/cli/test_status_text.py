"""`grantflow status` text says when a pending request escalates and times out, to whom it escalated, and when a
scheduled one starts (issue 15: the requester is never left guessing, from the CLI too)."""

from __future__ import annotations

from datetime import timedelta

from grantflow.cli.common import local, out, print_status
from grantflow.domain.models import AccessStatus
from tests.slack_app.test_views import T0, status


def text_of(**over: object) -> str:
    with out.capture() as captured:
        print_status(status(**over))
    return " ".join(captured.get().split())


def test_pending_says_when_it_escalates_and_times_out() -> None:
    text = text_of(
        escalated_to=["erin@example.com"],
        escalates_at=T0 + timedelta(hours=30),
        escalates_to=["ops@example.com"],
        approval_deadline=T0 + timedelta(days=7),
    )
    assert "escalated to erin@example.com" in text
    assert f"escalates {local(T0 + timedelta(hours=30))} to ops@example.com" in text
    assert f"times out {local(T0 + timedelta(days=7))} without approval" in text


def test_scheduled_says_when_it_starts() -> None:
    text = text_of(status=AccessStatus.SCHEDULED, start_at=T0 + timedelta(hours=5))
    assert f"starts {local(T0 + timedelta(hours=5))}" in text
