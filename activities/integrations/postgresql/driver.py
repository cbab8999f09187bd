"""The `postgresql` integration class: configuration, connections, catalog, grants and revokes together."""

from __future__ import annotations

from activities.integrations.base import ListsOwnAccounts
from activities.integrations.postgresql.grants import PostgresGrants
from activities.integrations.postgresql.names import role_name
from activities.integrations.postgresql.revoke import PostgresRevokes


class PostgresIntegrationDriver(PostgresGrants, PostgresRevokes, ListsOwnAccounts):
    """A short-lived login role per request, expiring on its own (see the package docstring)."""

    def account_for(self, grantee: str, request_id: str) -> str:
        return role_name(grantee, request_id)
