"""The Trio driver of the simulator: it owns the exchange, the synthetic flows and the recurring
series, and moves them along the clock.

The simulator's time is `clock_epoch_s + trio.current_time()`, so Trio's clock drives it: on a
`MockClock(autojump_threshold=0)` a whole 15-minute window replays in a moment of wall time, and in
real runs `clock_epoch_s = time.time() − trio.current_time()` at start makes it wall time.
"""

from __future__ import annotations

import random
import time
from typing import Any

import trio

from bot.sim.engine import Exchange
from bot.sim.flow import FlowParams, MarketFlow, SeriesSchedule, SeriesSpec
from bot.sim.model import MarketSpec, SimConfig

__all__ = ["SimVenue"]

# Upper bound on one sleep of the driver. Deadlines are exact without it (the exchange wakes the loop
# whenever its schedule may have changed); it only bounds the damage of a missed wake-up.
_DEFAULT_MAX_STEP_S = 1.0
# Every sleep lasts at least this long. The clock is `epoch + trio time` in floats, so a deadline can land
# one ulp short of itself; without a floor the loop could wake, find nothing due and re-arm at the same
# instant forever (on an autojump clock, time would never move).
_MIN_SLEEP_S = 1e-6


class SimVenue:
    """Exchange + flows + series on the Trio clock. Run `run()` in a nursery; it ends when cancelled.

    Construct it inside a Trio run (its clock reads `trio.current_time()`). The given markets and the
    series windows listed at construction time exist at once, so `exchange` is usable before `run`
    starts; `run` reports started (with the venue) after its first step.

    `flow` shapes the synthetic participants of every market; `with_flow=False` gives a quiet venue
    (only the fronts trade). `max_step_s` bounds one sleep of the driver.
    """

    def __init__(
        self,
        *,
        clock_epoch_s: float | None = None,
        config: SimConfig | None = None,
        series: list[SeriesSpec] | None = None,
        markets: list[MarketSpec] | None = None,
        seed: int = 0,
        flow: FlowParams | None = None,
        with_flow: bool = True,
        max_step_s: float = _DEFAULT_MAX_STEP_S,
    ) -> None:
        if clock_epoch_s is None:
            clock_epoch_s = time.time() - trio.current_time()
        self._epoch_s = clock_epoch_s
        self._config = config or SimConfig()
        self._series: list[SeriesSchedule] = list(series or [])
        self._initial_markets = list(markets or [])
        self._seed = seed
        self._flow_params = flow or FlowParams()
        self._with_flow = with_flow
        self._max_step_s = max_step_s
        self.exchange = Exchange(clock=self.now, config=self._config, seed=seed)
        self._flows: dict[str, MarketFlow] = {}
        self._listed: set[tuple[int, int]] = set()  # (series index, window start) already added
        self._wake = trio.Event()
        self._iterations = 0
        self.exchange.add_schedule_listener(self._on_schedule_change)
        self._list_markets(self.now())

    def __repr__(self) -> str:
        return (
            f"<SimVenue now={self.now():.3f} markets={len(self.exchange.markets())} flows={len(self._flows)}>"
        )

    def now(self) -> float:
        """The simulator's clock: unix seconds."""
        return self._epoch_s + trio.current_time()

    @property
    def flows(self) -> list[MarketFlow]:
        return list(self._flows.values())

    def flow_for(self, condition_id: str) -> MarketFlow | None:
        return self._flows.get(condition_id)

    def _on_schedule_change(self) -> None:
        self._wake.set()

    def _list_markets(self, now: float) -> None:
        """Add the initial markets and every series window due to be listed, with their flows."""
        while self._initial_markets:
            self._add(self._initial_markets.pop(0))
        for index, schedule in enumerate(self._series):
            for start in schedule.listed_windows(now):
                if (index, start) in self._listed:
                    continue
                self._listed.add((index, start))
                spec = schedule.spec_for(start)
                if self.exchange.market_by_condition(spec.condition_id) is None:
                    self._add(spec)

    def _add(self, spec: MarketSpec) -> None:
        self.exchange.add_market(spec)
        if self._with_flow:
            digest = int.from_bytes(spec.condition_id.encode(), "big") ^ self._seed
            self._flows[spec.condition_id] = MarketFlow(
                self.exchange, spec, random.Random(digest), self._flow_params
            )

    def _next_deadline(self, now: float) -> float:
        times = [now + self._max_step_s]
        deadline = self.exchange.next_deadline()
        if deadline is not None:
            times.append(deadline)
        for flow in self._flows.values():
            flow_deadline = flow.next_deadline()
            if flow_deadline is not None:
                times.append(flow_deadline)
        times.extend(schedule.next_listing_s(now) for schedule in self._series)
        return min(times)

    def _step(self) -> None:
        now = self.now()
        # One batch per step: each market's book changes of the step go out as one price_change/book.
        with self.exchange.batch():
            self._list_markets(now)
            self.exchange.advance()
            for condition_id, flow in list(self._flows.items()):
                flow.step(now)
                if flow.next_deadline() is None and now >= flow.spec.end_ts:
                    del self._flows[condition_id]
                    spec = flow.spec
                    up_wins = flow.fair_value >= 0.5  # the walk's final value decides the window
                    self.exchange.resolve_market(
                        condition_id, spec.yes_token_id if up_wins else spec.no_token_id
                    )

    async def run(self, *, task_status: trio.TaskStatus[SimVenue] = trio.TASK_STATUS_IGNORED) -> None:
        """Drive the simulator until cancelled; reports started once the first markets are listed."""
        self._step()
        task_status.started(self)
        while True:
            # A fresh event after our own step: only changes made by others (the fronts) wake us early.
            self._wake = trio.Event()
            target = self._next_deadline(self.now()) - self._epoch_s
            with trio.move_on_at(max(target, trio.current_time() + _MIN_SLEEP_S)):
                await self._wake.wait()
            self._iterations += 1
            self._step()

    def statistics(self) -> dict[str, Any]:
        return {
            "now": self.now(),
            "iterations": self._iterations,
            "flows": [flow.statistics() for flow in self._flows.values()],
            "exchange": self.exchange.statistics(),
        }
