"""The process tests' series window: young enough that the flow is mid-range, long enough to finish in."""

from __future__ import annotations

from tests.reliability.processes import pick_window_s


def test_the_window_picked_began_minutes_ago_and_leaves_five_minutes() -> None:
    for step in range(4_000):
        now = 1_780_000_000 + step * 3067.13
        window = pick_window_s(now)
        elapsed = now % window
        assert window - elapsed >= 300, (now, window)
        assert elapsed < 180, (now, window)  # a 30-minute window late in its life met a fair value of 0.03
