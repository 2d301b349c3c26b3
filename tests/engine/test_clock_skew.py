"""The start-up clock check: our clock against the venue's `GET /time` (issue 15 §2)."""

from __future__ import annotations

import logging

import pytest

from bot.engine.clock import CLOCK_SKEW_WARN_S, check_clock_skew
from bot.protocol.errors import VenueError

VENUE_NOW_S = 1_800_000_000


def _venue_time(value: int):
    async def venue_time_s() -> int:
        return value

    return venue_time_s


@pytest.mark.parametrize("offset_s", [-90.0, -(CLOCK_SKEW_WARN_S + 2), CLOCK_SKEW_WARN_S + 2, 3600.0])
async def test_a_skewed_clock_is_reported_as_a_warning(
    caplog: pytest.LogCaptureFixture, offset_s: float
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.engine.clock"):
        skew = await check_clock_skew(_venue_time(VENUE_NOW_S), lambda: VENUE_NOW_S + offset_s)
    assert skew == offset_s
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "clock skew" in warnings[0].getMessage()


async def test_a_clock_within_the_margin_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="bot.engine.clock"):
        skew = await check_clock_skew(_venue_time(VENUE_NOW_S), lambda: VENUE_NOW_S + 1.5)
    assert skew == 1.5 and not caplog.records


async def test_a_venue_that_does_not_answer_is_not_a_skew(caplog: pytest.LogCaptureFixture) -> None:
    async def failing() -> int:
        raise VenueError("GET /time: 503")

    with caplog.at_level(logging.INFO, logger="bot.engine.clock"):
        assert await check_clock_skew(failing, lambda: float(VENUE_NOW_S)) is None
    assert [r.levelno for r in caplog.records] == [logging.INFO]
