"""A deposit-wallet account (BOT_SIGNATURE_TYPE=3, POLY_1271) trades a whole market on the simulator, and
every order it sent verifies under the official client's type-3 construction (py-clob-client-v2
`ExchangeOrderBuilderV2._build_poly_1271_order_signature`, `build_order_hash`)."""

from __future__ import annotations

from typing import Any

import trio
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.model.order_data_v2 import OrderV2
from py_clob_client_v2.order_utils.model.side import Side as RefSide
from py_clob_client_v2.order_utils.model.signature_type_v2 import SignatureTypeV2
from py_clob_client_v2.signer import Signer

from bot.protocol.constants import NEG_RISK_EXCHANGE_V2, STANDARD_EXCHANGE_V2
from bot.protocol.signing import OrderSigner
from bot.protocol.wallets import deposit_wallet_address
from statemachines.market import ExitReason
from tests.scenarios.harness import TEST_PRIVATE_KEY, WINDOW_S, scenario

OWNER = OrderSigner(TEST_PRIVATE_KEY).address
WALLET = deposit_wallet_address(OWNER)
WALLET_PUSD_UNITS = 5_000 * 10**6


def _sent_orders(sc: Any) -> list[dict[str, Any]]:
    orders = [r.body["order"] for r in sc.http.of("POST", "/order")]
    for record in sc.http.of("POST", "/orders"):
        orders.extend(item["order"] for item in record.body)
    return orders


def _official_type3(order: dict[str, Any], neg_risk: bool) -> tuple[str, str]:
    """(signature, order id) the official client builds for these fields with the same key."""
    builder = ExchangeOrderBuilderV2(NEG_RISK_EXCHANGE_V2 if neg_risk else STANDARD_EXCHANGE_V2, 137,
                                     Signer(TEST_PRIVATE_KEY, 137))
    unsigned = OrderV2(
        salt=str(order["salt"]), maker=order["maker"], signer=order["signer"], tokenId=order["tokenId"],
        makerAmount=order["makerAmount"], takerAmount=order["takerAmount"],
        side=RefSide.BUY if order["side"] == "BUY" else RefSide.SELL,
        signatureType=SignatureTypeV2(order["signatureType"]), timestamp=order["timestamp"],
        metadata=order["metadata"], builder=order["builder"], expiration=order["expiration"],
    )
    typed = builder.build_order_typed_data(unsigned)
    return builder.build_order_signature(typed), builder.build_order_hash(typed)


async def test_a_deposit_wallet_account_trades_a_whole_market_and_every_order_is_the_official_type_3(
    autojump_clock,
) -> None:
    signer = OrderSigner(TEST_PRIVATE_KEY, signature_type=3, funder=WALLET)
    async with scenario(record=True, signer=signer, signature_type=3) as sc:
        exchange = sc.exchange
        # The owner EOA holds nothing; the deposit wallet holds the pUSD (spec 12.1: only it counts).
        exchange.ensure_account(OWNER)
        exchange.fund(OWNER, pusd_units=-exchange.accounts.pusd(OWNER))
        exchange.fund(WALLET, pusd_units=WALLET_PUSD_UNITS)
        with trio.fail_after(2 * WINDOW_S + 120):
            reason = await sc.supervisor.run()
        assert reason is ExitReason.MARKET_END
        (summary,) = sc.supervisor.summaries()
        assert summary["posted"] > 0 and summary["fills"] > 0
        assert sc.our_open_orders() == []
        orders = _sent_orders(sc)
        assert len(orders) >= summary["posted"]
        official_ids = set()
        for order in orders:
            assert (order["maker"], order["signer"], order["signatureType"]) == (WALLET, WALLET, 3)
            neg_risk = exchange.neg_risk(order["tokenId"])
            signature, order_id = _official_type3(order, neg_risk)
            assert order["signature"] == signature
            official_ids.add(order_id)
            assert len(signature) > 2 + 130  # the ERC-7739 wrapper, not a bare ECDSA signature
        # Fills moved the wallet's money, never the owner's.
        assert exchange.accounts.pusd(OWNER) == 0
        assert exchange.accounts.pusd(WALLET) != WALLET_PUSD_UNITS
        trades = exchange.trades(sc.owner)
        assert trades and all(WALLET.lower() in str(t).lower() for t in trades)
        # The venue's order ids (in its trade records) are the official client's order hashes.
        assert any(order_id in str(trades) for order_id in official_ids)
