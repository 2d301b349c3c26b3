"""Event-loop lag: how late the Trio scheduler wakes a task that asked to sleep a fixed period.

A market maker's quotes are only as fresh as its loop is responsive: a blocking call anywhere (a
slow signature, a huge JSON parse, a sync log handler stuck on a pipe) shows up here as overshoot.
`LoopLagMonitor.run` sleeps `period_s` again and again and records `elapsed - period_s` each time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import trio

__all__ = ["DEFAULT_LOOP_LAG_PERIOD_S", "DEFAULT_LOOP_LAG_SAMPLES", "LoopLagMonitor", "LoopLagStatistics"]

# 100 ms: fine enough to catch a 10 ms stall within a tenth of a second, coarse enough that the probe
# itself costs nothing measurable (ten wake-ups a second).
DEFAULT_LOOP_LAG_PERIOD_S: Final = 0.1
# The last minute at the default period: recent enough for "now", long enough for a p99.
DEFAULT_LOOP_LAG_SAMPLES: Final = 600


@dataclass(frozen=True, slots=True)
class LoopLagStatistics:
    """Summary of the kept samples, in milliseconds (None before the first sample)."""

    samples: int
    last_ms: float | None
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def _nearest_rank(sorted_values: list[float], quantile: float) -> float:
    # Nearest-rank percentile: always one of the observed values, no interpolation to explain.
    rank = max(1, math.ceil(quantile * len(sorted_values)))
    return sorted_values[rank - 1]


class LoopLagMonitor:
    """Measures scheduler overshoot every `period_s`; keeps the last `max_samples` and their p50/p99/max.

    `clock` is the time source compared against the sleep (default `trio.current_time`, which in a
    real run is a monotonic clock); tests inject a scripted one, since a fake Trio clock never lags.
    `on_sample(lag_s)` is called after each measurement (e.g. `Metrics.observe_loop_lag`).
    """

    def __init__(
        self,
        period_s: float = DEFAULT_LOOP_LAG_PERIOD_S,
        *,
        max_samples: int = DEFAULT_LOOP_LAG_SAMPLES,
        clock: Callable[[], float] | None = None,
        on_sample: Callable[[float], None] | None = None,
    ) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        if max_samples < 1:
            raise ValueError(f"max_samples must be >= 1, got {max_samples}")
        self.period_s = period_s
        self._clock = clock if clock is not None else trio.current_time
        self._on_sample = on_sample
        self._samples_s: deque[float] = deque(maxlen=max_samples)
        self.total_samples = 0

    def record(self, lag_s: float) -> None:
        """Keep one measurement (negative values, clock jitter, count as zero lag)."""
        lag_s = max(0.0, lag_s)
        self._samples_s.append(lag_s)
        self.total_samples += 1
        if self._on_sample is not None:
            self._on_sample(lag_s)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Measure until cancelled. Start it with `nursery.start` (it reports ready at once)."""
        task_status.started()
        while True:
            before = self._clock()
            await trio.sleep(self.period_s)
            self.record(self._clock() - before - self.period_s)

    def statistics(self) -> LoopLagStatistics:
        """p50/p99/max/last over the kept samples, in milliseconds."""
        if not self._samples_s:
            return LoopLagStatistics(0, None, None, None, None)
        ordered = sorted(self._samples_s)
        return LoopLagStatistics(
            samples=len(ordered),
            last_ms=self._samples_s[-1] * 1e3,
            p50_ms=_nearest_rank(ordered, 0.50) * 1e3,
            p99_ms=_nearest_rank(ordered, 0.99) * 1e3,
            max_ms=ordered[-1] * 1e3,
        )

    def __repr__(self) -> str:
        stats = self.statistics()
        p99 = "-" if stats.p99_ms is None else f"{stats.p99_ms:.2f}ms"
        return f"<LoopLagMonitor period={self.period_s}s samples={stats.samples} p99={p99}>"
