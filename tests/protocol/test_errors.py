"""The error taxonomy: every row of the spec's error tables (5.3, 1.3, 1.4, 9) maps to one class and kind."""

from __future__ import annotations

import pytest

from bot.protocol import constants as c
from bot.protocol.errors import (
    AuthError,
    ExpectedReject,
    InvalidHeartbeatId,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    RejectKind,
    TradingMode,
    VenueError,
    VenueMode,
    classify,
    error_for,
    error_from_response,
)

ORDER_ID = "0x" + "ab" * 32

# (status, exact venue text, class, kind). Status None = a batch leg's errorMsg or a not_canceled reason.
PLACEMENT_ROWS = [
    (400, "Invalid order payload", OrderRejected, RejectKind.PAYLOAD),
    (400, "the order owner has to be the owner of the API KEY", OrderRejected, RejectKind.OWNER_MISMATCH),
    (
        400,
        "the order signer address has to be the address of the API KEY",
        OrderRejected,
        RejectKind.SIGNER_MISMATCH,
    ),
    (400, "'0x1234567890abcdef1234567890abcdef12345678' address banned", OrderRejected, RejectKind.BANNED),
    (
        400,
        "'0x1234567890abcdef1234567890abcdef12345678' address in closed only mode",
        OrderRejected,
        RejectKind.CLOSED_ONLY,
    ),
    (400, "order_version_mismatch", OrderRejected, RejectKind.VERSION_MISMATCH),
    (400, "invalid post-only order: order crosses book", ExpectedReject, RejectKind.POST_ONLY_CROSSES),
    (
        400,
        "invalid post-only order: only GTC and GTD order types are allowed",
        OrderRejected,
        RejectKind.POST_ONLY_TYPE,
    ),
    (
        400,
        f"order {ORDER_ID} is invalid. Price (0.555) breaks minimum tick size rule: 0.01",
        OrderRejected,
        RejectKind.TICK,
    ),
    (400, "order is invalid. Price breaks minimum tick size rules", OrderRejected, RejectKind.TICK),
    (
        400,
        f"order {ORDER_ID} is invalid. Size (1.73) lower than the minimum: 5",
        OrderRejected,
        RejectKind.MIN_SIZE,
    ),
    (400, f"order {ORDER_ID} is invalid. Duplicated.", OrderRejected, RejectKind.DUPLICATED),
    (400, f"order {ORDER_ID} crosses the book", ExpectedReject, RejectKind.CROSSES_BOOK),
    (400, "not enough balance / allowance", OrderRejected, RejectKind.BALANCE),
    (
        400,
        "not enough balance / allowance: the balance is not enough -> balance: 0, order amount: 2000000",
        OrderRejected,
        RejectKind.BALANCE,
    ),
    (
        400,
        "not enough balance / allowance: the balance is not enough -> balance: 17046831, sum of active orders: 6800000",
        OrderRejected,
        RejectKind.BALANCE,
    ),
    (
        400,
        "not enough balance / allowance: the balance is not enough -> balance: 1933630, sum of matched orders: "
        "1050000, order amount (inc. fees): 1056000",
        OrderRejected,
        RejectKind.BALANCE,
    ),
    (
        400,
        "not enough balance / allowance: the allowance is not enough -> allowance: 0",
        OrderRejected,
        RejectKind.BALANCE,
    ),
    (400, "invalid expiration", OrderRejected, RejectKind.EXPIRATION),
    (400, "invalid nonce", OrderRejected, RejectKind.NONCE),
    (
        400,
        "order couldn't be fully filled. FOK orders are fully filled or killed.",
        ExpectedReject,
        RejectKind.FOK_NOT_FILLED,
    ),
    (
        400,
        "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found.",
        ExpectedReject,
        RejectKind.FAK_NO_MATCH,
    ),
    (400, "the market is not yet ready to process new orders", OrderRejected, RejectKind.MARKET_NOT_READY),
    (
        400,
        "invalid amount for a marketable BUY order ($0.7), min size: $1",
        OrderRejected,
        RejectKind.MARKETABLE_BUY_MIN,
    ),
    (
        400,
        "invalid amount for a marketable BUY order ($0.7), min size: 1",
        OrderRejected,
        RejectKind.MARKETABLE_BUY_MIN,
    ),
    (
        400,
        "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 decimals, "
        "taker amount a max of 4 decimals",
        OrderRejected,
        RejectKind.PRECISION,
    ),
    (
        400,
        "invalid amounts, the sell orders maker amount supports a max accuracy of 2 decimals",
        OrderRejected,
        RejectKind.PRECISION,
    ),
    (400, "Too many orders in payload: 16, max allowed: 15", OrderRejected, RejectKind.BATCH_TOO_LARGE),
    (500, "could not insert order", OutcomeUnknown, RejectKind.SYSTEM),
    (None, "could not insert order", OutcomeUnknown, RejectKind.SYSTEM),
    (None, "could not run the execution", OutcomeUnknown, RejectKind.SYSTEM),
    (None, "error delaying the order", OutcomeUnknown, RejectKind.SYSTEM),
    (None, "there are no matching orders", ExpectedReject, RejectKind.NO_MATCH),
    (None, "FOK orders are filled or killed", ExpectedReject, RejectKind.FOK_NOT_FILLED),
    (None, "the trade contains rounding issues", OrderRejected, RejectKind.ROUNDING),
    (
        None,
        "the price of the taker's order has a discrepancy greater than allowed with the worst maker order",
        OrderRejected,
        RejectKind.PRICE_DISCREPANCY,
    ),
    (None, "order match delayed due to market conditions", OutcomeUnknown, RejectKind.DELAYED),
    # The same texts as batch legs (status None): the class does not depend on where they came from.
    (None, "invalid post-only order: order crosses book", ExpectedReject, RejectKind.POST_ONLY_CROSSES),
    (None, "not enough balance / allowance: the balance is not enough", OrderRejected, RejectKind.BALANCE),
    # The server rewrites "context canceled" to 400 (spec 1): it gave up mid-way, the outcome is open.
    (400, "context canceled", OutcomeUnknown, RejectKind.SYSTEM),
]

CANCEL_ROWS = [
    (400, "Invalid order payload", OrderRejected, RejectKind.PAYLOAD),
    (400, "Invalid orderID", OrderRejected, RejectKind.INVALID_ORDER_ID),
    (400, "Too many orders in payload, max allowed: 1000", OrderRejected, RejectKind.BATCH_TOO_LARGE),
    (None, "order already matched", ExpectedReject, RejectKind.ALREADY_DONE),
    (None, "already canceled or matched", ExpectedReject, RejectKind.ALREADY_DONE),
    (None, "Order not found or already canceled", ExpectedReject, RejectKind.ALREADY_DONE),
    (None, "order not found", ExpectedReject, RejectKind.NOT_FOUND),
]

GLOBAL_ROWS = [
    (401, "Unauthorized/Invalid api key", AuthError, RejectKind.UNAUTHORIZED),
    (401, "Invalid L1 Request headers", AuthError, RejectKind.L1_AUTH),
    (401, "some other text", AuthError, RejectKind.UNAUTHORIZED),
    (429, "Too Many Requests", RateLimited, RejectKind.RATE_LIMITED),
    (429, "", RateLimited, RejectKind.RATE_LIMITED),
    (425, "the matching engine is restarting", OutcomeUnknown, RejectKind.ENGINE_RESTARTING),
    (425, "", OutcomeUnknown, RejectKind.ENGINE_RESTARTING),
    (
        503,
        "Trading is currently disabled. Check polymarket.com for updates",
        VenueMode,
        RejectKind.TRADING_DISABLED,
    ),
    (
        503,
        "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed.",
        VenueMode,
        RejectKind.CANCEL_ONLY,
    ),
    (
        503,
        "post-only mode: only post-only orders and cancels are allowed",
        VenueMode,
        RejectKind.POST_ONLY_MODE,
    ),
    # A bare 503 (e.g. from a proxy) names no mode: a write's outcome stays open.
    (503, "Service Unavailable", OutcomeUnknown, RejectKind.SERVER_ERROR),
    (500, "internal error", OutcomeUnknown, RejectKind.SERVER_ERROR),
    (502, "", OutcomeUnknown, RejectKind.SERVER_ERROR),
    # A 5xx carrying a placement text still leaves the outcome open.
    (500, "invalid expiration", OutcomeUnknown, RejectKind.SERVER_ERROR),
]

READ_ROWS = [
    (400, "Invalid token id", OrderRejected, RejectKind.INVALID_TOKEN),
    (404, "No orderbook exists for the requested token id", OrderRejected, RejectKind.NO_ORDERBOOK),
    (404, "market not found", OrderRejected, RejectKind.NOT_FOUND),
    (400, "Could not create api key", OrderRejected, RejectKind.API_KEY_EXISTS),
    (400, "Could not derive api key!", OrderRejected, RejectKind.API_KEY_MISSING),
    (400, "Invalid Heartbeat ID", InvalidHeartbeatId, RejectKind.INVALID_HEARTBEAT),
    (400, "Payload exceeds the limit", OrderRejected, RejectKind.BATCH_TOO_LARGE),
]

# WS order statuses carry the reason after a status prefix (spec 6.3).
STATUS_PREFIX_ROWS = [
    (
        None,
        "CANCELED_order couldn't be fully filled. FOK orders are fully filled or killed.",
        ExpectedReject,
        RejectKind.FOK_NOT_FILLED,
    ),
    (
        None,
        "UNMATCHED_invalid post-only order: order crosses book",
        ExpectedReject,
        RejectKind.POST_ONLY_CROSSES,
    ),
    (None, "CANCELED_MARKET_RESOLVED", ExpectedReject, RejectKind.MARKET_RESOLVED),
]

UNKNOWN_ROWS = [
    (400, "something new the venue says", OrderRejected, RejectKind.UNKNOWN),
    (None, "something new the venue says", OrderRejected, RejectKind.UNKNOWN),
    (302, "moved", OutcomeUnknown, RejectKind.UNKNOWN),
]

ALL_ROWS = PLACEMENT_ROWS + CANCEL_ROWS + GLOBAL_ROWS + READ_ROWS + STATUS_PREFIX_ROWS + UNKNOWN_ROWS


@pytest.mark.parametrize(("status", "text", "cls", "kind"), ALL_ROWS, ids=lambda v: str(v)[:40])
def test_each_spec_row_classifies_to_its_class_and_kind(
    status: int | None, text: str, cls: type[VenueError], kind: RejectKind
) -> None:
    assert classify(status, text) == (cls, kind)
    error = error_for(status, text, endpoint="POST /order")
    assert type(error) is cls
    assert error.kind is kind
    assert error.status == status


def test_constants_texts_are_the_ones_the_table_recognises() -> None:
    # Guards against a constant being edited into something the table no longer matches.
    assert classify(400, c.ERR_POST_ONLY_CROSSES) == (ExpectedReject, RejectKind.POST_ONLY_CROSSES)
    assert classify(400, c.ERR_FOK_NOT_FILLED)[1] is RejectKind.FOK_NOT_FILLED
    assert classify(400, c.ERR_FAK_NO_MATCH)[1] is RejectKind.FAK_NO_MATCH
    assert classify(400, c.ERR_TICK_FMT.format(id=ORDER_ID, price="0.5", tick="0.01"))[1] is RejectKind.TICK
    assert classify(400, c.ERR_MIN_SIZE_FMT.format(id=ORDER_ID, size="1", min="5"))[1] is RejectKind.MIN_SIZE
    assert classify(400, c.ERR_DUPLICATED_FMT.format(id=ORDER_ID))[1] is RejectKind.DUPLICATED
    assert (
        classify(400, c.ERR_MARKETABLE_BUY_MIN_FMT.format(amount="0.5"))[1] is RejectKind.MARKETABLE_BUY_MIN
    )
    assert classify(400, c.ERR_TOO_MANY_ORDERS_FMT.format(n=16, max=15))[1] is RejectKind.BATCH_TOO_LARGE
    assert classify(400, c.ERR_TOO_MANY_CANCELS_FMT.format(max=1000))[1] is RejectKind.BATCH_TOO_LARGE
    assert classify(None, c.CANCEL_REASON_NOT_FOUND)[1] is RejectKind.NOT_FOUND
    for reason in c.CANCEL_REASON_ALREADY_DONE:
        assert classify(None, reason)[1] is RejectKind.ALREADY_DONE


def test_post_only_mode_body_gives_mode_and_retry_after_from_header() -> None:
    body = b'{"error":"post-only mode: only post-only orders and cancels are allowed","code":"post_only_mode","retry_after_seconds":79}'
    error = error_from_response(503, body, {"retry-after": "80"}, endpoint="POST /order")
    assert isinstance(error, VenueMode)
    assert error.mode is TradingMode.POST_ONLY
    assert error.retry_after_s == 80.0
    assert error.message == c.ERR_POST_ONLY_MODE


def test_post_only_mode_retry_after_falls_back_to_the_body_field() -> None:
    body = b'{"error":"post-only mode: only post-only orders and cancels are allowed","code":"post_only_mode","retry_after_seconds":79}'
    error = error_from_response(503, body, {}, endpoint="POST /order")
    assert isinstance(error, VenueMode)
    assert error.retry_after_s == 79.0


def test_post_only_mode_is_recognised_by_its_code_when_the_text_changes() -> None:
    error = error_from_response(503, b'{"error":"reworded","code":"post_only_mode"}', {})
    assert isinstance(error, VenueMode)
    assert error.mode is TradingMode.POST_ONLY


def test_cancel_only_and_disabled_modes() -> None:
    cancel_only = error_from_response(503, b'{"error":"' + c.ERR_CANCEL_ONLY.encode() + b'"}', {})
    disabled = error_from_response(503, b'{"error":"' + c.ERR_TRADING_DISABLED.encode() + b'"}', {})
    assert isinstance(cancel_only, VenueMode) and cancel_only.mode is TradingMode.CANCEL_ONLY
    assert isinstance(disabled, VenueMode) and disabled.mode is TradingMode.DISABLED
    assert disabled.retry_after_s is None


def test_429_plain_text_with_retry_after_header() -> None:
    error = error_from_response(429, b"Too Many Requests", {"Retry-After": "3"}, endpoint="POST /orders")
    assert isinstance(error, RateLimited)
    assert error.retry_after_s == 3.0
    assert error.message == "Too Many Requests"
    assert error.endpoint == "POST /orders"


def test_429_with_an_http_date_retry_after_is_not_guessed() -> None:
    error = error_from_response(429, b"", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert isinstance(error, RateLimited)
    assert error.retry_after_s is None


def test_heartbeat_mismatch_carries_the_expected_id() -> None:
    body = b'{"error_msg":"Invalid Heartbeat ID","heartbeat_id":"hb-42"}'
    error = error_from_response(400, body, {}, endpoint="POST /v1/heartbeats")
    assert isinstance(error, InvalidHeartbeatId)
    assert isinstance(error, OrderRejected)
    assert error.expected_id == "hb-42"


def test_fak_no_fill_400_keeps_the_order_id_from_the_body() -> None:
    body = b'{"error":"' + c.ERR_FAK_NO_MATCH.encode() + b'","orderID":"' + ORDER_ID.encode() + b'"}'
    error = error_from_response(400, body, {})
    assert isinstance(error, ExpectedReject)
    assert error.order_id == ORDER_ID


def test_non_json_error_body_uses_its_text_and_empty_body_the_status() -> None:
    assert error_from_response(400, b"invalid expiration\n", {}).kind is RejectKind.EXPIRATION
    empty = error_from_response(500, b"", {})
    assert isinstance(empty, OutcomeUnknown)
    assert empty.message == "HTTP 500"


def test_long_venue_messages_are_cut_and_str_names_endpoint_status_kind() -> None:
    error = error_for(400, "invalid expiration " + "x" * 5000, endpoint="POST /order")
    assert len(error.message) <= 301
    assert str(error).startswith("POST /order HTTP 400 [expiration] invalid expiration")
    assert repr(error).startswith("OrderRejected(")
