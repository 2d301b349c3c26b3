"""Strategy through the real runner and venue: the ladder's shape, the pair guard, the inventory cap,
and the block reasons that keep the market from quoting (tick size unknown, stale book).

Every scenario uses `QUIET_FLOW`: other makers rest a fixed book on both tokens and nobody trades
unless the test does, so prices and times below are exact.
"""

from __future__ import annotations

import math
from typing import Any

import trio

from bot.engine.market import MarketRunner
from bot.engine.strategy import BlockReason
from bot.sim.faults import HttpFault
from statemachines.market import ExitReason
from tests.scenarios.harness import QUIET_FLOW, Scenario, best_ask, best_bid, scenario

TICK = 0.01
QUIET = dict(flow=QUIET_FLOW, window_s=100, quote_cutoff_s=30.0, record=True)


def _ticks(price: float | str) -> int:
    return round(float(price) / TICK)


def _ladder(sc: Scenario, token_id: str) -> list[tuple[float, float]]:
    """Our resting (price, size) on `token_id` as the venue lists them, best first."""
    orders = sc.our_open_orders(token_id)
    return sorted(((float(o["price"]), float(o["original_size"])) for o in orders), reverse=True)


async def _stop(sc: Scenario) -> None:
    await sc.stop_and_wait(ExitReason.OPERATOR)
    assert sc.our_open_orders() == []


async def test_ladder_rests_on_both_tokens_spaced_in_ticks_at_market_minimum_and_never_crosses(autojump_clock):
    async with scenario(ladder_levels=4, level_spacing_ticks=2, top_offset_ticks=1, size_per_level_shares=2.0,
                        **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(1.0)
        min_size = runner.info.min_order_size_shares
        assert min_size == 5.0  # the configured 2 shares are below the market's minimum
        for token in runner.info.token_ids:
            ladder = _ladder(sc, token)
            others_best = best_bid(sc.exchange, token)  # ours rest behind it, so it is the makers'
            assert others_best is not None
            top = min(_ticks(others_best) - 1, _ticks(best_ask(sc.exchange, token)) - 1)
            assert [_ticks(p) for p, _ in ladder] == [top, top - 2, top - 4, top - 6]
            assert [size for _, size in ladder] == [min_size] * 4
            # Post-only and behind the ask: no price of ours reaches the token's best ask.
            assert max(p for p, _ in ladder) < best_ask(sc.exchange, token)
            for level, (price, _) in enumerate(ladder):
                assert runner.manager.slots[(token, level)].price == price
        assert runner.manager.counts["rejected_expected"] == 0
        bodies = [body for r in sc.http.of("POST", "/orders") for body in r.body]
        assert bodies and all(b["postOnly"] is True and b["order"]["side"] == "BUY" for b in bodies)
        assert runner.block_reason is None
        await _stop(sc)


async def test_pair_guard_keeps_every_level_pair_at_most_one_minus_the_edge(autojump_clock):
    async with scenario(ladder_levels=3, min_pair_edge=0.2, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(1.0)
        up = _ladder(sc, runner.info.up_token_id)
        down = _ladder(sc, runner.info.down_token_id)
        assert len(up) == len(down) == 3
        limit_ticks = _ticks(1 - 0.2)
        # Unguarded the tops would be 0.47 + 0.47: the guard lowers both, level 0 lands on the limit.
        assert _ticks(up[0][0]) + _ticks(down[0][0]) == limit_ticks
        assert abs(_ticks(up[0][0]) - _ticks(down[0][0])) <= 1
        for (p_up, _), (p_down, _) in zip(up, down, strict=True):
            assert _ticks(p_up) + _ticks(p_down) <= limit_ticks
        await _stop(sc)


async def test_inventory_cap_stops_quoting_the_leading_side_only(autojump_clock):
    async with scenario(max_inventory_skew_shares=10.0, completion_min_imbalance_shares=1000.0,
                        **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        up, down = runner.info.up_token_id, runner.info.down_token_id
        await trio.sleep(1.0)
        our_top = _ladder(sc, up)[0][0]
        # A taker buys Down up to 1 - our Up top: it mints against every Up bid down to ours.
        taker = sc.trader()
        result = taker.market(down, "BUY", amount=100.0, price=round(1 - our_top, 2))
        assert not isinstance(result, Exception), result
        await sc.wait_until(lambda: runner.inventory.up.shares >= 10.0)
        assert runner.inventory.up.shares == 10.0 and runner.inventory.down.shares == 0.0
        await trio.sleep(0.5)
        assert runner.last_ladder.token_blocks == {up: BlockReason.INVENTORY_CAP}
        assert sc.our_open_orders(up) == []
        assert len(sc.our_open_orders(down)) == 3
        assert runner.machine.state.value == "quoting"
        await _stop(sc)


class GatedBooks:
    """A market-data feed whose first snapshot has not arrived yet: no book until `open()`."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._open = trio.Event()

    def open(self) -> None:
        self._open.set()

    def book(self, token_id: str) -> Any:
        return self._inner.book(token_id) if self._open.is_set() else None

    async def changed(self) -> None:
        if not self._open.is_set():
            await self._open.wait()
            return
        await self._inner.changed()


async def test_unknown_tick_size_blocks_quoting_until_a_book_tells_it(autojump_clock):
    gates: list[GatedBooks] = []

    def no_tick_yet(runner: MarketRunner) -> None:
        # Discovery said nothing about the tick, and the book has not arrived.
        runner.tick_size = None
        runner.books = gate = GatedBooks(runner.books)
        gates.append(gate)

    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        # ...and the CLOB's /tick-size answer at startup fails.
        sc.sim.admin.http.append(HttpFault(kind="status", families=["market_info"], count=1, status=500))
        sc.runner_hooks.append(no_tick_yet)
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(3.0)
        assert runner.block_reason is BlockReason.TICK_SIZE_UNKNOWN
        assert sc.http is not None and sc.http.of("POST", "/orders") == []
        (blocked,) = sc.journal.of("block")
        # No market data: the first decision is the quote loop's timer tick, one interval in.
        assert blocked["reason"] == "tick_size_unknown" and blocked["t"] == sc.unix(sc.settings.quote_interval_s)
        gates[0].open()
        await sc.wait_until(lambda: sc.http.of("POST", "/orders"))
        assert sc.http.of("POST", "/orders")[0].t == 3.0
        assert [b["reason"] for b in sc.journal.of("block")] == ["tick_size_unknown", None]
        await _stop(sc)


async def test_a_book_that_stops_changing_goes_stale_and_the_quotes_come_down(autojump_clock):
    stale_s = 3.0
    async with scenario(stale_book_s=stale_s, **QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner = await sc.first_runner()
        last_change: list[float] = []

        def stale_yet() -> bool:
            # The block can flicker (the cancel itself changes the book): read it from the journal.
            if sc.journal.of("block", reason="stale_book"):
                return True
            stamps = [getattr(runner.books.book(t), "updated_at_s", None) for t in runner.info.token_ids]
            if None not in stamps:
                last_change.append(min(stamps))  # the strategy judges by the older of the two books
            return False

        await sc.wait_until(stale_yet, timeout_s=60)
        t_stale = sc.journal.of("block", reason="stale_book")[0]["t"] - sc.unix(0)
        assert last_change[-1] + stale_s < t_stale <= last_change[-1] + stale_s + sc.settings.quote_interval_s
        # The ladder comes down in the same instant the book turned stale.
        cancels = [r for r in sc.http.of("DELETE", "/orders") if r.t <= t_stale + 1e-6]
        assert len(cancels) == 1 and len(cancels[0].body) == 6
        assert math.isclose(cancels[0].t, t_stale, abs_tol=1e-6)
        await _stop(sc)
