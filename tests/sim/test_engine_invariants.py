"""Property tests of the matching engine: whatever sequence of orders and cancels arrives, the book is
never left crossed, reservations equal what open orders hold, the mirrored books stay exact mirrors,
and money is conserved (up to the venue's one-unit rounding per fill)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sim.engine import Exchange, MarketSpec, OrderRejected, SimConfig
from bot.sim.flow import build_market_order, build_order

T0 = 1_700_000_000.0
CID = "0x" + "1a" * 32
YES, NO = "1111", "2222"
OWNERS = ("a", "b", "c")
START_UNITS = 1_000_000_000  # 1,000 pUSD each

op = st.one_of(
    st.tuples(
        st.just("limit"),
        st.sampled_from(OWNERS),
        st.sampled_from((YES, NO)),
        st.sampled_from(("BUY", "SELL")),
        st.integers(1, 99),
        st.integers(500, 5_000),
        st.booleans(),
    ),
    st.tuples(
        st.just("market"),
        st.sampled_from(OWNERS),
        st.sampled_from((YES, NO)),
        st.sampled_from(("BUY", "SELL")),
        st.integers(1, 99),
        st.integers(100, 5_000),
        st.sampled_from(("FOK", "FAK")),
    ),
    st.tuples(st.just("cancel"), st.sampled_from(OWNERS), st.integers(0, 50)),
)


def check_invariants(exchange: Exchange, fills: int) -> None:
    book = exchange._markets[CID].book
    bid, ask = book.best("bid"), book.best("ask")
    assert bid is None or ask is None or bid < ask, "crossed book"
    yes, no = exchange.book(YES), exchange.book(NO)
    mirror = [
        {"price": str(Decimal(1) - Decimal(level["price"])).rstrip("0").rstrip("."), "size": level["size"]}
        for level in yes["asks"]
    ]
    assert no["bids"] == mirror
    total_pusd = pairs = 0
    for owner in OWNERS:
        address = f"0x{owner}"
        open_orders = [o for o in book.orders() if o.owner == owner]
        reserved_pusd = sum(o.reserved_units for o in open_orders if o.is_buy)
        assert exchange.accounts.reserved_pusd(address) == reserved_pusd
        for token in (YES, NO):
            reserved = sum(o.reserved_units for o in open_orders if not o.is_buy and o.token_id == token)
            assert exchange.accounts.reserved_tokens(address, token) == reserved
            assert exchange.accounts.available_tokens(address, token) >= 0
        assert exchange.accounts.available_pusd(address) >= 0
        total_pusd += exchange.accounts.pusd(address)
        pairs += exchange.accounts.tokens(address, YES)
    assert pairs == sum(exchange.accounts.tokens(f"0x{owner}", NO) for owner in OWNERS)
    fees = exchange.statistics()["fees_collected_units"]
    shortfall = len(OWNERS) * START_UNITS - (total_pusd + pairs + fees)
    assert 0 <= shortfall <= fills


@settings(max_examples=150, deadline=None)
@given(st.lists(op, min_size=1, max_size=40), st.sampled_from((0.0, 0.07)))
def test_random_order_flow_keeps_the_engine_consistent(ops, fee_rate):
    exchange = Exchange(clock=lambda: T0, config=SimConfig(paper_balance_pusd=START_UNITS / 1e6), seed=1)
    exchange.add_market(
        MarketSpec(
            condition_id=CID,
            question="q",
            slug="s",
            yes_token_id=YES,
            no_token_id=NO,
            start_ts=T0,
            end_ts=T0 + 900,
            fee_rate=fee_rate,
        )
    )
    for owner in OWNERS:
        exchange.register_api_key(owner, f"0x{owner}")
    placed: list[tuple[str, str]] = []
    for n, item in enumerate(ops):
        kind, owner = item[0], item[1]
        try:
            if kind == "limit":
                _, _, token, side, price, size, post_only = item
                order = build_order(
                    order_id=f"0x{n:064x}",
                    owner=owner,
                    address=f"0x{owner}",
                    token_id=token,
                    side=side,
                    price=Decimal(price) / 100,
                    size=Decimal(size) / 100,
                    post_only=post_only,
                )
                exchange.place(order)
                placed.append((owner, order.order_id))
            elif kind == "market":
                _, _, token, side, price, amount, order_type = item
                exchange.place(
                    build_market_order(
                        order_id=f"0x{n:064x}",
                        owner=owner,
                        address=f"0x{owner}",
                        token_id=token,
                        side=side,
                        amount=Decimal(amount) / 100,
                        price=Decimal(price) / 100,
                        order_type=order_type,
                    )
                )
            elif placed:
                target_owner, order_id = placed[item[2] % len(placed)]
                exchange.cancel(target_owner, [order_id])
        except OrderRejected:
            pass
        check_invariants(exchange, exchange.statistics()["trades"]["trades"] * 10)
