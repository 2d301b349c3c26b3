"""The Trio driver: virtual time drives the exchange, the flows and the series; exact virtual times for
heartbeat expiry, GTD expiry and market end; a whole synthetic window replays on the autojump clock."""

from __future__ import annotations

from typing import Any

import trio

from bot.sim.engine import MarketSpec, SimConfig, UserData
from bot.sim.flow import FlowParams, SeriesSchedule, build_order
from bot.sim.venue import SimVenue

WINDOW_START = 1_700_000_100  # a multiple of 900
CID = "0x" + "5e" * 32
YES, NO = "1111", "2222"


def quiet_market(start: float, end: float) -> MarketSpec:
    return MarketSpec(
        condition_id=CID,
        question="q",
        slug="s",
        yes_token_id=YES,
        no_token_id=NO,
        start_ts=start,
        end_ts=end,
        fee_rate=0.0,
    )


class Recorder:
    """Stamps every user event with the venue's clock when it is delivered; keeps market events too."""

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.received_by: list[str] = []  # the API key each user event was delivered to
        self.market: list[tuple[float, dict[str, Any]]] = []
        venue.exchange.subscribe(self)

    def __call__(self, event: Any) -> None:
        if isinstance(event, UserData):
            self.events.append((self.venue.now(), event.payload))
            self.received_by.append(event.owner)
        else:
            self.market.append((self.venue.now(), event.payload))

    def trades(self, owner: str) -> list[dict[str, Any]]:
        """Trade events delivered to `owner`. Not by the payload's `owner`: a maker's view carries the
        taker's there (ws/user_trade1.json, issue 15 §6)."""
        return [
            p
            for (_t, p), to in zip(self.events, self.received_by, strict=True)
            if to == owner and p["event_type"] == "trade"
        ]

    def orders(self, owner: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, p) for t, p in self.events if p["event_type"] == "order" and p["owner"] == owner]


def order(owner: str, n: int, token: str, price: str, **kw: Any):
    return build_order(
        order_id=f"0x{n:064x}",
        owner=owner,
        address=f"0x{owner}",
        token_id=token,
        side="BUY",
        price=price,
        size=10,
        **kw,
    )


async def test_heartbeat_lapse_cancels_at_the_sweep_after_the_timeout(autojump_clock):
    venue = SimVenue(
        clock_epoch_s=WINDOW_START - trio.current_time(),
        config=SimConfig(),
        seed=1,
        with_flow=False,
        markets=[quiet_market(WINDOW_START, WINDOW_START + 900)],
    )
    recorder = Recorder(venue)
    async with trio.open_nursery() as nursery:
        await nursery.start(venue.run)
        exchange = venue.exchange
        exchange.register_api_key("me", "0xme")
        exchange.place(order("me", 1, YES, "0.40"))
        await trio.sleep(2.5)
        beat = exchange.heartbeat("me", "")
        await trio.sleep(4)
        exchange.heartbeat("me", beat)  # last good beat at +6.5 s; sweeps every 5 s from the start
        await trio.sleep(60)
        nursery.cancel_scope.cancel()
    ((cancelled_at, cancellation),) = [
        (t, p) for t, p in recorder.orders("me") if p["type"] == "CANCELLATION"
    ]
    assert cancelled_at == WINDOW_START + 20  # +16.5 is 10 s after the beat; the next sweep is +20
    assert cancellation["status"] == "CANCELED" and cancellation["timestamp"] == str(
        (WINDOW_START + 20) * 1000
    )


async def test_gtd_boundary_and_expiry_on_the_driver_clock(autojump_clock):
    venue = SimVenue(
        clock_epoch_s=WINDOW_START - trio.current_time(),
        seed=1,
        with_flow=False,
        markets=[quiet_market(WINDOW_START, WINDOW_START + 900)],
    )
    recorder = Recorder(venue)
    async with trio.open_nursery() as nursery:
        await nursery.start(venue.run)
        exchange = venue.exchange
        exchange.register_api_key("me", "0xme")
        await trio.sleep(10)
        now = int(venue.now())
        try:
            exchange.place(order("me", 1, YES, "0.40", order_type="GTD", expiration=now + 60))
            raise AssertionError("expiration = now + 60 must be rejected")
        except Exception as exc:
            assert getattr(exc, "message", None) == "invalid expiration"
        exchange.place(order("me", 2, YES, "0.40", order_type="GTD", expiration=now + 75))
        await trio.sleep(60)
        nursery.cancel_scope.cancel()
    ((expired_at, payload),) = [(t, p) for t, p in recorder.orders("me") if p["type"] == "CANCELLATION"]
    assert expired_at == now + 15 and payload["status"] == "CANCELED"


async def test_market_end_cancels_resting_orders_at_the_end_time(autojump_clock):
    venue = SimVenue(
        clock_epoch_s=WINDOW_START - trio.current_time(),
        seed=1,
        with_flow=False,
        markets=[quiet_market(WINDOW_START, WINDOW_START + 30)],
    )
    recorder = Recorder(venue)
    async with trio.open_nursery() as nursery:
        await nursery.start(venue.run)
        venue.exchange.register_api_key("me", "0xme")
        venue.exchange.place(order("me", 1, NO, "0.40"))
        await trio.sleep(31)
        nursery.cancel_scope.cancel()
    ((ended_at, payload),) = [(t, p) for t, p in recorder.orders("me") if p["type"] == "CANCELLATION"]
    assert (ended_at, payload["status"]) == (WINDOW_START + 30, "CANCELED_MARKET_RESOLVED")


async def test_one_synthetic_window_replays_fills_both_sides_and_rolls_over(autojump_clock):
    series = SeriesSchedule(asset="btc", window_s=900, list_ahead_s=60, seed=4)
    venue = SimVenue(
        clock_epoch_s=WINDOW_START - 1 - trio.current_time(),
        config=SimConfig(),
        series=[series],
        seed=4,
        flow=FlowParams(),
    )
    recorder = Recorder(venue)
    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        assert await nursery.start(venue.run) is venue
        exchange = venue.exchange
        spec = series.spec_for(WINDOW_START)
        assert exchange.market_by_condition(spec.condition_id) is not None  # listed before its window
        exchange.register_api_key("me", "0xme")
        await trio.sleep(1)
        n = 0
        while venue.now() < spec.end_ts - 60:
            # Keep one post-only BUY at the best bid of each token, like a one-level ladder.
            for token in (spec.yes_token_id, spec.no_token_id):
                bids = exchange.book(token)["bids"]
                if bids and not exchange.open_orders("me", asset_id=token):
                    n += 1
                    exchange.place(order("me", n, token, bids[-1]["price"], post_only=True))
            await trio.sleep(1)
        await trio.sleep(spec.end_ts - venue.now() + 1)
        following = series.spec_for(WINDOW_START + 900)
        assert exchange.market_by_condition(following.condition_id) is not None
        assert (
            venue.flow_for(spec.condition_id) is None and venue.flow_for(following.condition_id) is not None
        )
        nursery.cancel_scope.cancel()
    assert trio.current_time() - started == WINDOW_START + 901 - (WINDOW_START - 1)
    fills = [
        m
        for p in recorder.trades("me")
        if p["status"] == "MATCHED"
        for m in p["maker_orders"]
        if m["owner"] == "me"
    ]
    assert {m["asset_id"] for m in fills} == {spec.yes_token_id, spec.no_token_id}
    ours = recorder.trades("me")
    assert {p["id"] for p in ours if p["status"] == "CONFIRMED"} == {p["id"] for p in ours}
    resolved = [p for _t, p in recorder.orders("me") if p["status"] == "CANCELED_MARKET_RESOLVED"]
    assert len(resolved) <= 2
    ((resolved_at, announcement),) = [
        (t, p)
        for t, p in recorder.market
        if p["event_type"] == "market_resolved" and p["market"] == spec.condition_id
    ]
    assert resolved_at == spec.end_ts
    assert announcement["winning_asset_id"] in (spec.yes_token_id, spec.no_token_id)
