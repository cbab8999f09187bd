"""The one email rule: what it accepts (normalised) and what it refuses, with the reason people read."""

from __future__ import annotations

import pytest

from grantflow.domain.emails import BadEmail, check_email


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("bob@example.com", "bob@example.com"),
        ("  Bob@Example.COM ", "bob@example.com"),
        ("alice.smith+ops@corp.example.org", "alice.smith+ops@corp.example.org"),
        ("a@example.com\n", "a@example.com"),  # surrounding whitespace is trimmed, as people paste it
    ],
)
def test_accepted(typed: str, normalised: str) -> None:
    assert check_email(typed) == normalised


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("../../x@y", "it contains a slash"),
        ("a/b@example.com", "it contains a slash"),
        ("a\\b@example.com", "it contains a backslash"),
        ('"a"@example.com', "it contains a quote"),
        ("o'brien@example.com", "it contains a quote"),
        ("a b@example.com", "it contains whitespace"),
        ("a\u0007@example.com", "it contains a control character"),
        ("a\u200b@example.com", "it contains a control character"),
        ("x@y", "the domain has no dot"),
        ("x@localhost", "the domain has no dot"),
        ("@example.com", "it needs a name, an @ and a domain"),
        ("bob", "it needs a name, an @ and a domain"),
        ("", "it is empty"),
        ("a@@example.com", "is not an email address"),
        ("a..b@example.com", "is not an email address"),
        ("x" * 250 + "@example.com", "longer than 254 characters"),
        ("a@b.invalid", "is not an email address"),
    ],
)
def test_refused(typed: str, why: str) -> None:
    with pytest.raises(BadEmail, match=why.replace(".", r"\.")):
        check_email(typed)
