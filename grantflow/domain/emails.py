"""The one rule for email addresses, used by every door (CLI, Slack, MCP), the config and the policy.

`email-validator` checks the syntax (no DNS: grantflow must work offline and in tests); on top of it a few
rules of ours keep an address safe to use as a file name part, a role comment or a log field: no
whitespace, no `/`, `\\`, quotes or control characters, at most 254 characters, a dot in the domain.
Special-use domains (`.local`, `.test`, `.invalid`, ...) are refused, as the library refuses them.
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254
_FORBIDDEN = {"/": "a slash", "\\": "a backslash", '"': "a quote", "'": "a quote", "`": "a quote"}


class BadEmail(ValueError):
    """An address that is not a valid email; the message says why, for the person who typed it."""


def check_email(value: str) -> str:
    """The address stripped and lower-cased, or BadEmail with why it is refused."""
    if not isinstance(value, str):
        raise BadEmail("an email address must be text")
    email = value.strip()
    shown = repr(email[:80]) if not email.isprintable() else f'"{email[:80]}"'
    if not email:
        raise BadEmail('"" is not an email address: it is empty')
    if len(email) > MAX_LENGTH:
        raise BadEmail(f"{shown}… is longer than {MAX_LENGTH} characters")
    for ch in email:
        if ch.isspace():
            raise BadEmail(f"{shown} is not an email address: it contains whitespace")
        if unicodedata.category(ch).startswith("C"):
            raise BadEmail(f"{shown} is not an email address: it contains a control character")
        if ch in _FORBIDDEN:
            raise BadEmail(f"{shown} is not an email address: it contains {_FORBIDDEN[ch]}")
    local, at, domain = email.rpartition("@")
    if not at or not local:
        raise BadEmail(f"{shown} is not an email address: it needs a name, an @ and a domain")
    if "." not in domain.strip("."):
        raise BadEmail(f"{shown} is not an email address: the domain has no dot")
    try:
        checked = validate_email(email, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise BadEmail(f"{shown} is not an email address: {exc}") from None
    return checked.normalized.lower()


def is_email(value: str) -> bool:
    try:
        check_email(value)
    except BadEmail:
        return False
    return True
