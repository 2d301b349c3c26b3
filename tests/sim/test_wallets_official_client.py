"""The unmodified official client (py-clob-client-v2) as a deposit-wallet user (signature_type 3) against the
loopback simulator: it places and cancels a POLY_1271 order, reads the wallet's balance with its own
`signature_type`, and is refused with the venue's texts as a migrated EOA user and with a plain signature."""

from __future__ import annotations

import time
from typing import Any

import pytest
import trio
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import (
    AssetType,
    BalanceAllowanceParams,
    OrderArgsV2,
    OrderPayload,
    PartialCreateOrderOptions,
)
from py_clob_client_v2.exceptions import PolyApiException

from bot.protocol.signing import OrderSigner
from bot.protocol.wallets import deposit_wallet_address
from bot.sim.model import MarketSpec
from bot.sim.server import LoopbackServer, serve_loopback
from bot.sim.venue import SimVenue
from bot.sim.wallets import ERR_MAKER_NOT_ALLOWED

TEST_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # Hardhat 0, public
OWNER = OrderSigner(TEST_KEY).address
WALLET = deposit_wallet_address(OWNER)
WALLET_PUSD_UNITS = 100 * 10**6
TIMEOUT_S = 60.0


def _session(url: str, token_id: str) -> dict[str, Any]:
    """Runs in a worker thread, as a user's script would."""
    eoa = ClobClient(url, chain_id=137, key=TEST_KEY)
    creds = eoa.create_or_derive_api_key()
    client = ClobClient(url, chain_id=137, key=TEST_KEY, creds=creds, signature_type=3, funder=WALLET)
    options = PartialCreateOrderOptions(tick_size="0.01")
    order = client.create_order(OrderArgsV2(token_id=token_id, price=0.40, size=10, side="BUY"), options)
    assert (order.maker, order.signer, int(order.signatureType)) == (WALLET, WALLET, 3)
    placed = client.post_order(order, post_only=True)
    cancelled = client.cancel_order(OrderPayload(orderID=placed["orderID"]))
    balance = client.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
    client.update_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
    eoa.set_api_creds(creds)
    with pytest.raises(PolyApiException) as refused:  # the account is migrated below, before this call
        eoa.post_order(eoa.create_order(OrderArgsV2(token_id=token_id, price=0.40, size=10, side="BUY"), options))
    return {"placed": placed, "cancelled": cancelled, "balance": balance, "migrated": refused.value}


async def test_the_official_client_trades_as_a_deposit_wallet_and_a_migrated_eoa_is_refused() -> None:
    now = time.time()
    spec = MarketSpec(condition_id="0x" + "44" * 32, question="Bitcoin Up or Down - wallets",
                      slug="btc-updown-15m-wallets", yes_token_id="4001", no_token_id="4002",
                      start_ts=now - 60, end_ts=now + 3600)
    venue = SimVenue(markets=[spec], with_flow=False)
    venue.exchange.fund(WALLET, pusd_units=WALLET_PUSD_UNITS)
    venue.exchange.wallets.configure(OWNER, migrated=True)
    with trio.fail_after(TIMEOUT_S):
        async with trio.open_nursery() as nursery:
            server: LoopbackServer = await nursery.start(
                lambda task_status: serve_loopback(venue, task_status=task_status)
            )
            result = await trio.to_thread.run_sync(_session, server.urls.rest, spec.yes_token_id)
            server.shutdown()
            nursery.cancel_scope.cancel()
    assert result["placed"]["success"] is True and result["placed"]["status"] == "live"
    assert result["placed"]["orderID"] in result["cancelled"]["canceled"]
    assert result["balance"]["balance"] == str(WALLET_PUSD_UNITS)  # the wallet's, asked with signature_type 3
    refused = result["migrated"]
    assert refused.status_code == 400 and ERR_MAKER_NOT_ALLOWED in str(refused.error_msg)
