"""A paper run's reward estimate against the simulator's accrual for the same run (issue 18, done-when).

The venue samples once a (compressed) minute at a random moment, so a 15-sample market's accrual is one
noisy draw (measured: 0 to 1.6× its expectation); the simulator's reference ledger (100 stratified samples
a minute, the expectation of that draw) tells the estimator's own error apart from that noise. At 20 a
minute the reference's own noise alone spread the ratios by ±7 %. The official client then confirms that
the ladder's orders score.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import trio

import bot.main_job as main_job
import bot.sim.model as sim_model
import bot.sim.venue as sim_venue
from bot.main_job import run_bot
from settings import BotSettings
from statemachines.market import ExitReason

UNIT = 1_000_000


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The paper run's venue, with the reference ledger switched on."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(sim_model, "SimConfig",
                        functools.partial(sim_model.SimConfig, rewards_reference_subsamples=100))
    original = sim_venue.SimVenue.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        seen["venue"] = self

    monkeypatch.setattr(sim_venue.SimVenue, "__init__", init)
    # Paper time from a fixed instant (not the wall clock's next window): the same markets every run.
    monkeypatch.setattr(main_job, "_paper_epoch_s", lambda w: math.ceil(1_800_000_000 / w) * w - trio.current_time())
    return seen


def _our_address(exchange: Any) -> str:
    [address] = [a for key, a in exchange._api_keys.items() if not key.startswith("flow-")]
    return address


@pytest.mark.parametrize("seed", [3, 7, 11])
async def test_the_estimate_agrees_with_the_simulators_accrual_over_a_full_market(
    autojump_clock: trio.testing.MockClock, captured: dict[str, Any], seed: int
) -> None:
    settings = BotSettings(mode="paper", paper_window_s=150, quote_cutoff_s=30, paper_seed=seed)
    reason, summary = await run_bot(settings, duration_s=320, inprocess=True, show_status=False)
    assert reason is ExitReason.OPERATOR
    exchange = captured["venue"].exchange
    address = _our_address(exchange)
    full = [m for m in summary["markets"] if m["exit_reason"] == "market_end"]
    assert len(full) >= 1
    ratios = []
    for market in full:
        cid = market["condition_id"]
        sampled = float(exchange.incentives.earnings_units(address, cid)) / UNIT
        expected = float(exchange.reference_incentives.earnings_units(address, cid)) / UNIT
        estimate = market["rewards_estimated_pusd"]
        assert market["rewards_reported_pusd"] == pytest.approx(sampled, abs=1e-6)  # the endpoint's own number
        print(market["market"], f"estimate={estimate:.4f} expected={expected:.4f} sampled={sampled:.4f}")
        if expected > 0.01:  # a market the flow took away from our ladder early earns too little to compare
            ratios.append(estimate / expected)
    assert ratios, "no full market earned enough to compare the estimate with"
    # Issue 18: within 5 %. Measured (the same in reruns): 1.016 and 0.963, 1.017 (seed 7's first market
    # earns too little to compare) and 0.975, 1.016 and 0.962. Over seeds 1–12 (23 markets that earned
    # enough): all within 5 %, 0.954–1.016, mean 0.981. Before the estimator followed every level change
    # (an order replaced at the same price looked rested) and took each burst of arrivals as one maker
    # (the public book adds makers together): 0.85–1.21.
    assert all(0.95 < r < 1.05 for r in ratios), ratios
