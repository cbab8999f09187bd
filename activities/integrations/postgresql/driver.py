"""The `postgresql` integration class: configuration, connections, catalog, grants and revokes together."""

from __future__ import annotations

from activities.integrations.postgresql.grants import PostgresGrants
from activities.integrations.postgresql.revoke import PostgresRevokes


class PostgresIntegrationDriver(PostgresGrants, PostgresRevokes):
    """A short-lived login role per request, expiring on its own (see the package docstring)."""
