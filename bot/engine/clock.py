"""Unix time read from Trio's clock, so the fake clock drives every timer of the engine and the simulator;
and a start-up check of that clock against the venue's (`GET /time`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import trio

from bot.protocol.constants import POLY_TIMESTAMP_TOLERANCE_S
from bot.protocol.errors import VenueError

__all__ = ["CLOCK_SKEW_WARN_S", "VenueClock", "check_clock_skew"]

log = logging.getLogger(__name__)

# Warn well inside the venue's POLY_TIMESTAMP window, so the operator hears of a drifting clock before
# every signed request becomes a 401.
CLOCK_SKEW_WARN_S = POLY_TIMESTAMP_TOLERANCE_S / 4


async def check_clock_skew(
    venue_time_s: Callable[[], Awaitable[int]],
    now_s: Callable[[], float],
    *,
    warn_after_s: float = CLOCK_SKEW_WARN_S,
) -> float | None:
    """Our clock minus the venue's (`GET /time`, whole seconds), logging a WARNING past `warn_after_s`.

    None (logged at INFO) when the venue does not answer; the caller owns the deadline. The request's
    own duration is split evenly, and `/time` has one-second resolution, so the figure is good to ~1 s.
    """
    before = now_s()
    try:
        venue_s = await venue_time_s()
    except VenueError as exc:
        log.info("clock skew not checked: GET /time failed (%s)", exc)
        return None
    skew_s = (before + now_s()) / 2 - venue_s
    if abs(skew_s) > warn_after_s:
        log.warning(
            "clock skew: our clock is %+.1f s off the venue's (GET /time); the venue refuses a POLY_TIMESTAMP "
            "about %d s off with 401, so fix the host's time (NTP)",
            skew_s,
            POLY_TIMESTAMP_TOLERANCE_S,
        )
    return skew_s


class VenueClock:
    """`now_s()` is unix seconds = `epoch_offset_s + trio.current_time()`.

    In a real run the offset is taken once at start from the wall clock, so all deadlines (cutoff,
    market end) become Trio deadlines that cancel scopes can use; in tests the offset is fixed and
    `trio.testing.MockClock` moves time.
    """

    def __init__(self, epoch_offset_s: float | None = None) -> None:
        self.epoch_offset_s = (
            epoch_offset_s if epoch_offset_s is not None else time.time() - trio.current_time()
        )

    def now_s(self) -> float:
        return self.epoch_offset_s + trio.current_time()

    def to_trio(self, unix_s: float) -> float:
        return unix_s - self.epoch_offset_s

    async def sleep_until_s(self, unix_s: float) -> None:
        await trio.sleep_until(self.to_trio(unix_s))

    def __repr__(self) -> str:
        return f"<VenueClock offset={self.epoch_offset_s:.3f}>"
