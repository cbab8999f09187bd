"""grantflow/requests.py: a spec is built from fields, and an error names the field it is about."""

from __future__ import annotations

import pytest

from grantflow.domain.config import ConfigSource
from grantflow.requests import PolicyRefusal, SpecError, build_spec
from tests.conftest import TEST_CONFIG

CFG = ConfigSource(TEST_CONFIG).get()
GOOD = {
    "requester": "alice@example.com",
    "integration": "files",
    "resource_type": "folder",
    "resources": ["alpha"],
    "permission": "read",
    "duration": "1h",
    "justification": "investigating an incident",
}


def test_good_fields_make_a_spec() -> None:
    spec = build_spec(CFG, **GOOD)  # type: ignore[arg-type]
    assert spec.grantee == "alice@example.com" and spec.items[0].resource == "alpha"


@pytest.mark.parametrize(
    ("change", "field", "refusal"),
    [
        ({"duration": "forever"}, "duration", False),
        ({"grantee": "../../x@y"}, "grantee", False),
        ({"requester": "not an email"}, "requester", False),
        ({"grantee": "mallory@example.com"}, "grantee", True),
    ],
)
def test_an_error_names_its_field(change: dict[str, str], field: str, refusal: bool) -> None:
    with pytest.raises(SpecError) as caught:
        build_spec(CFG, **{**GOOD, **change})  # type: ignore[arg-type]
    assert caught.value.field == field, str(caught.value)
    assert isinstance(caught.value, PolicyRefusal) is refusal, str(caught.value)
