"""User-channel messages (spec 6.3): our order events and trades, typed and frozen, money in integers.

Sizes, prices and matched amounts are integer micro-units (10⁻⁶ shares or pUSD; a price is pUSD per
share × 10⁶), parsed exactly from the wire's decimal strings; empty strings (`size_matched: ""` on a
killed FOK) are zero. `parse_user_frame` never raises: bad frames and events are counted and skipped.
REST `/data/trades` items parse to the same `TradeEvent`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from bot.protocol.constants import Side
from bot.protocol.wire import (
    _ORDER_EVENT_TYPES,
    _PARSE_ERRORS,
    _TRADE_STATUSES,
    _TRADER_SIDES,
    MALFORMED_INVALID_EVENT,
    MALFORMED_SHAPE,
    MALFORMED_UNKNOWN_EVENT,
    MalformedMessage,
    OrderEventType,
    OrderStatus,
    ParseStats,
    TraderSide,
    TradeStatus,
    _checked,
    _decode_frame,
    _int,
    _micro,
    _opt_side,
    _opt_str,
    _price_micro,
    _side,
    _str,
    _str_tuple,
    _time_ms,
    parse_order_status,
)

__all__ = [
    "MakerOrderFill",
    "OrderEvent",
    "Trade",
    "TradeEvent",
    "UserEvent",
    "maker_fill_side",
    "parse_order_event",
    "parse_trade",
    "parse_user_event",
    "parse_user_frame",
]


# --- user channel (spec 6.3) and the REST Trade / OpenOrder (spec 1.2) ------------------------------------


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """A user-channel order event: PLACEMENT (resting), UPDATE (matched some), CANCELLATION (spec 6.3).

    `status` and `status_reason` come from the `<STATUS>[_<reason>]` string (longest known prefix). Amounts are
    shares × 10⁶ (integers); `size_matched` "" reads as 0.
    """

    type: OrderEventType
    id: str
    owner: str
    market: str
    asset_id: str
    side: Side
    price_micro: int
    original_size_micro: int
    size_matched_micro: int
    status: OrderStatus
    status_reason: str
    order_type: str
    expiration_s: int
    associate_trades: tuple[str, ...]
    outcome: str
    maker_address: str
    created_at_ms: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class MakerOrderFill:
    """One resting order a trade matched. It may be on the complementary token at the complementary price.

    `side` is None when the venue omits it (older captures); see `maker_fill_side`.
    """

    order_id: str
    owner: str
    maker_address: str
    matched_amount_micro: int
    price_micro: int
    asset_id: str
    outcome: str
    side: Side | None
    fee_rate_bps: str = ""


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """A trade (user-channel `trade` event or a REST `/data/trades` item); re-sent on each status change.

    The top-level asset_id/side/price/size describe the taker order even when the owner was a maker
    (`trader_side` MAKER): a maker finds its own fills in `maker_orders` (spec 6.3).
    """

    id: str
    taker_order_id: str
    market: str
    asset_id: str
    side: Side
    size_micro: int
    price_micro: int
    status: TradeStatus
    match_time_ms: int
    last_update_ms: int
    timestamp_ms: int
    trader_side: TraderSide | None
    owner: str
    maker_address: str
    outcome: str
    bucket_index: int
    fee_rate_bps: str
    transaction_hash: str
    maker_orders: tuple[MakerOrderFill, ...]
    err_msg: str = ""


Trade = TradeEvent
"""A REST `/data/trades` item: the same type as the user-channel trade event."""

UserEvent: TypeAlias = OrderEvent | TradeEvent


def maker_fill_side(trade: TradeEvent, fill: MakerOrderFill) -> Side:
    """The side of a maker fill: as sent, or inferred when the venue omitted it.

    Inference (spec 6.3, 9): on the taker's own token the maker took the other side; on the complementary
    token (a mint or a merge) the maker took the same side as the taker.
    """
    if fill.side is not None:
        return fill.side
    if fill.asset_id == trade.asset_id:
        return Side.SELL if trade.side is Side.BUY else Side.BUY
    return trade.side


def _order_event(d: Mapping[str, Any]) -> OrderEvent:
    kind = _ORDER_EVENT_TYPES.get(d.get("type"))  # type: ignore[arg-type]
    if kind is None:
        raise MalformedMessage(f"order event type {d.get('type')!r}")
    status, reason = parse_order_status(d["status"])
    return OrderEvent(
        type=kind,
        id=_str(d, "id"),
        owner=_opt_str(d, "owner"),
        market=_opt_str(d, "market"),
        asset_id=_str(d, "asset_id"),
        side=_side(d["side"]),
        price_micro=_price_micro(d["price"]),
        original_size_micro=_micro(d.get("original_size")),
        size_matched_micro=_micro(d.get("size_matched")),
        status=status,
        status_reason=reason,
        order_type=_opt_str(d, "order_type"),
        expiration_s=_int(d.get("expiration")),
        associate_trades=_str_tuple(d.get("associate_trades")),
        outcome=_opt_str(d, "outcome"),
        maker_address=_opt_str(d, "maker_address"),
        created_at_ms=_time_ms(d.get("created_at")),
        timestamp_ms=_time_ms(d.get("timestamp")),
    )


def _maker_fill(m: Mapping[str, Any]) -> MakerOrderFill:
    fee = m.get("fee_rate_bps")
    return MakerOrderFill(
        order_id=_str(m, "order_id"),
        owner=_opt_str(m, "owner"),
        maker_address=_opt_str(m, "maker_address"),
        matched_amount_micro=_micro(m["matched_amount"], empty_is_zero=False),
        price_micro=_price_micro(m["price"]),
        asset_id=_str(m, "asset_id"),
        outcome=_opt_str(m, "outcome"),
        side=_opt_side(m.get("side")),
        fee_rate_bps="" if fee is None else str(fee),
    )


def _trade(d: Mapping[str, Any]) -> TradeEvent:
    status = _TRADE_STATUSES.get(d.get("status"))  # type: ignore[arg-type]
    if status is None:
        raise MalformedMessage(f"trade status {d.get('status')!r}")
    raw_trader_side = d.get("trader_side")
    trader_side = None if raw_trader_side in (None, "") else _TRADER_SIDES[raw_trader_side]
    makers = d.get("maker_orders") or []
    if type(makers) is not list:
        raise MalformedMessage("maker_orders is not a list")
    fee = d.get("fee_rate_bps")
    match_time = d.get("match_time")
    if match_time is None:
        match_time = d.get("matchtime")  # the old docs' spelling (spec 6.3)
    return TradeEvent(
        id=_str(d, "id"),
        taker_order_id=_opt_str(d, "taker_order_id"),
        market=_opt_str(d, "market"),
        asset_id=_str(d, "asset_id"),
        side=_side(d["side"]),
        size_micro=_micro(d["size"], empty_is_zero=False),
        price_micro=_price_micro(d["price"]),
        status=status,
        match_time_ms=_time_ms(match_time),
        last_update_ms=_time_ms(d.get("last_update")),
        timestamp_ms=_time_ms(d.get("timestamp")),
        trader_side=trader_side,
        owner=_opt_str(d, "owner"),
        maker_address=_opt_str(d, "maker_address"),
        outcome=_opt_str(d, "outcome"),
        bucket_index=_int(d.get("bucket_index")),
        fee_rate_bps="" if fee is None else str(fee),
        transaction_hash=_opt_str(d, "transaction_hash"),
        maker_orders=tuple(_maker_fill(m) for m in makers),
        err_msg=_opt_str(d, "err_msg"),
    )


def _user_kind(d: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], UserEvent] | None:
    """Which parser an event needs: by `event_type`, else by `type`, else by the fields it carries."""
    event_type = d.get("event_type")
    if event_type == "order":
        return _order_event
    if event_type == "trade":
        return _trade
    if event_type is not None:
        return None
    # No event_type: an order UPDATE carrying only `type`, or a trade record shaped like GET /data/trades.
    kind = d.get("type")
    if type(kind) is str and kind in _ORDER_EVENT_TYPES:
        return _order_event
    if kind == "TRADE" or (kind is None and ("taker_order_id" in d or "maker_orders" in d)):
        return _trade
    return None


def parse_order_event(d: Mapping[str, Any]) -> OrderEvent:
    """A user-channel `order` event → `OrderEvent`. Raises `MalformedMessage`."""
    return _checked("order", _order_event, d)


def parse_trade(d: Mapping[str, Any]) -> TradeEvent:
    """A user-channel `trade` event or a REST `/data/trades` item → `TradeEvent`. Raises `MalformedMessage`."""
    return _checked("trade", _trade, d)


def parse_user_event(d: Mapping[str, Any]) -> UserEvent:
    """Any user-channel event; the kind comes from `event_type`, else `type`, else its fields."""
    if not isinstance(d, Mapping):
        raise MalformedMessage(f"user event: expected a JSON object, got {type(d).__name__}")
    parser = _user_kind(d)
    if parser is None:
        raise MalformedMessage(f"unknown user event (event_type={d.get('event_type')!r}, type={d.get('type')!r})")
    return _checked("user event", parser, d)


def parse_user_frame(raw: bytes | str, stats: ParseStats) -> list[UserEvent]:
    """The user events in one WebSocket frame; bad frames and events are counted in `stats` and skipped.

    Never raises for any input of type str or bytes. Events without `event_type` are recognised by `type`
    or by their fields (see `parse_user_event`).
    """
    items = _decode_frame(raw, stats)
    if not items:
        return []
    out: list[UserEvent] = []
    for item in items:
        if type(item) is not dict:
            stats.count_malformed(MALFORMED_SHAPE, f"array item {type(item).__name__}")
            continue
        parser = _user_kind(item)
        if parser is None:
            stats.count_malformed(MALFORMED_UNKNOWN_EVENT, f"event_type={item.get('event_type')!r}")
            continue
        try:
            out.append(parser(item))
        except _PARSE_ERRORS as exc:
            stats.count_malformed(MALFORMED_INVALID_EVENT, f"{type(exc).__name__}: {exc}")
    stats.events += len(out)
    return out
