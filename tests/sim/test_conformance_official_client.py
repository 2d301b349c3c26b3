"""The unmodified official client (py-clob-client-v2, sync) against the simulator on loopback.

The server runs in this test's Trio loop on 127.0.0.1; the client runs in a worker thread, exactly as a
user's script would call it. Every call the bot relies on must work, and every refusal must carry the
venue's status and text, or the simulator is not a faithful stand-in for the real venue.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import trio
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import (
    BalanceAllowanceParams,
    CreateOrderOptions,
    MarketOrderArgsV2,
    OpenOrderParams,
    OrderArgsV2,
    OrderMarketCancelParams,
    OrderPayload,
    OrderType,
    PostOrdersV2Args,
    TradeParams,
)
from py_clob_client_v2.exceptions import PolyApiException

from bot.protocol.constants import (
    ERR_INVALID_HEARTBEAT,
    ERR_ORDER_VERSION_MISMATCH,
    ERR_POST_ONLY_CROSSES,
    Side,
)
from bot.protocol.signing import order_hash
from bot.sim.flow import build_order
from bot.sim.model import MarketSpec, SimConfig
from bot.sim.server import LoopbackServer, serve_loopback
from bot.sim.venue import SimVenue

# Hardhat's first test key: public, never funded anywhere real.
TEST_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
MAKER = "0x00000000000000000000000000000000000000aa"
SCENARIO_TIMEOUT_S = 90.0


def _expected_id(order: Any) -> str:
    """The order id we compute ourselves (bot.protocol.signing) for a py-clob-client-v2 SignedOrderV2."""
    return order_hash(
        salt=int(order.salt),
        maker=order.maker,
        signer=order.signer,
        token_id=order.tokenId,
        maker_amount=int(order.makerAmount),
        taker_amount=int(order.takerAmount),
        side=Side(int(order.side)),
        signature_type=int(order.signatureType),
        timestamp_ms=int(order.timestamp),
        metadata=order.metadata,
        builder=order.builder,
    )


def _api_error(call: Any) -> PolyApiException:
    with pytest.raises(PolyApiException) as caught:
        call()
    return caught.value


def _official_client_session(url: str, spec: MarketSpec) -> dict[str, Any]:
    """Everything the bot does, through the official client. Runs in a worker thread."""
    yes, no = spec.yes_token_id, spec.no_token_id
    client = ClobClient(url, chain_id=137, key=TEST_KEY)
    creds = client.create_or_derive_api_key()
    again = client.create_or_derive_api_key()  # create fails ("Could not create api key"), derive answers
    assert (again.api_key, again.api_secret, again.api_passphrase) == (
        creds.api_key,
        creds.api_secret,
        creds.api_passphrase,
    )
    client.set_api_creds(creds)

    assert client.get_ok() == "OK"
    assert abs(int(client.get_server_time()) - time.time()) < 5
    assert client.get_tick_size(yes) == "0.01"
    assert client.get_neg_risk(yes) is False
    book = client.get_order_book(yes)
    assert book["asks"][-1] == {"price": "0.6", "size": "100"}  # the best level is last
    assert client.get_order_book_hash(book) == book["hash"]

    # A post-only GTC BUY rests; its id is the EIP-712 hash we compute ourselves.
    resting = client.create_order(OrderArgsV2(token_id=yes, price=0.40, size=10, side="BUY"))
    posted = client.post_order(resting, OrderType.GTC, post_only=True)
    assert (posted["success"], posted["status"], posted["errorMsg"]) == (True, "live", "")
    assert posted["orderID"] == _expected_id(resting)

    # A crossing post-only BUY is refused with the venue's text.
    crossing = client.create_order(OrderArgsV2(token_id=yes, price=0.60, size=10, side="BUY"))
    refused = _api_error(lambda: client.post_order(crossing, OrderType.GTC, post_only=True))
    assert (refused.status_code, refused.error_msg) == (400, {"error": ERR_POST_ONLY_CROSSES})

    # A batch: one id per leg, in order.
    batch_orders = [
        client.create_order(OrderArgsV2(token_id=yes, price=0.41, size=10, side="BUY")),
        client.create_order(OrderArgsV2(token_id=no, price=0.30, size=10, side="BUY")),
    ]
    batch = client.post_orders(
        [PostOrdersV2Args(order=o, orderType=OrderType.GTC) for o in batch_orders], post_only=True
    )
    assert [leg["orderID"] for leg in batch] == [_expected_id(o) for o in batch_orders]
    assert all(leg["success"] and leg["status"] == "live" for leg in batch)

    ids = {posted["orderID"], *(leg["orderID"] for leg in batch)}
    assert {o["id"] for o in client.get_open_orders()} == ids
    assert [o["id"] for o in client.get_open_orders(OpenOrderParams(asset_id=no))] == [batch[1]["orderID"]]
    single = client.get_order(posted["orderID"])
    assert (single["id"], single["status"], single["side"], single["price"]) == (
        posted["orderID"],
        "LIVE",
        "BUY",
        "0.4000",
    )

    assert client.cancel_order(OrderPayload(orderID=posted["orderID"])) == {
        "canceled": [posted["orderID"]],
        "not_canceled": {},
    }
    by_market = client.cancel_market_orders(OrderMarketCancelParams(asset_id=yes))
    assert by_market == {"canceled": [batch[0]["orderID"]], "not_canceled": {}}
    assert client.cancel_all() == {"canceled": [batch[1]["orderID"]], "not_canceled": {}}
    assert client.get_open_orders() == []

    # Heartbeats: a chain, a wrong id refused with the expected one, recovery with it.
    first = client.post_heartbeat("")["heartbeat_id"]
    second = client.post_heartbeat(first)["heartbeat_id"]
    stale = _api_error(lambda: client.post_heartbeat(first))
    assert (stale.status_code, stale.error_msg) == (
        400,
        {"error_msg": ERR_INVALID_HEARTBEAT, "heartbeat_id": second},
    )
    assert client.post_heartbeat(stale.error_msg["heartbeat_id"])["heartbeat_id"] not in ("", second)

    # A tampered signature is refused; so is a V1-signed order.
    tampered = client.create_order(OrderArgsV2(token_id=yes, price=0.42, size=10, side="BUY"))
    tampered.signature = (
        tampered.signature[:-4]
        + ("00" if tampered.signature[-4:-2] != "00" else "11")
        + tampered.signature[-2:]
    )
    bad_sig = _api_error(lambda: client.post_order(tampered, OrderType.GTC))
    assert (bad_sig.status_code, bad_sig.error_msg) == (400, {"error": "invalid signature"})
    v1 = client.builder.build_order(
        OrderArgsV2(token_id=yes, price=0.42, size=10, side="BUY"),
        CreateOrderOptions(tick_size="0.01", neg_risk=False),
        version=1,
        fee_rate_bps=0,
    )
    mismatch = _api_error(lambda: client.post_order(v1, OrderType.GTC))
    assert (mismatch.status_code, mismatch.error_msg) == (400, {"error": ERR_ORDER_VERSION_MISMATCH})

    # A marketable FAK BUY of $6: market info, book walk, fill, and the client's trade-hash polling.
    fak = client.create_and_post_market_order(
        MarketOrderArgsV2(token_id=yes, amount=6, side="BUY", order_type=OrderType.FAK),
        order_type=OrderType.FAK,
    )
    assert (fak["success"], fak["status"], fak["makingAmount"], fak["takingAmount"]) == (
        True,
        "matched",
        "6",
        "10",
    )
    assert len(fak["transactionsHashes"]) == 1
    trades = client.get_trades(TradeParams(id=fak["tradeIDs"][0]))
    assert [(t["trader_side"], t["price"], t["size"]) for t in trades] == [("TAKER", "0.6", "10")]

    balance = client.get_balance_allowance(BalanceAllowanceParams(asset_type="COLLATERAL"))
    tokens = client.get_balance_allowance(BalanceAllowanceParams(asset_type="CONDITIONAL", token_id=yes))
    return {"collateral": int(balance["balance"]), "shares": int(tokens["balance"])}


async def test_official_client_runs_the_bot_s_calls_against_the_loopback_simulator() -> None:
    now = time.time()
    spec = MarketSpec(
        condition_id="0x" + "33" * 32,
        question="Bitcoin Up or Down - conformance",
        slug="btc-updown-15m-conformance",
        yes_token_id="3001",
        no_token_id="3002",
        start_ts=now - 60,
        end_ts=now + 3600,
    )
    # Trades settle (get a transaction hash) after 0.2 s, so the client's hash polling is short.
    venue = SimVenue(
        markets=[spec],
        with_flow=False,
        config=SimConfig(trade_mined_delay_s=0.2, trade_confirmed_delay_s=0.5),
    )
    with trio.fail_after(SCENARIO_TIMEOUT_S):
        async with trio.open_nursery() as nursery:
            server: LoopbackServer = await nursery.start(
                lambda task_status: serve_loopback(venue, task_status=task_status)
            )
            exchange = venue.exchange
            exchange.fund(MAKER, token_id=spec.yes_token_id, shares_units=10_000 * 10**6)
            exchange.register_api_key("maker-key", MAKER)
            exchange.place(
                build_order(
                    order_id="0x" + "ab" * 32,
                    owner="maker-key",
                    address=MAKER,
                    token_id=spec.yes_token_id,
                    side="SELL",
                    price="0.60",
                    size="100",
                )
            )
            result = await trio.to_thread.run_sync(_official_client_session, server.urls.rest, spec)
            server.shutdown()
            nursery.cancel_scope.cancel()
    # 10 000 pUSD paper balance − $6 spent − the taker fee 10 × 0.07 × 0.6 × 0.4 = 0.168.
    assert result == {"collateral": 10_000_000_000 - 6_000_000 - 168_000, "shares": 10_000_000}
