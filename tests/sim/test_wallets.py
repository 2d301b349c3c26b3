"""The simulator's wallet rules over REST: each kind's maker/signer/signature check, the migration, closed-only
and geoblock switches, and balance-allowance per wallet (spec 12.1; bot/sim/wallets.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import trio
import trio.testing

from bot.protocol.constants import ERR_SIGNER_MISMATCH, Side
from bot.protocol.signing import OrderSigner, SignedOrder, order_hash
from bot.protocol.wallets import deposit_wallet_address
from bot.sim.rest_app import RestConfig
from bot.sim.server import InProcessSim, open_inprocess_sim
from bot.sim.venue import SimVenue
from bot.sim.wallets import ERR_CLOSED_ONLY_FMT, ERR_GEOBLOCKED, ERR_MAKER_NOT_ALLOWED
from tests.sim.test_rest_app import EPOCH_S, KEY_A, SPEC, Account, _account

RANDOM_MAKER = "0x1234567890AbcdEF1234567890aBcdef12345678"
PUSD = 10**6


@pytest.fixture
async def sim() -> AsyncIterator[InProcessSim]:
    venue = SimVenue(clock_epoch_s=EPOCH_S - trio.current_time(), markets=[SPEC], with_flow=False, seed=1)
    async with open_inprocess_sim(venue, rest_config=RestConfig()) as handle:
        yield handle


@pytest.fixture
async def client(sim: InProcessSim) -> AsyncIterator[httpx.AsyncClient]:
    async with sim.client() as c:
        yield c


@pytest.fixture
async def alice(sim: InProcessSim, client: httpx.AsyncClient) -> Account:
    return await _account(sim, client, KEY_A)


def _as(account: Account, signature_type: int, funder: str | None) -> Account:
    """The same key and API creds, signing as another wallet kind."""
    signer = OrderSigner(KEY_A, signature_type=signature_type, funder=funder)
    return Account(signer, account.creds, account.client, account.venue)


async def _post(account: Account, order: SignedOrder) -> tuple[int, dict]:
    response = await account.call("POST", "/order", account.wire(order, post_only=True))
    return response.status_code, response.json()


async def test_an_eoa_order_whose_maker_is_not_its_signer_is_refused(
    autojump_clock: trio.testing.MockClock, alice: Account
) -> None:
    good = alice.order("0.40", "10")
    # Signed by alice with another maker: a valid signature, but the exchange requires signer == maker.
    oid = order_hash(salt=good.salt, maker=RANDOM_MAKER, signer=alice.signer.address, token_id=SPEC.yes_token_id,
                     maker_amount=good.maker_amount, taker_amount=good.taker_amount, side=Side.BUY,
                     signature_type=0, timestamp_ms=good.timestamp_ms)
    body = alice.wire(good)
    body["order"] |= {"maker": RANDOM_MAKER, "signature": alice.signer.sign_digest(bytes.fromhex(oid[2:]))}
    response = await alice.call("POST", "/order", body)
    assert (response.status_code, response.json()) == (400, {"error": "invalid signature"})
    status, answer = await _post(alice, good)
    assert (status, answer["orderID"]) == (200, good.order_id)


@pytest.mark.parametrize("signature_type", [1, 2])
async def test_a_proxy_or_safe_maker_must_be_the_wallet_the_venue_derives_from_the_signer(
    autojump_clock: trio.testing.MockClock, alice: Account, sim: InProcessSim, signature_type: int
) -> None:
    random_maker = _as(alice, signature_type, RANDOM_MAKER)
    status, body = await _post(random_maker, random_maker.order("0.40", "10"))
    assert (status, body) == (400, {"error": "invalid signature"})
    wallets = sim.venue.exchange.wallets.account(alice.signer.address)
    wallet = wallets.proxy if signature_type == 1 else wallets.safe
    sim.venue.exchange.fund(wallet, pusd_units=100 * PUSD)
    own = _as(alice, signature_type, wallet)
    status, body = await _post(own, own.order("0.40", "10"))
    assert (status, body["status"]) == (200, "live")


async def test_a_deposit_wallet_order_is_checked_against_the_owner_and_spends_the_wallet_s_pusd(
    autojump_clock: trio.testing.MockClock, alice: Account, sim: InProcessSim
) -> None:
    wallet = deposit_wallet_address(alice.signer.address)
    deposit = _as(alice, 3, wallet)
    # The owner EOA holds the paper balance; the wallet holds nothing: no buying power.
    status, body = await _post(deposit, deposit.order("0.40", "10"))
    assert status == 400 and body["error"].startswith("not enough balance / allowance")
    sim.venue.exchange.fund(wallet, pusd_units=100 * PUSD)
    order = deposit.order("0.40", "10")
    status, body = await _post(deposit, order)
    assert (status, body["orderID"], body["status"]) == (200, order.order_id, "live")
    open_orders = sim.venue.exchange.open_orders(alice.creds.api_key)
    assert {o["maker_address"].lower() for o in open_orders} == {wallet.lower()}
    # A plain ECDSA signature with type 3: the wallet's ERC-1271 check refuses it.
    plain = deposit.order("0.42", "10")
    body = deposit.wire(plain)
    body["order"]["signature"] = alice.signer.sign_digest(bytes.fromhex(plain.order_id[2:]))
    response = await deposit.call("POST", "/order", body)
    assert (response.status_code, response.json()) == (400, {"error": "invalid signature"})
    # Another key's wallet: the API key is not its owner.
    other = _as(alice, 3, RANDOM_MAKER)
    assert await _post(other, other.order("0.40", "10")) == (400, {"error": ERR_SIGNER_MISMATCH})


async def test_a_migrated_account_refuses_eoa_and_proxy_makers_with_the_venue_text(
    autojump_clock: trio.testing.MockClock, alice: Account, sim: InProcessSim
) -> None:
    sim.venue.exchange.wallets.configure(alice.signer.address, migrated=True)
    assert await _post(alice, alice.order("0.40", "10")) == (400, {"error": ERR_MAKER_NOT_ALLOWED})
    proxy = _as(alice, 1, sim.venue.exchange.wallets.account(alice.signer.address).proxy)
    assert await _post(proxy, proxy.order("0.40", "10")) == (400, {"error": ERR_MAKER_NOT_ALLOWED})
    wallet = deposit_wallet_address(alice.signer.address)
    sim.venue.exchange.fund(wallet, pusd_units=100 * PUSD)
    deposit = _as(alice, 3, wallet)
    status, body = await _post(deposit, deposit.order("0.40", "10"))
    assert (status, body["status"]) == (200, "live")


async def test_closed_only_and_geoblock_switches(
    autojump_clock: trio.testing.MockClock, alice: Account, sim: InProcessSim, client: httpx.AsyncClient
) -> None:
    response = await alice.call("GET", "/auth/ban-status/closed-only")
    assert response.json() == {"closed_only": False}
    sim.venue.exchange.wallets.configure(alice.signer.address, closed_only=True)
    assert (await alice.call("GET", "/auth/ban-status/closed-only")).json() == {"closed_only": True}
    expected = ERR_CLOSED_ONLY_FMT.format(address=alice.signer.address)
    assert await _post(alice, alice.order("0.40", "10")) == (400, {"error": expected})
    sim.venue.exchange.wallets.configure(alice.signer.address, closed_only=False)
    assert (await client.get("/api/geoblock")).json()["blocked"] is False
    response = await client.post("/_sim/admin/wallets", json={"geoblocked": True})
    assert response.status_code == 200
    assert (await client.get("/api/geoblock")).json()["blocked"] is True
    assert await _post(alice, alice.order("0.40", "10")) == (403, {"error": ERR_GEOBLOCKED})


async def test_balance_allowance_reports_the_wallet_named_by_signature_type_and_syncs_on_update(
    autojump_clock: trio.testing.MockClock, alice: Account, sim: InProcessSim
) -> None:
    wallet = deposit_wallet_address(alice.signer.address)
    registry = sim.venue.exchange.wallets

    async def balance(signature_type: int, update: bool = False) -> dict:
        path = "/balance-allowance/update" if update else "/balance-allowance"
        params = {"asset_type": "COLLATERAL", "signature_type": str(signature_type)}
        response = await alice.call("GET", path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    assert (await balance(0))["balance"] == str(10_000 * PUSD)  # the paper-funded owner EOA
    assert (await balance(3))["balance"] == "0"  # its deposit wallet holds nothing
    registry.cache_balance(wallet, await balance(3))  # what the venue last read
    sim.venue.exchange.fund(wallet, pusd_units=25 * PUSD)  # a deposit lands on chain
    assert (await balance(3))["balance"] == "0"  # not synced yet
    assert (await balance(3, update=True))["balance"] == str(25 * PUSD)
    registry.set_approved(wallet, False)
    assert set((await balance(3))["allowances"].values()) == {"0"}
    response = await alice.call("GET", "/balance-allowance", params={"signature_type": "9"})
    assert response.status_code == 400


async def test_with_signature_checks_off_a_type_3_order_with_any_signature_is_taken_never_a_500(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = SimVenue(clock_epoch_s=EPOCH_S - trio.current_time(), markets=[SPEC], with_flow=False, seed=1)
    async with open_inprocess_sim(venue, rest_config=RestConfig(verify_order_signatures=False)) as sim:
        async with sim.client() as client:
            alice = await _account(sim, client, KEY_A)
            wallet = deposit_wallet_address(alice.signer.address)
            sim.venue.exchange.fund(wallet, pusd_units=100 * PUSD)
            deposit = _as(alice, 3, wallet)
            for signature in ("0x" + "11" * 65, "0x12"):
                order = deposit.order("0.40", "10")
                body = deposit.wire(order, post_only=True)
                body["order"]["signature"] = signature
                response = await deposit.call("POST", "/order", body)
                assert (response.status_code, response.json()["orderID"]) == (200, order.order_id)
