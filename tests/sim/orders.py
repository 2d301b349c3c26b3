"""Order builders shared by the simulator's engine tests: unique ids, `0x{owner}` addresses."""

from __future__ import annotations

from itertools import count
from typing import Any

from bot.sim.flow import build_market_order, build_order

__all__ = ["limit", "market"]

_ids = count(1)


def limit(owner: str, token: str, side: str, price: str, size: float, **kw: Any):
    return build_order(
        order_id=f"0x{next(_ids):064x}",
        owner=owner,
        address=f"0x{owner}",
        token_id=token,
        side=side,
        price=price,
        size=size,
        **kw,
    )


def market(owner: str, token: str, side: str, amount: float, price: str, order_type: str = "FOK"):
    return build_market_order(
        order_id=f"0x{next(_ids):064x}",
        owner=owner,
        address=f"0x{owner}",
        token_id=token,
        side=side,
        amount=amount,
        price=price,
        order_type=order_type,
    )
