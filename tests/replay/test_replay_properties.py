"""Properties of the replayed market over generated recordings (one market, the bid side of the Yes
token, where our resting BUY orders sit)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.replay.frames import rows_from_payload
from bot.replay.matcher import BID, ReplayBook
from bot.replay.queue import queue_model
from bot.replay.reader import KIND_PRICE_CHANGE, KIND_TRADE, Event
from bot.replay.venue import ReplayDriver
from bot.sim.engine import Exchange
from bot.sim.model import MarketSpec, SimConfig
from bot.sim.wire import UNIT
from tests.replay.builders import MARKET, NO, YES
from tests.sim.orders import limit

PRICES = [p * 10_000 for p in range(45, 49)]  # 0.45 .. 0.48 in 1e6 units: few levels, so events meet our orders

depth_op = st.tuples(st.just("depth"), st.sampled_from(PRICES), st.integers(0, 300).map(lambda s: s * UNIT))
trade_op = st.tuples(st.just("trade"), st.sampled_from(PRICES), st.integers(1, 120).map(lambda s: s * UNIT))
streams = st.lists(st.one_of(depth_op, trade_op), min_size=1, max_size=60)
our_orders = st.lists(st.tuples(st.sampled_from(PRICES), st.integers(1, 50).map(lambda s: s * UNIT)),
                      min_size=1, max_size=4, unique_by=lambda o: o[0])


def _event(i: int, op: tuple[str, int, int]) -> Event:
    kind, price, size = op
    if kind == "depth":
        return Event(i, KIND_PRICE_CHANGE, MARKET, YES, price, size, "BUY", None, None, None, None, None, None)
    return Event(i, KIND_TRADE, MARKET, YES, price, size, "SELL", None, None, None, None, None, f"tx{i}")


def _replay(ops, orders, *, queue: str = "conservative", arrive_at: int = 0):
    """Our total fills per order; orders arrive before event `arrive_at`."""
    book = ReplayBook(YES, NO, queue_model(queue))
    filled = {f"o{k}": 0 for k in range(len(orders))}
    fill_prices: list[tuple[int, int]] = []  # (event index, price)
    for i, op in enumerate(ops):
        if i == arrive_at:
            for k, (price, size) in enumerate(orders):
                book.add_order(f"o{k}", BID, price, size)
        for fill in book.apply(_event(i, op)):
            filled[fill.order_id] += fill.shares
            fill_prices.append((i, fill.yes_price))
    return filled, fill_prices


@settings(deadline=None)
@given(streams, our_orders)
def test_no_fill_at_a_price_the_market_never_traded_at_or_through(ops, orders) -> None:
    for queue in ("conservative", "probabilistic"):
        _, fills = _replay(ops, orders, queue=queue)
        for index, price in fills:
            kind, traded_at, _ = ops[index]
            assert kind == "trade" and traded_at <= price  # a SELL taker at or below our bid


@settings(deadline=None)
@given(streams, our_orders)
def test_the_conservative_queue_never_fills_more_than_the_probabilistic_one(ops, orders) -> None:
    conservative, _ = _replay(ops, orders, queue="conservative")
    probabilistic, _ = _replay(ops, orders, queue="probabilistic")
    assert sum(conservative.values()) <= sum(probabilistic.values())
    for order_id in conservative:
        assert conservative[order_id] <= probabilistic[order_id]


@settings(deadline=None)
@given(streams, our_orders, st.integers(1, 10))
def test_zero_latency_never_fills_less_than_positive_latency(ops, orders, delay_events) -> None:
    for queue in ("conservative", "probabilistic"):
        at_once, _ = _replay(ops, orders, queue=queue)
        late, _ = _replay(ops, orders, queue=queue, arrive_at=delay_events)
        assert sum(at_once.values()) >= sum(late.values())


others_levels = st.dictionaries(st.sampled_from(PRICES), st.integers(1, 300), max_size=6)


@settings(max_examples=40, deadline=None)
@given(others_levels, st.dictionaries(st.sampled_from(PRICES), st.integers(5, 40), min_size=1, max_size=3))
def test_our_orders_never_appear_twice_in_the_replayed_book(others, ours) -> None:
    """Recorded while trading (our size taken out), replayed with our orders placed again: every level
    shows the others' size plus ours, once."""
    venue_levels = {p: others.get(p, 0) + ours.get(p, 0) for p in set(others) | set(ours)}
    payload = {"event_type": "book", "asset_id": YES, "market": MARKET, "timestamp": "1",
               "bids": [{"price": str(p / UNIT), "size": str(s)} for p, s in sorted(venue_levels.items())],
               "asks": [{"price": "0.9", "size": "10"}]}
    own = {(YES, "BUY", p): s * UNIT for p, s in ours.items()}
    rows = rows_from_payload(payload, 1, own=own)
    assert len(rows) == 1
    event = Event(1, 0, MARKET, YES, None, None, None, rows[0]["bids"], rows[0]["asks"], None, None, None, None)
    exchange = Exchange(clock=lambda: 100.0, config=SimConfig(auto_tick_size=False))
    spec = MarketSpec(condition_id=MARKET, question="q", slug="s", yes_token_id=YES, no_token_id=NO,
                      start_ts=0.0, end_ts=1000.0)
    exchange.add_market(spec)
    exchange.register_api_key("us", "0xus")
    exchange.fund("0xus", pusd_units=100_000 * UNIT)
    driver = ReplayDriver(exchange, spec, [event], ReplayBook(YES, NO, queue_model("conservative")), 0.0)
    with exchange.batch():
        driver.apply(event)
    for price, size in ours.items():
        exchange.place(limit("us", YES, "BUY", f"{price / UNIT:.2f}", size, post_only=True))
    shown = {round(float(level["price"]) * UNIT): float(level["size"]) for level in exchange.book(YES)["bids"]}
    assert shown == {p: float(s) for p, s in venue_levels.items()}
    # And our own orders queue behind exactly the others' recorded size.
    for order in driver.book.ours.values():
        assert order.spot.ahead == others.get(order.yes_price, 0) * UNIT
