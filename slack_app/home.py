"""The App Home tab of one person, from the request index and their favorites."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from grantflow.domain.models import AccessStatus
from grantflow.storage.store import Store
from slack_app import views


def home_for(store: Store, email: str, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Blocking (database reads): call it in a thread."""
    recent = store.list_requests(person=email, limit=3)
    active = store.list_requests(person=email, status=[AccessStatus.ACTIVE.value], limit=10)
    favorites = [(f.id or 0, f.name, f.spec()) for f in store.favorites(email)]
    pending = [
        v
        for v in store.list_requests(status=[AccessStatus.PENDING_APPROVAL.value], limit=500)
        if email in v.approvers and email not in {a.approver for a in v.approvals}
    ]
    return views.home_view(email, recent, active, favorites, pending, names)
