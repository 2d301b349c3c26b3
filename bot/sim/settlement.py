"""Settlement of planned fills: balances, reservations and order sizes move together.

Spec 9: fees are charged to the taker only (a BUY pays them on top, a SELL has them deducted);
open BUYs reserve pUSD and open SELLs reserve shares. Each balance movement is recorded as a
`BalanceDelta` so that a FAILED trade can be reversed exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.sim.accounts import Accounts
from bot.sim.book import Fill, SimOrder
from bot.sim.trades import BalanceDelta, MakerFillRecord

__all__ = ["Settled", "apply_delta", "release", "reserve", "settle_fills"]


def reserve(accounts: Accounts, order: SimOrder) -> None:
    """Reserve what the order may spend: its whole makerAmount (pUSD for a BUY, shares for a SELL)."""
    order.reserved_units = order.maker_amount
    if order.is_buy:
        accounts.reserve_pusd(order.maker_address, order.reserved_units)
    else:
        accounts.reserve_tokens(order.maker_address, order.token_id, order.reserved_units)


def release(accounts: Accounts, order: SimOrder, units: int | None = None) -> None:
    """Release `units` of the order's reservation (all of it when None)."""
    units = order.reserved_units if units is None else min(units, order.reserved_units)
    order.reserved_units -= units
    if order.is_buy:
        accounts.release_pusd(order.maker_address, units)
    else:
        accounts.release_tokens(order.maker_address, order.token_id, units)


def apply_delta(accounts: Accounts, delta: BalanceDelta, *, sign: int = 1) -> None:
    """Apply a recorded movement (`sign=-1` reverses it)."""
    if delta.pusd_units:
        accounts.credit_pusd(delta.address, sign * delta.pusd_units)
    if delta.token_id is not None and delta.token_units:
        accounts.credit_tokens(delta.address, delta.token_id, sign * delta.token_units)


@dataclass
class Settled:
    """What settling one taker's fills did."""

    deltas: list[BalanceDelta] = field(default_factory=list)
    maker_fills: list[MakerFillRecord] = field(default_factory=list)
    makers: list[SimOrder] = field(default_factory=list)  # distinct, in fill order
    fee_units: int = 0
    notional_units: int = 0
    shares_units: int = 0


def _spend(accounts: Accounts, order: SimOrder, notional: int, shares: int) -> tuple[int, int]:
    """Take a fill off the order's budget and reservation; (pUSD delta, shares delta) before fees."""
    if order.is_buy:
        release(accounts, order, notional)
        order.budget_units -= notional
        return -notional, shares
    release(accounts, order, shares)
    order.budget_units -= shares
    return notional, -shares


def settle_fills(
    accounts: Accounts,
    taker: SimOrder,
    fills: list[Fill],
    trade_id: str,
    fee_units: Callable[[int, int], int],
) -> Settled:
    """Move balances for every fill and update both orders; `fee_units(shares, taker_price)`."""
    settled = Settled()
    for fill in fills:
        maker = fill.maker
        fee = fee_units(fill.shares, fill.taker_price)
        taker_pusd, taker_shares = _spend(accounts, taker, fill.taker_notional, fill.shares)
        maker_pusd, maker_shares = _spend(accounts, maker, fill.maker_notional, fill.shares)
        for delta in (
            BalanceDelta(taker.maker_address, taker_pusd - fee, taker.token_id, taker_shares),
            BalanceDelta(maker.maker_address, maker_pusd, maker.token_id, maker_shares),
        ):
            apply_delta(accounts, delta)
            settled.deltas.append(delta)
        maker.matched_shares += fill.shares
        if trade_id not in maker.trade_ids:
            maker.trade_ids.append(trade_id)
        if maker not in settled.makers:
            settled.makers.append(maker)
        settled.maker_fills.append(
            MakerFillRecord(
                order_id=maker.order_id,
                owner=maker.owner,
                maker_address=maker.maker_address,
                matched_units=fill.shares,
                price_units=fill.maker_price,
                asset_id=maker.token_id,
                outcome=maker.outcome,
                side=maker.side,
            )
        )
        settled.fee_units += fee
        settled.notional_units += fill.taker_notional
        settled.shares_units += fill.shares
    taker.matched_shares += settled.shares_units
    taker.trade_ids.append(trade_id)
    return settled
