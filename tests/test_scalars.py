"""Scalars as the contract describes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from resolvers.dates import format_instant, parse_instant


def test_datetimes_leave_in_utc() -> None:
    paris = datetime(2026, 11, 21, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    assert format_instant(paris) == "2026-11-21T09:30:00Z"


def test_datetimes_arrive_with_an_offset() -> None:
    assert parse_instant("2026-11-21T10:30:00+01:00") == datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    assert parse_instant("2026-11-21T09:30:00Z").tzinfo == UTC
    with pytest.raises(ValueError, match="offset"):
        parse_instant("2026-11-21T09:30:00")
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_instant(1234)


def test_datetimes_that_leave_the_calendar_in_utc_are_refused() -> None:
    for value in ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]:
        with pytest.raises(ValueError, match="between the years 1 and 9999"):
            parse_instant(value)
    assert parse_instant("0001-01-01T00:00:00-01:00") == datetime(1, 1, 1, 1, tzinfo=UTC)
