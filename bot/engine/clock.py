"""Unix time read from Trio's clock, so the fake clock drives every timer of the engine and the simulator."""

from __future__ import annotations

import time

import trio

__all__ = ["VenueClock"]


class VenueClock:
    """`now_s()` is unix seconds = `epoch_offset_s + trio.current_time()`.

    In a real run the offset is taken once at start from the wall clock, so all deadlines (cutoff,
    market end) become Trio deadlines that cancel scopes can use; in tests the offset is fixed and
    `trio.testing.MockClock` moves time.
    """

    def __init__(self, epoch_offset_s: float | None = None) -> None:
        self.epoch_offset_s = epoch_offset_s if epoch_offset_s is not None else time.time() - trio.current_time()

    def now_s(self) -> float:
        return self.epoch_offset_s + trio.current_time()

    def to_trio(self, unix_s: float) -> float:
        return unix_s - self.epoch_offset_s

    async def sleep_until_s(self, unix_s: float) -> None:
        await trio.sleep_until(self.to_trio(unix_s))

    def __repr__(self) -> str:
        return f"<VenueClock offset={self.epoch_offset_s:.3f}>"
