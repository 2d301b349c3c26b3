"""The simulator's book hashes, written directly and kept level by level, are the hashes of its summaries."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.sim.engine import MarketData, OrderRejected, SimConfig
from bot.sim.wire import book_hash, book_hash_of, fmt_units
from tests.sim.orders import limit, market
from tests.sim.test_matching import CID, NO, YES, make_exchange

levels = st.lists(st.tuples(st.integers(1, 999_999), st.integers(0, 10**12)), max_size=12)
texts = st.text(max_size=12)  # quotes, backslashes, control and non-ASCII characters included


@given(market=texts, asset_id=texts, timestamp=texts, bids=levels, asks=levels, min_order_size=texts,
       tick_size=texts, neg_risk=st.booleans(), last_trade_price=texts)
def test_the_direct_hash_equals_the_hash_of_the_summary(market, asset_id, timestamp, bids, asks, min_order_size,
                                                         tick_size, neg_risk, last_trade_price) -> None:
    fields = {"min_order_size": min_order_size, "tick_size": tick_size, "neg_risk": neg_risk,
              "last_trade_price": last_trade_price}
    summary = {"market": market, "asset_id": asset_id, "timestamp": timestamp, "hash": "",
               "bids": [{"price": fmt_units(p), "size": fmt_units(s)} for p, s in bids],
               "asks": [{"price": fmt_units(p), "size": fmt_units(s)} for p, s in asks], **fields}
    direct = book_hash_of(market=market, asset_id=asset_id, timestamp=timestamp, bids=bids, asks=asks, **fields)
    assert direct == book_hash(summary)


# --- the hashes every book change publishes ---------------------------------------------------------------

ops = st.lists(st.tuples(st.sampled_from(["limit", "cancel", "outside", "fill", "take"]), st.sampled_from(["alice", "bob"]),
                         st.sampled_from([YES, NO]), st.sampled_from(["BUY", "SELL"]), st.integers(1, 99),
                         st.integers(5, 60)), max_size=40)


@given(ops=ops)
def test_every_published_book_hash_is_the_hash_of_the_book_summary_then(ops) -> None:
    # The simulator keeps the hashed level text level by level (bot.sim.book_text): each price_change
    # must carry what a fresh summary of the book says at that moment, whatever changed the book. (No
    # automatic tick change: it comes after the price_change and would move the summary's tick_size.)
    exchange, clock, _events = make_exchange(config=SimConfig(auto_tick_size=False))
    exchange.fund("0xoutside", pusd_units=10**15, token_id=YES, shares_units=10**15)
    exchange.fund("0xoutside", token_id=NO, shares_units=10**15)
    for name in ("alice", "bob"):
        exchange.fund(f"0x{name}", token_id=YES, shares_units=10**12)
        exchange.fund(f"0x{name}", token_id=NO, shares_units=10**12)
    checked = []

    def check(event: object) -> None:
        if isinstance(event, MarketData) and event.payload["event_type"] == "price_change":
            for entry in event.payload["price_changes"]:
                assert entry["hash"] == exchange.book(entry["asset_id"])["hash"]
                checked.append(entry["hash"])

    exchange.subscribe(check)
    for step, (op, owner, token, side, cents, size) in enumerate(ops):
        clock.now += 0.25
        price = f"0.{cents:02d}"
        resting = [o["id"] for o in exchange.open_orders(owner)]
        try:
            if op == "limit":
                exchange.place(limit(owner, token, side, price, size))
            elif op == "cancel" and resting:
                exchange.cancel(owner, [resting[step % len(resting)]])
            elif op == "outside":
                exchange.set_outside_level(CID, "bid" if side == "BUY" else "ask", cents * 10_000,
                                           0 if size < 12 else size * 1_000_000, owner="outside", address="0xoutside")
            elif op == "fill" and resting:
                exchange.fill_resting(resting[step % len(resting)], size * 1_000_000, owner="outside",
                                      address="0xoutside")
            elif op == "take":
                exchange.place(market(owner, token, side, size, price, order_type="FAK"))
        except OrderRejected:
            pass
