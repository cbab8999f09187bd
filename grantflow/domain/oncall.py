"""Who is on call: weekly rotations computed from the config, pure (no clock, no I/O).

A rotation names people in order and a weekly handover ("monday 09:00 Europe/Berlin"). The first person
is on call from the first handover at or after `start` (a date; default 2024-01-01) for one week, then the
next, and so on, round the list. Before that first handover the last person of the list is on call (the
rotation is read as having always run). A schedule may instead name a command that prints the current
on-call emails, one per line (e.g. scripts/pagerduty_oncall.py); running it is an activity's job
(activities/oncall.py), not this module's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEK = timedelta(days=7)
DEFAULT_START = date(2024, 1, 1)

_HANDOVER = re.compile(r"^\s*(?P<day>[a-z]+)\s+(?P<h>\d{1,2}):(?P<m>\d{2})\s+(?P<tz>\S+)\s*$", re.IGNORECASE)


class BadHandover(ValueError):
    pass


@dataclass(frozen=True)
class Handover:
    weekday: int  # 0 = Monday
    at: time
    zone: ZoneInfo

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.at.strftime('%H:%M')} {self.zone.key}"


def parse_handover(text: str) -> Handover:
    """`monday 09:00 Europe/Berlin` (weekday, 24-hour time, IANA time zone)."""
    m = _HANDOVER.match(text)
    if not m:
        raise BadHandover(f"handover {text!r}: expected e.g. 'monday 09:00 Europe/Berlin'")
    day = m["day"].lower()
    matches = [i for i, name in enumerate(WEEKDAYS) if name.startswith(day) and len(day) >= 3]
    if len(matches) != 1:
        raise BadHandover(f"handover {text!r}: {m['day']!r} is not a weekday")
    hour, minute = int(m["h"]), int(m["m"])
    if hour > 23 or minute > 59:
        raise BadHandover(f"handover {text!r}: {hour:02d}:{minute:02d} is not a time of day")
    try:
        zone = ZoneInfo(m["tz"])
    except (ZoneInfoNotFoundError, ValueError):
        raise BadHandover(f"handover {text!r}: unknown time zone {m['tz']!r}") from None
    return Handover(matches[0], time(hour, minute), zone)


def first_handover(handover: Handover, start: date) -> datetime:
    """The first handover instant at or after midnight of `start`, in the handover's zone."""
    days = (handover.weekday - start.weekday()) % 7
    return datetime.combine(start + timedelta(days=days), handover.at, tzinfo=handover.zone)


def on_call(rotation: list[str], handover: Handover, at: datetime, start: date = DEFAULT_START) -> str:
    """The person on call at `at` (an aware datetime). Weeks are counted on the wall clock of the handover's
    zone, so a handover stays at 09:00 local time across daylight-saving changes."""
    if not rotation:
        raise ValueError("an empty rotation has nobody on call")
    if at.tzinfo is None:
        raise ValueError("on_call needs an aware datetime")
    first = first_handover(handover, start)
    local = at.astimezone(handover.zone)
    # Whole weeks on the local wall clock between the first handover and now.
    naive_first, naive_now = first.replace(tzinfo=None), local.replace(tzinfo=None)
    weeks = (naive_now - naive_first) // WEEK
    return rotation[weeks % len(rotation)]


def next_handover(handover: Handover, at: datetime, start: date = DEFAULT_START) -> datetime:
    """The next handover strictly after `at` (for `policy who-can` and the docs)."""
    first = first_handover(handover, start)
    naive_first = first.replace(tzinfo=None)
    naive_now = at.astimezone(handover.zone).replace(tzinfo=None)
    weeks = (naive_now - naive_first) // WEEK + 1
    return (naive_first + weeks * WEEK).replace(tzinfo=handover.zone)
