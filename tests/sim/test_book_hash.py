"""The simulator's direct book hash writes the same bytes as hashing the built summary."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.sim.wire import book_hash, book_hash_of, fmt_units

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
