"""REST response shapes (spec 1.1, 1.2, 5.4): open orders, order and cancel answers, market metadata.

Order sizes and amounts are integer micro-units (10⁻⁶), parsed exactly; a tick size and minimum order
size of `MarketInfo` stay exact `Decimal`s (metadata for the operator and `doctor`, not engine money).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from bot.protocol.constants import Side
from bot.protocol.money import micro_text
from bot.protocol.wire import (
    MalformedMessage,
    OrderStatus,
    _checked,
    _int,
    _micro,
    _opt_bool,
    _opt_price,
    _opt_str,
    _price,
    _price_micro,
    _side,
    _size,
    _str,
    _str_tuple,
    _time_ms,
    parse_order_status,
)

__all__ = [
    "CancelResponse",
    "MarketInfo",
    "MarketToken",
    "OpenOrder",
    "PostOrderResponse",
    "PublicTrade",
    "parse_cancel_response",
    "parse_market",
    "parse_open_order",
    "parse_post_response",
    "parse_post_responses",
    "parse_public_trade",
]


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order as REST returns it (`/data/orders` items, `/data/order/{id}`; spec 1.2). Amounts in shares × 10⁶."""

    id: str
    status: OrderStatus
    status_reason: str
    owner: str
    maker_address: str
    market: str
    asset_id: str
    side: Side
    original_size_micro: int
    size_matched_micro: int
    price_micro: int
    outcome: str
    expiration_s: int
    order_type: str
    associate_trades: tuple[str, ...]
    created_at_ms: int


def _open_order(d: Mapping[str, Any]) -> OpenOrder:
    status, reason = parse_order_status(d["status"])
    return OpenOrder(
        id=_str(d, "id"),
        status=status,
        status_reason=reason,
        owner=_opt_str(d, "owner"),
        maker_address=_opt_str(d, "maker_address"),
        market=_opt_str(d, "market"),
        asset_id=_str(d, "asset_id"),
        side=_side(d["side"]),
        original_size_micro=_micro(d.get("original_size")),
        size_matched_micro=_micro(d.get("size_matched")),
        price_micro=_price_micro(d["price"]),
        outcome=_opt_str(d, "outcome"),
        expiration_s=_int(d.get("expiration")),
        order_type=_opt_str(d, "order_type"),
        associate_trades=_str_tuple(d.get("associate_trades")),
        created_at_ms=_time_ms(d.get("created_at")),
    )


# --- REST responses (spec 5.4) and market metadata ---------------------------------------------------------

# `status` values of an accepted placement. source: spec 5.4 ("status in {live, matched, delayed}")
_ACCEPTED_INSERT_STATUSES: Final = frozenset({"live", "matched", "delayed"})


@dataclass(frozen=True, slots=True)
class PostOrderResponse:
    """One `SendOrderResponse` (POST /order, or one leg of POST /orders). `status` is lower-cased, "" if absent.

    Amounts are integer micro-units ("" → 0). A batch leg can say `success: true` and still carry an error, so use
    `accepted`, not `success`.
    """

    success: bool
    order_id: str
    status: str
    making_amount_micro: int
    taking_amount_micro: int
    trade_ids: tuple[str, ...]
    transactions_hashes: tuple[str, ...]
    error_msg: str

    @property
    def accepted(self) -> bool:
        """The order is on the venue: success, an order id, no error, and (when sent) an accepting status.

        source: spec 5.4, authoritative success test; a body without `status` is judged on the rest.
        """
        return (
            self.success
            and self.order_id != ""
            and self.error_msg == ""
            and (self.status == "" or self.status in _ACCEPTED_INSERT_STATUSES)
        )


def _post_response(d: Mapping[str, Any]) -> PostOrderResponse:
    if not isinstance(d, Mapping):
        raise MalformedMessage("order response is not an object")
    success = d.get("success", False)
    if type(success) is not bool:
        raise MalformedMessage("success is not a boolean")
    return PostOrderResponse(
        success=success,
        order_id=_opt_str(d, "orderID"),
        status=_opt_str(d, "status").lower(),
        making_amount_micro=_micro(d.get("makingAmount")),
        taking_amount_micro=_micro(d.get("takingAmount")),
        trade_ids=_str_tuple(d.get("tradeIDs")),
        transactions_hashes=_str_tuple(d.get("transactionsHashes")),
        error_msg=_opt_str(d, "errorMsg"),
    )


@dataclass(frozen=True, slots=True)
class CancelResponse:
    """Result of any cancel endpoint: ids cancelled, and id → reason for those that were not (spec 5.4)."""

    canceled: tuple[str, ...]
    not_canceled: dict[str, str] = field(default_factory=dict)


def _cancel_response(d: Mapping[str, Any]) -> CancelResponse:
    if not isinstance(d, Mapping):
        raise MalformedMessage("cancel response is not an object")
    raw_not = d.get("not_canceled") or {}
    if not isinstance(raw_not, Mapping):
        raise MalformedMessage("not_canceled is not an object")
    not_canceled = {}
    for order_id, reason in raw_not.items():
        if type(order_id) is not str:
            raise MalformedMessage("not_canceled key is not a string")
        not_canceled[order_id] = "" if reason is None else str(reason)
    return CancelResponse(canceled=_str_tuple(d.get("canceled")), not_canceled=not_canceled)


@dataclass(frozen=True, slots=True)
class MarketToken:
    """One outcome token of a market (`tokens[]` of GET /markets/{condition_id})."""

    token_id: str
    outcome: str
    price: float | None
    winner: bool


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """The parts of GET /markets/{condition_id} a market maker needs (spec 1.1). Tick and size are exact."""

    condition_id: str
    question_id: str
    question: str
    market_slug: str
    tokens: tuple[MarketToken, ...]
    minimum_tick_size: Decimal
    minimum_order_size: Decimal
    neg_risk: bool
    active: bool
    closed: bool
    accepting_orders: bool
    enable_order_book: bool
    end_date_iso: str
    seconds_delay: int


def _flag(d: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = _opt_bool(d.get(key))
    return default if value is None else value


def _market(d: Mapping[str, Any]) -> MarketInfo:
    raw_tokens = d.get("tokens") or []
    if type(raw_tokens) is not list:
        raise MalformedMessage("tokens is not a list")
    tokens = tuple(
        MarketToken(
            token_id=_str(t, "token_id"),
            outcome=_opt_str(t, "outcome"),
            price=_opt_price(t.get("price")),
            winner=_flag(t, "winner"),
        )
        for t in raw_tokens
    )
    tick = _micro(d["minimum_tick_size"], empty_is_zero=False)
    if tick == 0:
        raise MalformedMessage("minimum_tick_size is zero")
    return MarketInfo(
        condition_id=_str(d, "condition_id"),
        question_id=_opt_str(d, "question_id"),
        question=_opt_str(d, "question"),
        market_slug=_opt_str(d, "market_slug"),
        tokens=tokens,
        minimum_tick_size=Decimal(micro_text(tick)),
        minimum_order_size=Decimal(micro_text(_micro(d.get("minimum_order_size")))),
        neg_risk=_flag(d, "neg_risk"),
        active=_flag(d, "active"),
        closed=_flag(d, "closed"),
        accepting_orders=_flag(d, "accepting_orders"),
        enable_order_book=_flag(d, "enable_order_book"),
        end_date_iso=_opt_str(d, "end_date_iso"),
        seconds_delay=_int(d.get("seconds_delay")),
    )


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """A public trade from the Data API trades list (camelCase, numeric values; not our account's trades)."""

    proxy_wallet: str
    side: Side
    asset_id: str
    condition_id: str
    size: float
    price: float
    timestamp_ms: int
    outcome: str
    outcome_index: int
    transaction_hash: str


def _public_trade(d: Mapping[str, Any]) -> PublicTrade:
    return PublicTrade(
        proxy_wallet=_opt_str(d, "proxyWallet"),
        side=_side(d["side"]),
        asset_id=_str(d, "asset"),
        condition_id=_opt_str(d, "conditionId"),
        size=_size(d["size"]),
        price=_price(d["price"]),
        timestamp_ms=_time_ms(d.get("timestamp")),
        outcome=_opt_str(d, "outcome"),
        outcome_index=_int(d.get("outcomeIndex")),
        transaction_hash=_opt_str(d, "transactionHash"),
    )


def parse_open_order(d: Mapping[str, Any]) -> OpenOrder:
    """A REST open order → `OpenOrder`. Raises `MalformedMessage`."""
    return _checked("open order", _open_order, d)


def parse_post_response(d: Mapping[str, Any]) -> PostOrderResponse:
    """A POST /order body (or one POST /orders leg) → `PostOrderResponse`. Raises `MalformedMessage`."""
    return _checked("order response", _post_response, d)


def parse_post_responses(items: Sequence[Mapping[str, Any]]) -> tuple[PostOrderResponse, ...]:
    """A POST /orders body (a JSON array, one leg per submitted order, in order). Raises `MalformedMessage`."""
    if not isinstance(items, list | tuple):
        raise MalformedMessage("batch order response is not an array")
    return tuple(parse_post_response(item) for item in items)


def parse_cancel_response(d: Mapping[str, Any]) -> CancelResponse:
    """A body of any cancel endpoint → `CancelResponse`. Raises `MalformedMessage`."""
    return _checked("cancel response", _cancel_response, d)


def parse_market(d: Mapping[str, Any]) -> MarketInfo:
    """A GET /markets/{condition_id} body → `MarketInfo`. Raises `MalformedMessage`."""
    return _checked("market", _market, d)


def parse_public_trade(d: Mapping[str, Any]) -> PublicTrade:
    """One item of the Data API public trades list → `PublicTrade`. Raises `MalformedMessage`."""
    return _checked("public trade", _public_trade, d)
