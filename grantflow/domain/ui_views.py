"""Ready-made views of requests in the Temporal Web UI: visibility queries on the contract's search
attributes (grantflow/domain/search_attributes.py) and the UI links that open them (`?query=`, URL-encoded).

README.md and docs/operators.md show these links; `grantflow list` prints the one matching its filter and
`grantflow ui-links` prints the four views with the current time filled in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from grantflow.domain.search_attributes import SA_EXPIRES_AT, SA_GRANTEE, SA_REQUESTER, SA_STATUS

WORKFLOW_TYPE = 'WorkflowType = "AccessRequestWorkflow"'


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def views(now: datetime) -> dict[str, str]:
    """The ready-made views, name → visibility query, as of `now` (times in UTC)."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "pending approval": f'{WORKFLOW_TYPE} AND {SA_STATUS.name} = "PENDING_APPROVAL"',
        "active now": f'{WORKFLOW_TYPE} AND {SA_STATUS.name} = "ACTIVE"',
        "expiring in the next hour": f'{WORKFLOW_TYPE} AND {SA_STATUS.name} = "ACTIVE" AND '
        f"{SA_EXPIRES_AT.name} <= {_q(_at(now + timedelta(hours=1)))}",
        # A FAILED request fails its workflow (docs/contract.md): Temporal's own execution status finds it.
        "failed today": f'{WORKFLOW_TYPE} AND ExecutionStatus = "Failed" AND CloseTime >= {_q(_at(today))}',
    }


def list_query(person: str | None = None, status: str | None = None) -> str:
    """The query for what `grantflow list [--as PERSON] [--status STATUS]` shows."""
    query = WORKFLOW_TYPE
    if person:
        query += f" AND ({SA_REQUESTER.name} = {_q(person)} OR {SA_GRANTEE.name} = {_q(person)})"
    if status:
        query += f" AND {SA_STATUS.name} = {_q(status.upper())}"
    return query


def ui_link(ui_url: str, namespace: str, query: str) -> str:
    """The Web UI's workflow list for `query`."""
    return f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows?query={quote(query, safe='')}"
