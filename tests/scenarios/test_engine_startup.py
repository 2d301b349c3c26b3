"""Startup: with `startup_cancel_all` our orders already resting in the market are cancelled, and the
venue verified empty, before the first quote; without it they are adopted as ladder levels (BUYs by
price, best first), the rest cancelled, and a smaller `ladder_levels` converges without a token ever
holding more than `ladder_levels` of our orders once the bot starts posting.

The orders "from before" are placed over REST with the bot's own key (same private key) before the
bot starts.
"""

from __future__ import annotations

from typing import Any

import trio

from bot.protocol.signing import Side
from bot.sim.wire import UNIT
from statemachines.market import ExitReason
from statemachines.order import OrderState
from tests.scenarios.harness import EPOCH_S, QUIET_FLOW, HttpRecord, Scenario, scenario

QUIET = dict(flow=QUIET_FLOW, window_s=100, quote_cutoff_s=30.0, stale_book_s=600.0, record=True,
             completion_min_imbalance_shares=1000.0)


def _market(sc: Scenario, start_s: float) -> Any:
    return next(m for m in sc.exchange.markets() if m.start_ts == start_s)


async def _place_before_start(sc: Scenario, orders: list[tuple[str, Side, float, float]]) -> list[str]:
    """Post (token, side, price, size) GTC orders with the bot's key; returns their ids."""
    ids = []
    async with sc.venue_client() as rest:
        for token, side, price, size in orders:
            signed = sc.signer.build_limit(token_id=token, price=price, size_shares=size, side=side, tick_size="0.01")
            result = await rest.post_order(signed.to_wire(rest._creds.api_key, "GTC"))
            assert result.ok and result.status == "live", result
            ids.append(signed.order_id)
    return ids


def _status(sc: Scenario, order_id: str) -> str:
    return sc.exchange.get_order(sc.owner, order_id)["status"]


async def test_startup_cancels_our_resting_orders_and_verifies_before_the_first_quote(autojump_clock):
    async with scenario(startup_cancel_all=True, **QUIET) as sc, trio.open_nursery() as nursery:
        this, following = _market(sc, EPOCH_S), _market(sc, EPOCH_S + 100)
        old = await _place_before_start(sc, [
            (this.yes_token_id, Side.BUY, 0.30, 10), (this.yes_token_id, Side.BUY, 0.31, 10),
            (this.no_token_id, Side.BUY, 0.32, 10),
        ])
        (elsewhere,) = await _place_before_start(sc, [(following.yes_token_id, Side.BUY, 0.30, 10)])
        resting_at_first_post: list[int] = []
        sc.http.on_request.append(lambda r: resting_at_first_post.append(
            len(sc.exchange.open_orders(sc.owner, market=this.condition_id)))
            if r.path == "/orders" and r.method == "POST" else None)
        sc.start(nursery)
        runner = await sc.first_runner()
        assert runner.info.condition_id == this.condition_id
        await trio.sleep(1.0)
        # The account-level clock check (GET /time) comes first; the market's own calls follow.
        assert (sc.http.records[0].method, sc.http.records[0].path) == ("GET", "/time")
        calls = [(r.method, r.path) for r in sc.http.records
                 if not r.path.startswith("/auth/") and r.path not in ("/v1/heartbeats", "/time")]
        assert calls[:3] == [("DELETE", "/cancel-market-orders"), ("GET", "/data/orders"), ("POST", "/orders")]
        assert {r.t for r in sc.http.records[:6]} == {0.0}
        assert resting_at_first_post[0] == 0
        assert all(_status(sc, oid) == "CANCELED" for oid in old)
        (startup,) = sc.journal.of("cancel_all", why="startup")
        assert startup["verified"] is True and startup["t"] == sc.unix(0.0)
        # Only this market's orders: the next window's order is not the runner's to touch.
        assert _status(sc, elsewhere) == "LIVE"
        assert len(sc.exchange.open_orders(sc.owner, market=this.condition_id)) == 6
        await sc.stop_and_wait(ExitReason.OPERATOR)
        assert sc.exchange.open_orders(sc.owner, market=this.condition_id) == []


async def test_startup_without_cancel_all_adopts_buys_by_price_and_converges_to_fewer_levels(autojump_clock):
    levels = 2
    async with scenario(startup_cancel_all=False, ladder_levels=levels, reprice_ticks=5, **QUIET) as sc, \
            trio.open_nursery() as nursery:
        this = _market(sc, EPOCH_S)
        up, down = this.yes_token_id, this.no_token_id
        sc.exchange.ensure_account(sc.signer.address)  # the paper pUSD, then 10 Up shares to sell
        sc.exchange.fund(sc.signer.address, token_id=up, shares_units=10 * UNIT)
        mid, low, high, down_buy, sell = await _place_before_start(sc, [
            (up, Side.BUY, 0.30, 10), (up, Side.BUY, 0.20, 10), (up, Side.BUY, 0.45, 10),
            (down, Side.BUY, 0.44, 10), (up, Side.SELL, 0.90, 5),
        ])
        too_many: list[tuple[float, str, int]] = []

        def never_more_than_the_ladder(record: HttpRecord) -> None:
            if record.method != "POST" or record.path not in ("/orders", "/order"):
                return
            bodies = record.body if isinstance(record.body, list) else [record.body]
            for token in (up, down):
                posting = sum(1 for b in bodies if b["order"]["tokenId"] == token)
                resting = len(sc.exchange.open_orders(sc.owner, asset_id=token))
                if posting and posting + resting > levels:
                    too_many.append((record.t, token, posting + resting))

        sc.http.on_request.append(never_more_than_the_ladder)
        sc.start(nursery)
        runner = await sc.first_runner()
        await trio.sleep(1.0)
        (seeded,) = sc.journal.of("seeded")
        assert seeded["orders"] == {up: [high, mid, low], down: [down_buy]}  # best price first
        assert seeded["unrelated"] == [sell]
        assert _status(sc, sell) == "CANCELED"
        cancels = sc.http.of("DELETE", "/orders")
        first_post = next(r for r in sc.http.records if r.method == "POST" and r.path in ("/order", "/orders"))
        assert cancels[0].body == [sell]
        assert sc.http.records.index(cancels[0]) < sc.http.records.index(first_post)
        # Seeded inventory from the venue's balance (the cost basis marked at the bid).
        assert runner.inventory.up.shares == 10.0
        # Level 0 kept (within reprice_ticks of 0.47), level 1 repriced (0.30 -> 0.46), level 2 cut.
        assert runner.manager.slots[(up, 0)].order_id == high
        assert runner.manager.by_id[mid].state is OrderState.CANCELLED
        assert runner.manager.by_id[low].state is OrderState.CANCELLED
        assert runner.manager.slots[(down, 0)].order_id == down_buy
        assert sorted(float(o["price"]) for o in sc.our_open_orders(up)) == [0.45, 0.46]
        assert sorted(float(o["price"]) for o in sc.our_open_orders(down)) == [0.44, 0.46]
        assert too_many == []
        await trio.sleep(5.0)
        assert too_many == [] and len(sc.our_open_orders(up)) == len(sc.our_open_orders(down)) == levels
        await sc.stop_and_wait(ExitReason.OPERATOR)
        assert sc.our_open_orders() == []


async def test_a_seeding_start_journals_every_fill_of_the_key_from_before_once_and_ignores_its_repeats(autojump_clock):
    # Before the start, one sale fills two BUYs of our key: one in full (no longer open, so not adopted)
    # and one in part (adopted). The seeded life must account for both fills exactly once: journaled as
    # "before the seed", in the inventory through the seeded balance at their own cost, and their late
    # MINED/CONFIRMED sightings over the user stream are repeats.
    async with scenario(startup_cancel_all=False, **QUIET) as sc, trio.open_nursery() as nursery:
        this = _market(sc, EPOCH_S)
        up = this.yes_token_id
        sc.exchange.ensure_account(sc.signer.address)
        full, part = await _place_before_start(sc, [(up, Side.BUY, 0.50, 10), (up, Side.BUY, 0.49, 10)])
        seller = sc.trader("seller")
        seller.give_shares(up, 100)
        seller.market(up, "SELL", amount=15, price=0.49)
        sc.start(nursery)
        runner = await sc.first_runner()
        venue = {(t["id"], leg["order_id"]) for t in sc.exchange.trades(sc.owner)
                 for leg in t["maker_orders"] if leg["owner"] == sc.owner}
        assert {oid for _, oid in venue} == {full, part}
        assert _status(sc, full) == "MATCHED"
        await trio.sleep(1.0)
        (seeded,) = sc.journal.of("seeded")
        assert seeded["orders"][up] == [part]
        fills = sc.journal.of("fill")
        assert {(f["trade_id"], f["order_id"]) for f in fills} == venue
        assert all(f["before_seed"] and f["status"] == "MATCHED" for f in fills)
        # The balance is explained by the two fills at their prices, not marked at the bid.
        assert runner.inventory.up.shares_micro == 15_000_000
        assert runner.inventory.up.cost_micro == 10 * 500_000 + 5 * 490_000
        assert runner.inventory.fills_counted == 0
        # The adopted order's 5 matched shares are held by the seeded balance, not still on their way: the
        # caps count them once.
        assert runner.manager.by_id[part].matched_micro == runner.inventory.held_on(part) == 5_000_000
        assert set(runner.matched_ahead().values()) == {(0, 0)}
        await trio.sleep(30.0)  # the trade is MINED, then CONFIRMED: both re-sent to the seeded life
        assert {t["status"] for t in sc.exchange.trades(sc.owner)} == {"CONFIRMED"}
        assert len(sc.journal.of("fill")) == 2 and runner.inventory.fills_counted == 0
        assert runner.inventory.up.shares_micro == 15_000_000
        assert runner.inventory.held_on(part) == 5_000_000 and set(runner.matched_ahead().values()) == {(0, 0)}
        await sc.stop_and_wait(ExitReason.OPERATOR)
