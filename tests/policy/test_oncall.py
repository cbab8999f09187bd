"""Weekly on-call rotations (grantflow/domain/oncall.py): pure, property-tested."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grantflow.domain.oncall import BadHandover, first_handover, next_handover, on_call, parse_handover

BERLIN = parse_handover("monday 09:00 Europe/Berlin")
PEOPLE = ["alice@example.com", "erin@example.com", "frank@example.com"]

instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)
rotations = st.lists(st.emails().map(str.lower), min_size=1, max_size=6, unique=True)


def test_handover_parses_and_names_its_parts() -> None:
    h = parse_handover("Mon 09:00 Europe/Berlin")
    assert (h.weekday, h.at.hour, h.at.minute, h.zone.key) == (0, 9, 0, "Europe/Berlin")
    assert str(parse_handover("friday 17:30 UTC")) == "friday 17:30 UTC"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("monday 9am Europe/Berlin", "expected e.g."),
        ("someday 09:00 UTC", "is not a weekday"),
        ("t 09:00 UTC", "is not a weekday"),
        ("monday 25:00 UTC", "is not a time of day"),
        ("monday 09:00 Mars/Olympus", "unknown time zone"),
    ],
)
def test_a_bad_handover_says_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(BadHandover, match=why):
        parse_handover(text)


def test_the_first_person_takes_the_first_handover_after_start() -> None:
    start = date(2026, 11, 30)  # a Monday
    first = first_handover(BERLIN, start)
    assert first == datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert on_call(PEOPLE, BERLIN, first, start) == "alice@example.com"
    assert on_call(PEOPLE, BERLIN, first - timedelta(seconds=1), start) == "frank@example.com"
    assert on_call(PEOPLE, BERLIN, first + timedelta(days=7), start) == "erin@example.com"
    assert on_call(PEOPLE, BERLIN, first + timedelta(days=7, seconds=-1), start) == "alice@example.com"


def test_handover_stays_at_local_time_across_daylight_saving() -> None:
    # Berlin leaves summer time on 2026-10-25: the Monday handover is still at 09:00 local (08:00 UTC).
    start = date(2026, 10, 19)
    before = datetime(2026, 10, 26, 7, 59, tzinfo=UTC)  # 08:59 local
    after = datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # 09:00 local
    assert on_call(PEOPLE, BERLIN, before, start) == "alice@example.com"
    assert on_call(PEOPLE, BERLIN, after, start) == "erin@example.com"


@settings(max_examples=200, deadline=None)
@given(rotation=rotations, at=instants)
def test_exactly_the_person_of_the_week_is_on_call(rotation: list[str], at: datetime) -> None:
    who = on_call(rotation, BERLIN, at)
    assert who in rotation
    nxt = next_handover(BERLIN, at)
    assert nxt > at
    assert nxt - at <= timedelta(days=7, hours=1)  # a week, give or take a daylight-saving hour
    # The same person until just before the next handover; the next in the list from it.
    assert on_call(rotation, BERLIN, nxt - timedelta(seconds=1)) == who
    following = rotation[(rotation.index(who) + 1) % len(rotation)]
    assert on_call(rotation, BERLIN, nxt) == following


@settings(max_examples=100, deadline=None)
@given(rotation=rotations, at=instants)
def test_the_rotation_repeats_every_len_weeks(rotation: list[str], at: datetime) -> None:
    later = (at.astimezone(BERLIN.zone).replace(tzinfo=None) + timedelta(weeks=len(rotation))).replace(
        tzinfo=BERLIN.zone
    )
    assert on_call(rotation, BERLIN, later) == on_call(rotation, BERLIN, at)


def test_nobody_and_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="empty rotation"):
        on_call([], BERLIN, datetime.now(UTC))
    with pytest.raises(ValueError, match="aware"):
        on_call(PEOPLE, BERLIN, datetime(2026, 1, 1))
