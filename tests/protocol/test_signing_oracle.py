"""V2 order signing against the oracle: our request bytes equal py-clob-client-v2's, byte for byte.

Every wallet kind, POLY_1271 deposit wallets (type 3, ERC-7739-wrapped signatures) included.
"""

from __future__ import annotations

import json
import pickle
import threading
from decimal import Decimal
from types import SimpleNamespace
from unittest import mock

import pytest
from Crypto.Hash import keccak as pycryptodome_keccak
from eth_utils import to_checksum_address as ref_checksum
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from py_clob_client_v2.clob_types import CreateOrderOptions, MarketOrderArgsV2, OrderArgsV2
from py_clob_client_v2.order_builder import builder as ref_builder_module
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_builder.helpers import round_normal
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.order_utils.model.signature_type_v2 import SignatureTypeV2
from py_clob_client_v2.signer import Signer

from bot.protocol.constants import (
    BYTES32_ZERO,
    NEG_RISK_EXCHANGE_V2,
    ROUNDING_CONFIG,
    STANDARD_EXCHANGE_V2,
    Side,
)
from bot.protocol.signing import (
    OrderSigner,
    SignedOrder,
    dumps_body,
    keccak256,
    order_hash,
    recover_order_signer,
    recover_poly1271_owner,
    split_poly1271_signature,
    to_checksum_address,
)
from tests.protocol.reference_exact import exact_limit_amounts, exact_market_amounts

# Well-known test keys (Hardhat accounts 0 and 1; the first is also the spec's L1 known-answer key).
KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
]
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
OWNER = "f4f247b7-4ac7-ff29-a152-04fda0a8755a"
TS_MS = 1_713_398_400_000

_ref_signers: dict[tuple[str, int], Signer] = {}


def _ref_signer(key: str, chain_id: int = 137) -> Signer:
    if (key, chain_id) not in _ref_signers:
        _ref_signers[(key, chain_id)] = Signer(key, chain_id)
    return _ref_signers[(key, chain_id)]


def _fixed_reference(salt: int, timestamp_ms: int):
    """Patch the reference's salt and clock so that it signs exactly what we sign."""

    class FixedSaltBuilder(ExchangeOrderBuilderV2):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.generate_salt = lambda: str(salt)

    clock = SimpleNamespace(time_ns=lambda: timestamp_ms * 1_000_000)
    return mock.patch.multiple(ref_builder_module, ExchangeOrderBuilderV2=FixedSaltBuilder, time=clock)


def _reference_builder(key: str, signature_type: int, funder: str | None) -> OrderBuilder:
    return OrderBuilder(_ref_signer(key), signature_type=SignatureTypeV2(signature_type), funder=funder)


def _reference_bytes(ref_order, owner: str, order_type: str, post_only: bool, defer_exec: bool) -> bytes:
    # Exactly what ClobClient.post_order serializes, HMAC-signs and sends.
    payload = order_to_json_v2(ref_order, owner, order_type, post_only, defer_exec)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _reference_order_id(ref_order, key: str, neg_risk: bool) -> str:
    contract = NEG_RISK_EXCHANGE_V2 if neg_risk else STANDARD_EXCHANGE_V2
    builder = ExchangeOrderBuilderV2(contract, 137, _ref_signer(key))
    return builder.build_order_hash(builder.build_order_typed_data(ref_order))


def _reference_is_exact(ref_order, exact: tuple[int, int]) -> bool:
    """The reference signed the amounts its own rules give in exact arithmetic (no float floor slipped)."""
    return (int(ref_order.makerAmount), int(ref_order.takerAmount)) == exact


# --- strategies ---------------------------------------------------------------------------------------

token_ids = st.integers(min_value=0, max_value=2**256 - 1).map(str) | st.just(TOKEN)
salts = st.integers(min_value=0, max_value=2**53)
timestamps = st.integers(min_value=0, max_value=4_102_444_800_000)
funders = st.binary(min_size=20, max_size=20).map(lambda raw: ref_checksum("0x" + raw.hex()))
owners = st.uuids().map(str) | st.text(max_size=20)


@st.composite
def wallets(draw) -> tuple[str, int, str | None]:
    key = draw(st.sampled_from(KEYS))
    signature_type = draw(st.sampled_from([0, 1, 2, 3]))
    return key, signature_type, (draw(funders) if signature_type else None)


@st.composite
def grid_prices(draw) -> tuple[str, Decimal]:
    tick = draw(st.sampled_from(sorted(ROUNDING_CONFIG)))
    n_ticks = int(1 / Decimal(tick))
    return tick, draw(st.integers(min_value=1, max_value=n_ticks - 1)) * Decimal(tick)


sizes = st.floats(min_value=0.01, max_value=1e6, allow_nan=False) | st.integers(1, 100_000).map(
    lambda c: c / 100
)


@st.composite
def wire_options(draw, market: bool) -> tuple[str, bool, bool]:
    order_type = draw(st.sampled_from(["FOK", "FAK"] if market else ["GTC", "GTD", "FOK", "FAK"]))
    post_only = False if order_type in ("FOK", "FAK") else draw(st.booleans())
    return order_type, post_only, draw(st.booleans())


# --- the oracle ---------------------------------------------------------------------------------------


@settings(max_examples=250, deadline=None)
@given(
    wallet=wallets(),
    token_id=token_ids,
    tick_price=grid_prices(),
    size=sizes,
    side=st.sampled_from(list(Side)),
    neg_risk=st.booleans(),
    salt=salts,
    timestamp_ms=timestamps,
    expiration=st.just(0) | st.integers(min_value=1, max_value=2**40),
    owner=owners,
    options=wire_options(market=False),
    price_as=st.sampled_from([float, str, Decimal]),
)
def test_limit_order_body_is_byte_identical_to_the_reference_client(
    wallet,
    token_id,
    tick_price,
    size,
    side,
    neg_risk,
    salt,
    timestamp_ms,
    expiration,
    owner,
    options,
    price_as,
) -> None:
    key, signature_type, funder = wallet
    tick, price = tick_price
    order_type, post_only, defer_exec = options
    ref_args = OrderArgsV2(
        token_id=token_id,
        price=round_normal(float(price), ROUNDING_CONFIG[tick].price),  # as ClobClient.create_order does
        size=size,
        side=side.name,
        expiration=expiration,
    )
    with _fixed_reference(salt, timestamp_ms):
        ref_order = _reference_builder(key, signature_type, funder).build_order(
            ref_args, CreateOrderOptions(tick_size=tick, neg_risk=neg_risk)
        )
    assume(int(ref_order.makerAmount) > 0 and int(ref_order.takerAmount) > 0)

    signer = OrderSigner(key, signature_type=signature_type, funder=funder)
    ours = signer.build_limit(
        token_id=token_id,
        price=price_as(price),
        size_shares=size,
        side=side,
        tick_size=tick,
        neg_risk=neg_risk,
        expiration=expiration,
        salt=salt,
        timestamp_ms=timestamp_ms,
    )
    if not _reference_is_exact(ref_order, exact_limit_amounts(side.name, size, price, tick)):
        # Float noise moved one of the reference's floors (see test_amounts_divergence.py): ours are exact.
        assert (ours.maker_amount, ours.taker_amount) == exact_limit_amounts(side.name, size, price, tick)
        return
    assert dumps_body(ours.to_wire(owner, order_type, post_only, defer_exec)) == _reference_bytes(
        ref_order, owner, order_type, post_only, defer_exec
    )
    assert ours.order_id == _reference_order_id(ref_order, key, neg_risk)


@settings(max_examples=150, deadline=None)
@given(
    wallet=wallets(),
    token_id=token_ids,
    tick_price=grid_prices(),
    amount=sizes,
    side=st.sampled_from(list(Side)),
    neg_risk=st.booleans(),
    salt=salts,
    timestamp_ms=timestamps,
    owner=owners,
    options=wire_options(market=True),
)
def test_market_order_body_is_byte_identical_to_the_reference_client(
    wallet, token_id, tick_price, amount, side, neg_risk, salt, timestamp_ms, owner, options
) -> None:
    key, signature_type, funder = wallet
    tick, cap = tick_price
    order_type, _, defer_exec = options
    ref_args = MarketOrderArgsV2(token_id=token_id, amount=amount, side=side.name, price=float(cap))
    with _fixed_reference(salt, timestamp_ms):
        ref_order = _reference_builder(key, signature_type, funder).build_market_order(
            ref_args, CreateOrderOptions(tick_size=tick, neg_risk=neg_risk)
        )
    assume(int(ref_order.makerAmount) > 0 and int(ref_order.takerAmount) > 0)

    ours = OrderSigner(key, signature_type=signature_type, funder=funder).build_market(
        token_id=token_id,
        amount=amount,
        price_cap=cap,
        side=side,
        tick_size=tick,
        neg_risk=neg_risk,
        salt=salt,
        timestamp_ms=timestamp_ms,
    )
    exact = exact_market_amounts(side.name, amount, cap, tick)
    if not _reference_is_exact(ref_order, exact):
        # Float noise moved the reference's cap or amount floor (see test_amounts_divergence.py).
        assert (ours.maker_amount, ours.taker_amount) == exact
        return
    assert dumps_body(ours.to_wire(owner, order_type, False, defer_exec)) == _reference_bytes(
        ref_order, owner, order_type, False, defer_exec
    )
    assert ours.order_id == _reference_order_id(ref_order, key, neg_risk)


def _spec_order(signer: OrderSigner, **overrides) -> SignedOrder:
    args = dict(
        token_id=TOKEN,
        price=0.53,
        size_shares=10,
        side=Side.BUY,
        tick_size="0.01",
        salt=12345,
        timestamp_ms=TS_MS,
    )
    return signer.build_limit(**(args | overrides))


def test_spec_market_examples_sign_the_spec_amounts() -> None:
    signer = OrderSigner(KEYS[0])
    buy = signer.build_market(token_id=TOKEN, amount=25, price_cap=0.54, side=Side.BUY, tick_size="0.01")
    sell = signer.build_market(token_id=TOKEN, amount=40, price_cap=0.52, side=Side.SELL, tick_size="0.01")
    assert (buy.maker_amount, buy.taker_amount, buy.expiration) == (25_000_000, 46_296_200, 0)
    assert (sell.maker_amount, sell.taker_amount) == (40_000_000, 20_800_000)


def test_spec_limit_examples_sign_the_spec_amounts() -> None:
    signer = OrderSigner(KEYS[0])
    assert (_spec_order(signer).maker_amount, _spec_order(signer).taker_amount) == (5_300_000, 10_000_000)
    fine = _spec_order(signer, price="0.537", size_shares=12.345, tick_size="0.001")
    assert (fine.maker_amount, fine.taker_amount) == (6_626_580, 12_340_000)


def test_batch_body_is_byte_identical_to_the_reference_serialization() -> None:
    signer = OrderSigner(KEYS[1])
    batch = [
        _spec_order(signer).to_wire(OWNER, "GTC", True),
        _spec_order(signer, salt=7).to_wire(OWNER, "GTD"),
    ]
    assert dumps_body(batch) == json.dumps(batch, separators=(",", ":"), ensure_ascii=False).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_dumps_body_is_byte_identical_to_compact_stdlib_json(value) -> None:
    # Covers unicode, control characters, ints beyond 64 bits and floats (which take the stdlib path).
    assert dumps_body(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_keccak256_is_ethereum_keccak(data) -> None:
    # safe-pysha3's keccak_256 against an independent implementation, pycryptodome's public API
    # (padding 0x01, not SHA3's 0x06).
    assert keccak256(data) == pycryptodome_keccak.new(digest_bits=256, data=data).digest()


def test_keccak256_is_correct_from_several_threads_at_once() -> None:
    inputs = [bytes([i]) * (i * 7) for i in range(40)]
    expected = [pycryptodome_keccak.new(digest_bits=256, data=d).digest() for d in inputs]
    results: dict[int, list[bytes]] = {}

    def worker(index: int) -> None:
        results[index] = [keccak256(d) for _ in range(50) for d in inputs][-len(inputs) :]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[i] == expected for i in range(4))


# --- the order id and the simulator's verification ----------------------------------------------------


def test_order_hash_of_the_signed_fields_is_the_order_id() -> None:
    order = _spec_order(OrderSigner(KEYS[0]), expiration=1_900_000_000)
    fields = dict(
        salt=order.salt,
        maker=order.maker,
        signer=order.signer,
        token_id=order.token_id,
        maker_amount=order.maker_amount,
        taker_amount=order.taker_amount,
        side=order.side,
        signature_type=order.signature_type,
        timestamp_ms=order.timestamp_ms,
    )
    assert order_hash(**fields) == order.order_id
    assert order_hash(**fields, neg_risk=True) != order.order_id  # another verifying contract
    assert (
        order.order_id.startswith("0x")
        and len(order.order_id) == 66
        and order.order_id == order.order_id.lower()
    )


@pytest.mark.parametrize("neg_risk", [False, True])
@pytest.mark.parametrize("signature_type", [0, 2])
def test_recover_order_signer_returns_the_order_id_and_the_signing_eoa(neg_risk, signature_type) -> None:
    funder = "0x1234567890AbcdEF1234567890aBcdef12345678" if signature_type else None
    signer = OrderSigner(KEYS[1], signature_type=signature_type, funder=funder)
    order = _spec_order(signer, neg_risk=neg_risk, expiration=1_900_000_000)
    body = json.loads(dumps_body(order.to_wire(OWNER, "GTD", post_only=True)))
    assert recover_order_signer(body, neg_risk=neg_risk) == (order.order_id, signer.address)
    assert recover_order_signer(body["order"], neg_risk=neg_risk) == (order.order_id, signer.address)
    # Signed with the other contract's domain: the verifier finds another id and another signer.
    other_id, other_signer = recover_order_signer(body, neg_risk=not neg_risk)
    assert other_id != order.order_id and other_signer != signer.address


def test_expiration_is_not_signed_but_every_struct_field_is() -> None:
    signer = OrderSigner(KEYS[0])
    wire = _spec_order(signer).to_wire(OWNER)["order"]
    assert recover_order_signer(wire | {"expiration": "1900000000"}, neg_risk=False)[1] == signer.address
    for field, value in [
        ("makerAmount", "5300001"),
        ("side", "SELL"),
        ("salt", 12346),
        ("timestamp", str(TS_MS + 1)),
    ]:
        assert recover_order_signer(wire | {field: value}, neg_risk=False)[1] != signer.address, field


def test_a_tampered_signature_does_not_recover_the_signer() -> None:
    signer = OrderSigner(KEYS[0])
    wire = _spec_order(signer).to_wire(OWNER)["order"]
    signature = wire["signature"]
    flipped = signature[:10] + ("0" if signature[10] != "0" else "1") + signature[11:]
    other_v = signature[:-2] + ("1b" if signature.endswith("1c") else "1c")
    for forged in (flipped, other_v):
        try:
            recovered = recover_order_signer(wire | {"signature": forged}, neg_risk=False)[1]
        except ValueError:
            continue  # no public key for that r: also a rejection
        assert recovered != signer.address
    for malformed in ("0x", signature[:-2], signature[:-2] + "05", "0x" + "00" * 65):
        with pytest.raises(ValueError):
            recover_order_signer(wire | {"signature": malformed}, neg_risk=False)


@pytest.mark.parametrize(
    "broken",
    [
        {"salt": "12345"},
        {"tokenId": "0x12"},
        {"tokenId": "0012"},
        {"makerAmount": 5300000},
        {"side": 0},
        {"signatureType": "0"},
        {"maker": "0x1234"},
        {"metadata": ""},
        {"signature": None},
    ],
)
def test_recover_order_signer_rejects_malformed_fields(broken) -> None:
    wire = _spec_order(OrderSigner(KEYS[0])).to_wire(OWNER)["order"]
    with pytest.raises(ValueError):
        recover_order_signer(wire | broken, neg_risk=False)


# --- the signer's guarantees --------------------------------------------------------------------------


def test_signer_address_and_checksum_match_eth_utils() -> None:
    signer = OrderSigner(KEYS[0])
    assert signer.address == _ref_signer(KEYS[0]).address() == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert to_checksum_address(signer.address.lower()) == signer.address
    with pytest.raises(ValueError, match="checksum"):
        to_checksum_address("0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266")


def test_the_private_key_never_shows_in_repr_pickle_or_errors() -> None:
    signer = OrderSigner(KEYS[0])
    assert KEYS[0][2:] not in repr(signer) and KEYS[0][2:] not in str(signer)
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    bad_key = KEYS[0][:-2] + "zz"
    with pytest.raises(ValueError) as excinfo:
        OrderSigner(bad_key)
    assert bad_key[2:10] not in str(excinfo.value) and excinfo.value.__cause__ is None


def test_wallet_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="funder"):
        OrderSigner(KEYS[0], signature_type=1)
    with pytest.raises(ValueError, match="maker must be the signer"):
        OrderSigner(KEYS[0], funder="0x1234567890AbcdEF1234567890aBcdef12345678")
    with pytest.raises(ValueError, match="deposit wallet"):
        OrderSigner(KEYS[0], signature_type=3)
    with pytest.raises(ValueError, match="unknown signature type"):
        OrderSigner(KEYS[0], signature_type=4, funder="0x1234567890AbcdEF1234567890aBcdef12345678")
    with pytest.raises(ValueError, match="chain"):
        OrderSigner(KEYS[0], chain_id=1)
    safe = OrderSigner(KEYS[0], signature_type=2, funder="0x1234567890abcdef1234567890abcdef12345678")
    order = _spec_order(safe)
    assert (order.maker, order.signer, order.signature_type) == (safe.funder, safe.address, 2)
    assert safe.funder == "0x1234567890AbcdEF1234567890aBcdef12345678"  # normalised to EIP-55


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"price": 0.535}, "tick grid"),
        ({"price": "0.995", "tick_size": "0.01"}, "outside"),
        ({"price": 0.0}, "outside"),
        ({"size_shares": 0.001}, "zero amount"),
        ({"tick_size": "0.02"}, "unknown tick size"),
        ({"token_id": "0x1"}, "token_id"),
        ({"expiration": -1}, "expiration"),
    ],
)
def test_build_limit_refuses_what_the_venue_would_reject(overrides, message) -> None:
    with pytest.raises(ValueError, match=message):
        _spec_order(OrderSigner(KEYS[0]), **overrides)


def test_to_wire_refuses_post_only_with_market_types_and_unknown_types() -> None:
    order = _spec_order(OrderSigner(KEYS[0]))
    with pytest.raises(ValueError, match="only GTC and GTD"):
        order.to_wire(OWNER, "FOK", post_only=True)
    with pytest.raises(ValueError, match="order type"):
        order.to_wire(OWNER, "IOC")


def test_default_salt_and_timestamp_are_fresh_and_json_safe() -> None:
    signer = OrderSigner(KEYS[0])
    first = signer.build_limit(token_id=TOKEN, price="0.5", size_shares=5, side=Side.SELL, tick_size="0.01")
    second = signer.build_limit(token_id=TOKEN, price="0.5", size_shares=5, side=Side.SELL, tick_size="0.01")
    assert first.order_id != second.order_id  # a new salt each time: re-signing never duplicates
    assert 0 <= first.salt < 2**53 and first.timestamp_ms > 1_700_000_000_000
    assert first.metadata == first.builder == BYTES32_ZERO


def test_a_paper_signer_stamps_and_salts_from_its_own_clock_and_generator() -> None:
    # A paper run signs with paper time and a seeded generator: the same seed signs the same order ids.
    import random

    def signer() -> OrderSigner:
        return OrderSigner(KEYS[0], now_ms=lambda: 1_800_000_000_123, salt_random=random.Random("s").random)

    first, again = (s.build_limit(token_id=TOKEN, price="0.5", size_shares=5, side=Side.SELL, tick_size="0.01")
                    for s in (signer(), signer()))
    assert first.timestamp_ms == 1_800_000_000_123
    assert first.salt == int(random.Random("s").random() * 1_800_000_000_123)
    assert first.order_id == again.order_id


# --- POLY_1271 deposit wallets (type 3) ---------------------------------------------------------------

WALLET = "0x1234567890AbcdEF1234567890aBcdef12345678"


@pytest.mark.parametrize("neg_risk", [False, True])
def test_a_deposit_wallet_order_names_the_wallet_twice_and_carries_the_wrapped_signature(neg_risk) -> None:
    signer = OrderSigner(KEYS[0], signature_type=3, funder=WALLET)
    order = _spec_order(signer, neg_risk=neg_risk)
    assert (order.maker, order.signer, order.signature_type) == (WALLET, WALLET, 3)
    assert signer.address == _ref_signer(KEYS[0]).address()  # the key (the owner) still authenticates
    ecdsa, separator, contents_hash, contents_type = split_poly1271_signature(order.signature)
    assert len(ecdsa) == 2 + 130 and contents_type.startswith("Order(uint256 salt,")
    body = json.loads(dumps_body(order.to_wire(OWNER)))
    assert recover_poly1271_owner(body, neg_risk=neg_risk) == (order.order_id, signer.address)
    with pytest.raises(ValueError):  # the wrapper names one exchange: the other one refuses it
        recover_poly1271_owner(body, neg_risk=not neg_risk)


def test_a_wrapped_signature_does_not_verify_for_another_wallet_or_a_changed_field() -> None:
    signer = OrderSigner(KEYS[0], signature_type=3, funder=WALLET)
    wire = _spec_order(signer).to_wire(OWNER)["order"]
    other_wallet = "0x00000000000000000000000000000000000000aa"
    # Another wallet (maker and signer both changed): the ECDSA part recovers someone else.
    with pytest.raises(ValueError):  # the contents hash no longer matches the struct
        recover_poly1271_owner(wire | {"maker": other_wallet, "signer": other_wallet}, neg_risk=False)
    with pytest.raises(ValueError):
        recover_poly1271_owner(wire | {"makerAmount": "5300001"}, neg_risk=False)
    plain = _spec_order(OrderSigner(KEYS[0])).to_wire(OWNER)["order"]["signature"]
    with pytest.raises(ValueError):  # a plain ECDSA signature is not the wrapped layout
        recover_poly1271_owner(wire | {"signature": plain}, neg_risk=False)
