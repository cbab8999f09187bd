"""Human durations ("1h", "90m", "1h30m", "7d") as used in the config and on the command line."""

from __future__ import annotations

import re

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$")


class DurationError(ValueError):
    pass


def parse_duration(text: str | int) -> int:
    """Return seconds. Bare integers are seconds; anything else must be a sum of <n><unit> parts."""
    if isinstance(text, bool):
        raise DurationError(f"{text!r} is not a duration")
    if isinstance(text, int):
        if text < 0:
            raise DurationError(f'"{text}" is not a duration')
        return text
    raw = str(text).strip().lower()
    if raw.isdigit():
        return int(raw)
    if not raw or not _WHOLE.match(raw):
        raise DurationError(f'"{text}" is not a duration (use e.g. 30m, 1h, 1h30m, 2d)')
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(raw))


def format_duration(seconds: int) -> str:
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)
