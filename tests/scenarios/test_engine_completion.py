"""Completion executor: once one side leads by `completion_min_imbalance_shares`, maker quoting pauses
(nothing of ours rests), ONE FOK/FAK BUY of the lagging token goes out with the cap of
`plan_completion` and an amount in pUSD, its result lands in the inventory, and quoting resumes.

`QUIET_FLOW`: Up and Down bids 0.48 (makers) / 0.47 (ours). A taker buying Down up to 0.53 mints
against Up bids down to ours, so we lead with 10 Up at 0.47; Down's best ask is then 0.54, above any
profitable cap, until the test offers Down at 0.50.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from bot.engine.completion import plan_completion
from bot.engine.market import MarketRunner
from bot.protocol.money import micro_from_float, tick_grid
from statemachines.market import ExitReason
from tests.scenarios.harness import QUIET_FLOW, HttpRecord, Scenario, Trader, best_ask, scenario

QUIET = dict(flow=QUIET_FLOW, window_s=100, quote_cutoff_s=30.0, stale_book_s=600.0, record=True,
             completion_min_imbalance_shares=5.0)
UNIT = 1_000_000


def _market_orders(sc: Scenario) -> list[HttpRecord]:
    return [r for r in sc.http.of("POST", "/order") if r.body["orderType"] in ("FOK", "FAK")]


async def _lead_up_by_ten(sc: Scenario, runner: MarketRunner) -> None:
    sc.trader("sweeper").market(runner.info.down_token_id, "BUY", amount=100.0, price=0.53)
    await sc.wait_until(lambda: runner.inventory.up.shares == 10.0)


def _plan_for(sc: Scenario, runner: MarketRunner) -> Any:
    """What completion.py plans for our 10-share Up lead at 0.47, given Down's best ask right now."""
    ask = best_ask(sc.exchange, runner.info.down_token_id)
    return plan_completion(
        lagging_token_id=runner.info.down_token_id, imbalance_micro=10_000_000, leading_cost_micro=4_700_000,
        leading_shares_micro=10_000_000, grid=tick_grid("0.01"),
        min_edge_micro=runner.money.completion_min_edge_micro,
        max_pair_cost_micro=runner.money.completion_max_pair_cost_micro,
        fee_rate=runner.info.fee_rate, fee_exponent=runner.info.fee_exponent,
        best_ask_micro=None if ask is None else micro_from_float(ask),
    )


def _offer_down_at(sc: Scenario, runner: MarketRunner, price: float, name: str = "liquidity") -> Trader:
    """Someone sells Down at `price` (a bid for Up at 1 - price is an ask for Down at `price`)."""
    seller = sc.trader(name)
    seller.limit(runner.info.up_token_id, "BUY", round(1 - price, 2), 50)
    return seller


@pytest.mark.parametrize("order_type", ["FAK", "FOK"])
async def test_a_lead_pauses_quoting_for_one_pusd_sized_buy_of_the_lagging_token(autojump_clock, order_type):
    cooldown_s = 5.0
    async with scenario(completion_order_type=order_type, completion_cooldown_s=cooldown_s, **QUIET) as sc, \
            trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        up, down = runner.info.up_token_id, runner.info.down_token_id
        await trio.sleep(1.0)
        resting_when_sent: list[int] = []
        down_shares_when_quoting: list[tuple[float, float]] = []

        def watch(record: HttpRecord) -> None:
            if record.path == "/order" and record.body["orderType"] == order_type:
                resting_when_sent.append(len(sc.our_open_orders()))
            elif record.path == "/orders" and record.method == "POST":
                down_shares_when_quoting.append((record.t, runner.inventory.down.shares))

        sc.http.on_request.append(watch)
        await _lead_up_by_ten(sc, runner)
        # Down's best ask (0.54) is above any profitable cap: nothing to take, no order, a cooldown.
        assert _plan_for(sc, runner) is None
        await trio.sleep(0.5)
        assert sc.journal.of("completion_skipped")[0]["t"] == sc.unix(1.0) and _market_orders(sc) == []
        _offer_down_at(sc, runner, 0.50)
        expected = _plan_for(sc, runner)
        assert expected is not None and (expected.price_cap, expected.amount_pusd) == (0.50, 5.00)
        # The venue takes a second to process single orders: the completion is in flight meanwhile.
        sc.sim.admin.latency_s["post_order"] = 1.0
        await sc.wait_until(lambda: runner.stats.completions_filled == 1)
        await trio.sleep(1.0)

        (fak,) = _market_orders(sc)
        assert 1.0 + cooldown_s <= fak.t <= 1.0 + cooldown_s + sc.settings.quote_interval_s
        assert fak.t_done == fak.t + 1.0
        assert resting_when_sent == [0]  # maker quoting paused before taking liquidity
        order = fak.body["order"]
        assert (order["side"], order["tokenId"], fak.body["postOnly"]) == ("BUY", down, False)
        # makerAmount is the pUSD to spend, in 1e6 units; takerAmount the shares it buys at the cap.
        assert int(order["makerAmount"]) == round(expected.amount_pusd * UNIT) == 5_000_000
        assert int(order["takerAmount"]) == round(expected.amount_pusd / expected.price_cap * UNIT) == 10_000_000
        (line,) = sc.journal.of("completion")
        assert (line["price_cap"], line["amount_pusd"], line["order_type"]) == (0.50, 5.00, order_type)
        # Filled at 0.50: the pair is complete and the result is in the inventory.
        assert runner.stats.completions_sent == runner.stats.completions_filled == 1
        assert runner.inventory.down.shares == 10.0 and runner.inventory.imbalance_shares == 0.0
        transitions = [(r["t"], r["dst"]) for r in sc.journal.of("market_transition") if r["t"] > sc.unix(0)]
        assert transitions == [(sc.unix(fak.t), "completing"), (sc.unix(fak.t_done), "quoting")]
        blocks = [(r["t"], r["reason"]) for r in sc.journal.of("block") if r["t"] > sc.unix(0)]
        assert blocks == [(sc.unix(fak.t), "completing"), (sc.unix(fak.t_done), None)]
        # Quoting resumed on the completed inventory: both ladders rest again.
        quoting_after = [shares for t, shares in down_shares_when_quoting if t >= fak.t_done]
        assert quoting_after and quoting_after[0] == 10.0
        assert len(sc.our_open_orders(up)) == len(sc.our_open_orders(down)) == 3
        await sc.stop_and_wait(ExitReason.OPERATOR)
        assert sc.our_open_orders() == []


async def test_a_killed_completion_resumes_quoting_and_the_next_one_waits_for_the_cooldown(autojump_clock):
    cooldown_s = 5.0
    async with scenario(completion_cooldown_s=cooldown_s, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(1.0)
        resting_when_sent: list[int] = []
        sc.http.on_request.append(lambda r: resting_when_sent.append(len(sc.our_open_orders()))
                                  if r.path == "/order" and r.body["orderType"] == "FAK" else None)
        await _lead_up_by_ten(sc, runner)
        await trio.sleep(0.5)
        seller = _offer_down_at(sc, runner, 0.50)
        sc.sim.admin.latency_s["post_order"] = 1.0
        await sc.wait_until(lambda: len(_market_orders(sc)) == 1)
        seller.cancel_all()  # the offer is gone before the FAK reaches the venue
        await trio.sleep(2.0)
        (first,) = _market_orders(sc)
        # Killed: nothing at or under its cap. An expected reject, not a failure.
        assert first.status == 400 and runner.stats.completions_filled == 0
        assert runner.backoff.statistics()["failures_total"] == 0
        _offer_down_at(sc, runner, 0.50, "second-liquidity")
        await sc.wait_until(lambda: runner.stats.completions_filled == 1)
        first, second = _market_orders(sc)
        # Quoting resumed in between, on both tokens...
        between = [r for r in sc.http.of("POST", "/orders") if first.t_done <= r.t < second.t]
        assert between and {o["order"]["tokenId"] for r in between for o in r.body} == set(runner.info.token_ids)
        # ...the next attempt waited for the cooldown, and each went out with nothing of ours resting.
        assert first.t + cooldown_s <= second.t <= first.t + cooldown_s + sc.settings.quote_interval_s
        assert resting_when_sent == [0, 0]
        # Never two in flight: each market order is answered before the next one leaves.
        assert first.t_done <= second.t
        assert runner.stats.completions_sent == 2 and runner.inventory.imbalance_shares == 0.0
        await sc.stop_and_wait(ExitReason.OPERATOR)
        assert sc.our_open_orders() == []


async def test_a_completion_answered_matched_is_not_bought_again_while_its_trade_is_late(autojump_clock):
    # The venue answers the FAK "matched" but its trade is late on the user stream, past the settle wait
    # and the cooldown. The shares are bought: the next decision counts them, and no second completion
    # buys the lagging side again (which would leave Down 10 shares ahead instead of a pair).
    cooldown_s = 2.0
    async with scenario(completion_cooldown_s=cooldown_s, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        down = runner.info.down_token_id
        await trio.sleep(1.0)
        await _lead_up_by_ten(sc, runner)
        held_back: list[Any] = []
        apply_trade = runner.user_handler.on_trade_event
        runner.user_handler.on_trade_event = held_back.append  # type: ignore[method-assign]
        _offer_down_at(sc, runner, 0.50)  # 50 shares: enough for a second completion to fill too
        await sc.wait_until(lambda: runner.stats.completions_filled == 1)
        await trio.sleep(sc.settings.completion_settle_s + 4 * cooldown_s)
        assert len(_market_orders(sc)) == 1 and runner.stats.completions_sent == 1
        assert runner.inventory.down.shares == 0.0 and runner.matched_ahead()[down][0] == 10 * UNIT
        for event in held_back:
            apply_trade(event)
        assert runner.inventory.down.shares == 10.0 and runner.inventory.imbalance_shares == 0.0
        assert runner.matched_ahead()[down][0] == 0
        await trio.sleep(2 * cooldown_s)
        assert len(_market_orders(sc)) == 1
        await sc.stop_and_wait(ExitReason.OPERATOR)
        assert sc.our_open_orders() == []


async def test_after_the_cutoff_the_summary_marks_still_follow_the_book(autojump_clock):
    """The quoting task notes the marks while it runs; past the cutoff a watcher of the market's own keeps
    them on the book to the end (the summary marks unsold shares there)."""
    from statemachines.market import MarketState

    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        up = runner.info.up_token_id
        await sc.wait_until(lambda: runner.machine.state is MarketState.CUTOFF and not sc.our_open_orders())
        before = runner.marks.bid_micro[up]
        sc.trader("late").limit(up, "BUY", 0.49, 20)  # a better Up bid after the cutoff
        await trio.sleep(0.5)
        assert before < runner.marks.bid_micro[up] == micro_from_float(0.49)
        await sc.stop_and_wait(ExitReason.OPERATOR)
