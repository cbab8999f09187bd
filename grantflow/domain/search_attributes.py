"""The contract's search attributes (docs/contract.md), in one place: the keys the workflow upserts, the
table that registers them on a server (`grantflow dev`, `register_search_attributes`, the deploy files),
and their values for a request's current view."""

from __future__ import annotations

from typing import Any

from temporalio.common import (
    SearchAttributeIndexedValueType,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)

from grantflow.domain.models import StatusView

SA_STATUS = SearchAttributeKey.for_keyword("AccessStatus")
SA_REQUESTER = SearchAttributeKey.for_keyword("AccessRequester")
SA_GRANTEE = SearchAttributeKey.for_keyword("AccessGrantee")
SA_INTEGRATIONS = SearchAttributeKey.for_keyword_list("AccessIntegrations")
SA_EXPIRES_AT = SearchAttributeKey.for_datetime("AccessExpiresAt")

KEYS: tuple[SearchAttributeKey[Any], ...] = (SA_STATUS, SA_REQUESTER, SA_GRANTEE, SA_INTEGRATIONS, SA_EXPIRES_AT)

# The registration table: name → type as `temporal operator search-attribute create --type` spells it
# (`grantflow dev`, grantflow.temporal.register_search_attributes and deploy/ register from it).
_TYPE_NAMES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
}
SEARCH_ATTRIBUTES: dict[str, str] = {key.name: _TYPE_NAMES[key.indexed_value_type] for key in KEYS}
# The same table as the server's index types (a type's number is the API's IndexedValueType).
INDEXED_VALUE_TYPES: dict[str, int] = {key.name: int(key.indexed_value_type) for key in KEYS}


def search_attributes_for(view: StatusView) -> list[SearchAttributePair[Any]]:
    """The contract's search attributes, current for this view (kept in step at every transition)."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(SA_STATUS, view.status.value),
        SearchAttributePair(SA_REQUESTER, view.requester),
        SearchAttributePair(SA_GRANTEE, view.grantee),
        SearchAttributePair(SA_INTEGRATIONS, sorted({g.integration for g in view.grants})),
    ]
    if view.expires_at is not None:
        pairs.append(SearchAttributePair(SA_EXPIRES_AT, view.expires_at))
    return pairs


def initial_search_attributes(view: StatusView) -> TypedSearchAttributes:
    return TypedSearchAttributes(search_attributes_for(view))
