"""EIP-712 signing of CLOB V2 orders; the order id is the EIP-712 digest, known before sending.

Spec: docs/protocol/polymarket-clob.md sections 3.1-3.5. Domain `Polymarket CTF Exchange` version
"2", `verifyingContract` = the standard or the neg-risk V2 exchange; the signed struct is
`Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,
uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)`; `expiration` travels
on the wire only. Signatures are byte-identical to py-clob-client-v2's (RFC 6979 nonces, low-s, v = 27/28).

POLY_1271 (signature type 3, deposit wallets; spec 12.1, docs/protocol/polymarket-clob.md §12.1): maker =
signer = the wallet; the key (the wallet's owner) signs the ERC-7739 `TypedDataSign` wrapper of the same
order struct, and the signature carries the exchange domain separator, the order's struct hash and the
`Order` type string after the 65 ECDSA bytes, as py-clob-client-v2's `_build_poly_1271_order_signature`.
The order id stays the plain Order digest (PY2 `build_order_hash`).

Speed: the type hash and domain separators are computed once; per order we encode one 384-byte
struct, hash it, hash the 66-byte digest preimage and sign with libsecp256k1 (coincurve). eth-account is
not used at runtime (it is ~30x slower and only the reference client's dependency).
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import orjson
from coincurve import PrivateKey, PublicKey
from sha3 import keccak_256 as _keccak_256

from bot.protocol.amounts import (
    limit_order_amounts,
    limit_order_units,
    market_order_amounts,
    market_order_units,
    price_in_range,
    price_on_tick_grid,
    round_config,
)
from bot.protocol.constants import (
    BYTES32_ZERO,
    CTF_EXCHANGE_DOMAIN_NAME,
    CTF_EXCHANGE_V2_DOMAIN_VERSION,
    DEPOSIT_WALLET_DOMAIN_NAME,
    DEPOSIT_WALLET_DOMAIN_VERSION,
    EIP712_DOMAIN_TYPE_STRING,
    ERR_POST_ONLY_WITH_MARKET_TYPE,
    EXCHANGE_V2_BY_CHAIN,
    MARKET_ORDER_TYPES,
    ORDER_TYPE_STRING,
    ORDER_TYPES,
    POLYGON_CHAIN_ID,
    TYPED_DATA_SIGN_TYPE_STRING,
    Side,
    SignatureType,
)
from bot.protocol.money import TickGrid, tick_grid

__all__ = [
    "OrderSigner",
    "Side",
    "SignedOrder",
    "address_word",
    "domain_separator",
    "dumps_body",
    "eip712_digest",
    "keccak256",
    "order_hash",
    "poly1271_digest",
    "split_poly1271_signature",
    "recover_digest_signer",
    "recover_order_signer",
    "recover_poly1271_owner",
    "wire_order_id",
    "to_checksum_address",
]

_WORD_BYTES: Final = 32
_UINT256_LIMIT: Final = 1 << 256
_UINT8_LIMIT: Final = 1 << 8
_SIGNATURE_BYTES: Final = 65
_V_OFFSET: Final = 27  # Ethereum's v = recovery id + 27 (eth_signTypedData_v4)
_EIP712_PREFIX: Final = b"\x19\x01"
_ZERO_METADATA_BUILDER_WORDS: Final = bytes(2 * _WORD_BYTES)  # metadata and builder: we send neither
_SUPPORTED_SIGNATURE_TYPES: Final = frozenset(SignatureType)


# --- keccak-256 ---------------------------------------------------------------------------------------
# safe-pysha3's public `keccak_256` (a C extension; ~2x faster than reusing one sponge in pycryptodome's
# C library through its private `_raw_keccak_lib` handle, ~5x faster than pycryptodome's public
# `keccak.new`): `ops/bench_keccak.py` measures every candidate.


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (Ethereum's, not SHA3-256) of `data`."""
    return _keccak_256(data).digest()


# --- addresses and words ------------------------------------------------------------------------------


def _hex_body(value: str, n_bytes: int, name: str) -> str:
    if not isinstance(value, str) or len(value) != 2 + 2 * n_bytes or value[:2] not in ("0x", "0X"):
        raise ValueError(f"{name} must be 0x + {2 * n_bytes} hex digits")
    body = value[2:]
    try:
        bytes.fromhex(body)
    except ValueError:
        raise ValueError(f"{name} must be 0x + {2 * n_bytes} hex digits") from None
    return body


def to_checksum_address(address: str | bytes) -> str:
    """EIP-55 checksummed form of a 20-byte address (hex string of any case, or raw bytes).

    ValueError if it is not 20 bytes, or if a mixed-case string carries a wrong checksum.
    """
    if isinstance(address, bytes):
        if len(address) != 20:
            raise ValueError("address must be 20 bytes")
        body = address.hex()
        given = None
    else:
        given = _hex_body(address, 20, "address")
        body = given.lower()
    nibbles = keccak256(body.encode()).hex()
    checksummed = "0x" + "".join(
        char.upper() if char.isalpha() and int(nibbles[i], 16) >= 8 else char for i, char in enumerate(body)
    )
    if given is not None and given != given.lower() and given != given.upper() and given != checksummed[2:]:
        raise ValueError(f"address {address} has an invalid EIP-55 checksum")
    return checksummed


def address_word(address: str) -> bytes:
    """An address as its 32-byte ABI word (12 zero bytes + 20 address bytes)."""
    return bytes(12) + bytes.fromhex(_hex_body(address, 20, "address"))


def _uint_word(value: int, name: str, limit: int = _UINT256_LIMIT) -> bytes:
    if type(value) is not int or not 0 <= value < limit:
        raise ValueError(f"{name} must be an int in [0, {limit})")
    return value.to_bytes(_WORD_BYTES, "big")


def _checked_uint(value: int, name: str) -> int:
    if type(value) is not int or not 0 <= value < _UINT256_LIMIT:
        raise ValueError(f"{name} must be an int in [0, 2**256)")
    return value


def _bytes32_word(value: str, name: str) -> bytes:
    return bytes.fromhex(_hex_body(value, _WORD_BYTES, name))


def _address_from_public_key(public_key: PublicKey) -> str:
    return to_checksum_address(keccak256(public_key.format(compressed=False)[1:])[-20:])


# --- EIP-712 ----------------------------------------------------------------------------------------

_DOMAIN_TYPE_HASH: Final = keccak256(EIP712_DOMAIN_TYPE_STRING.encode())
_ORDER_TYPE_HASH: Final = keccak256(ORDER_TYPE_STRING.encode())
_domain_separators: dict[tuple[int, bool], bytes] = {}


def domain_separator(chain_id: int = POLYGON_CHAIN_ID, neg_risk: bool = False) -> bytes:
    """The V2 exchange domain separator for a chain (standard or neg-risk contract), computed once."""
    key = (chain_id, bool(neg_risk))
    separator = _domain_separators.get(key)
    if separator is None:
        try:
            contract = EXCHANGE_V2_BY_CHAIN[chain_id][1 if neg_risk else 0]
        except KeyError:
            raise ValueError(f"no V2 exchange known for chain id {chain_id}") from None
        separator = keccak256(
            _DOMAIN_TYPE_HASH
            + keccak256(CTF_EXCHANGE_DOMAIN_NAME.encode())
            + keccak256(CTF_EXCHANGE_V2_DOMAIN_VERSION.encode())
            + _uint_word(chain_id, "chain_id")
            + address_word(contract)
        )
        _domain_separators[key] = separator
    return separator


def eip712_digest(separator: bytes, struct_hash: bytes) -> bytes:
    """keccak256(0x1901 ‖ domainSeparator ‖ hashStruct): what is signed, and for orders the order id."""
    return keccak256(_EIP712_PREFIX + separator + struct_hash)


# --- POLY_1271 (ERC-7739 TypedDataSign over the Order; spec 12.1) ----------------------------------

_TYPED_DATA_SIGN_TYPE_HASH: Final = keccak256(TYPED_DATA_SIGN_TYPE_STRING.encode())
_DEPOSIT_WALLET_NAME_HASH: Final = keccak256(DEPOSIT_WALLET_DOMAIN_NAME.encode())
_DEPOSIT_WALLET_VERSION_HASH: Final = keccak256(DEPOSIT_WALLET_DOMAIN_VERSION.encode())
_ORDER_TYPE_BYTES: Final = ORDER_TYPE_STRING.encode()
# What follows the ECDSA part and the two 32-byte words: the contents type and its uint16 length.
_POLY1271_TYPE_TAIL: Final = _ORDER_TYPE_BYTES + len(_ORDER_TYPE_BYTES).to_bytes(2, "big")
_POLY1271_MIN_BYTES: Final = _SIGNATURE_BYTES + 2 * _WORD_BYTES + len(_POLY1271_TYPE_TAIL)


def _typed_data_sign_tail(chain_id: int, wallet: str) -> bytes:
    # name, version, chainId, verifyingContract (the wallet), salt (zero): the wallet's own domain fields.
    return (
        _DEPOSIT_WALLET_NAME_HASH
        + _DEPOSIT_WALLET_VERSION_HASH
        + _uint_word(chain_id, "chain_id")
        + address_word(wallet)
        + bytes(_WORD_BYTES)
    )


def poly1271_digest(separator: bytes, struct_hash: bytes, *, wallet: str, chain_id: int) -> bytes:
    """The digest a deposit wallet's owner signs for an order (ERC-7739 nested EIP-712).

    `keccak(0x1901 ‖ exchange separator ‖ keccak(TYPEHASH ‖ contents ‖ wallet domain fields))`, where
    the contents is the Order struct hash. source: PY2 `_build_poly_1271_order_signature`.
    """
    wrapped = keccak256(_TYPED_DATA_SIGN_TYPE_HASH + struct_hash + _typed_data_sign_tail(chain_id, wallet))
    return eip712_digest(separator, wrapped)


def split_poly1271_signature(signature_hex: str) -> tuple[str, bytes, bytes, str]:
    """(65-byte ECDSA hex, app domain separator, contents hash, contents type) of a type-3 signature.

    ValueError when it is not `0x` hex of the ERC-7739 layout (a plain 65-byte signature included).
    """
    if not isinstance(signature_hex, str) or signature_hex[:2] not in ("0x", "0X"):
        raise ValueError("signature must be 0x-prefixed hex")
    try:
        raw = bytes.fromhex(signature_hex[2:])
    except ValueError:
        raise ValueError("signature must be 0x-prefixed hex") from None
    if len(raw) < _SIGNATURE_BYTES + 2 * _WORD_BYTES + 2:
        raise ValueError("not an ERC-7739 wrapped signature")
    type_length = int.from_bytes(raw[-2:], "big")
    start = _SIGNATURE_BYTES + 2 * _WORD_BYTES
    if len(raw) != start + type_length + 2:
        raise ValueError("ERC-7739 contents type length does not match")
    try:
        contents_type = raw[start : start + type_length].decode()
    except UnicodeDecodeError:
        raise ValueError("ERC-7739 contents type is not UTF-8") from None
    ecdsa = "0x" + raw[:_SIGNATURE_BYTES].hex()
    return ecdsa, raw[65:97], raw[97:129], contents_type


def _order_struct_hash(
    salt: int,
    maker_signer_words: bytes,
    token_id: int,
    maker_amount: int,
    taker_amount: int,
    side_type_words: bytes,
    timestamp_ms: int,
    metadata_builder_words: bytes,
) -> bytes:
    # Field order is the type string's; the encoding of each value is its 32-byte ABI word.
    return keccak256(
        b"".join(
            (
                _ORDER_TYPE_HASH,
                salt.to_bytes(32, "big"),
                maker_signer_words,
                token_id.to_bytes(32, "big"),
                maker_amount.to_bytes(32, "big"),
                taker_amount.to_bytes(32, "big"),
                side_type_words,
                timestamp_ms.to_bytes(32, "big"),
                metadata_builder_words,
            )
        )
    )


def _parse_token_id(token_id: str) -> int:
    # The wire carries the string and the signature the integer: they must denote the same number.
    if type(token_id) is not str:
        raise ValueError("token_id must be a decimal string")
    return _parse_token_id_text(token_id)


# A market has two tokens and a process follows a few markets: caching the parse saves ~1 µs per order.
@functools.lru_cache(maxsize=1024)
def _parse_token_id_text(token_id: str) -> int:
    if not token_id.isdigit() or not token_id.isascii():
        raise ValueError("token_id must be a decimal string")
    value = int(token_id)
    if str(value) != token_id or value >= _UINT256_LIMIT:
        raise ValueError("token_id must be a canonical decimal uint256")
    return value


def order_hash(
    *,
    salt: int,
    maker: str,
    signer: str,
    token_id: str,
    maker_amount: int,
    taker_amount: int,
    side: Side,
    signature_type: int,
    timestamp_ms: int,
    metadata: str = BYTES32_ZERO,
    builder: str = BYTES32_ZERO,
    neg_risk: bool = False,
    chain_id: int = POLYGON_CHAIN_ID,
) -> str:
    """The order id (`0x` + 64 lowercase hex): the EIP-712 digest of the V2 order. ValueError if malformed."""
    struct_hash = _order_struct_hash(
        _checked_uint(salt, "salt"),
        address_word(maker) + address_word(signer),
        _parse_token_id(token_id),
        _checked_uint(maker_amount, "maker_amount"),
        _checked_uint(taker_amount, "taker_amount"),
        _uint_word(int(Side(side)), "side", _UINT8_LIMIT)
        + _uint_word(signature_type, "signature_type", _UINT8_LIMIT),
        _checked_uint(timestamp_ms, "timestamp_ms"),
        _bytes32_word(metadata, "metadata") + _bytes32_word(builder, "builder"),
    )
    return "0x" + eip712_digest(domain_separator(chain_id, neg_risk), struct_hash).hex()


def _parse_signature(signature_hex: str) -> bytes:
    """65-byte r‖s‖v (v = 27/28, or 0/1) → coincurve's r‖s‖recid. ValueError if malformed."""
    raw = bytes.fromhex(_hex_body(signature_hex, _SIGNATURE_BYTES, "signature"))
    v = raw[64]
    recovery_id = v - _V_OFFSET if v >= _V_OFFSET else v
    if recovery_id not in (0, 1):
        raise ValueError("signature v must be 27 or 28")
    return raw[:64] + bytes((recovery_id,))


def recover_digest_signer(digest: bytes, signature_hex: str) -> str:
    """Checksummed address whose key produced `signature_hex` over the 32-byte `digest`.

    A wrong or tampered signature yields a different address or ValueError; compare with the expected one.
    """
    recoverable = _parse_signature(signature_hex)
    if len(digest) != _WORD_BYTES:
        raise ValueError("digest must be 32 bytes")
    try:
        public_key = PublicKey.from_signature_and_message(recoverable, digest, hasher=None)
    except ValueError as exc:  # r or s out of range, or no curve point for r
        raise ValueError("signature does not recover a public key") from exc
    return _address_from_public_key(public_key)


def _wire_str(order: Mapping[str, Any], key: str) -> str:
    value = order.get(key)
    if not isinstance(value, str):
        raise ValueError(f"order field {key!r} must be a string")
    return value


def _wire_uint(order: Mapping[str, Any], key: str, *, as_string: bool) -> int:
    value = order.get(key)
    if as_string:
        if not isinstance(value, str) or not value.isascii() or not value.isdigit():
            raise ValueError(f"order field {key!r} must be a decimal string")
        value = int(value)
    elif type(value) is not int:
        raise ValueError(f"order field {key!r} must be an integer")
    if not 0 <= value < _UINT256_LIMIT:
        raise ValueError(f"order field {key!r} is out of uint256 range")
    return value


def recover_order_signer(
    wire_order: Mapping[str, Any], *, neg_risk: bool, chain_id: int = POLYGON_CHAIN_ID
) -> tuple[str, str]:
    """(order_id, recovered checksummed signer) of a wire order, for the simulator's verification.

    `wire_order` is the `"order"` object of a POST /order body (the whole body is accepted too). The
    caller compares the recovered address with the order's `signer` field; a tampered field or signature
    recovers another address. ValueError when a field is missing or malformed (→ "Invalid order payload").
    """
    order, digest = _wire_order_digest(wire_order, neg_risk=neg_risk, chain_id=chain_id)
    return "0x" + digest.hex(), recover_digest_signer(digest, _wire_str(order, "signature"))


def recover_poly1271_owner(
    wire_order: Mapping[str, Any], *, neg_risk: bool, chain_id: int = POLYGON_CHAIN_ID
) -> tuple[str, str]:
    """(order_id, recovered owner) of a type-3 wire order: what a deposit wallet's ERC-1271 check sees.

    Like Solady's nested-EIP-712 validation: the signature must carry this exchange's domain separator,
    this order's struct hash and the `Order` contents type; the ECDSA part is then recovered over the
    `TypedDataSign` digest whose verifying contract is the order's `signer` (the wallet). The caller
    compares the result with the wallet's owner. ValueError when malformed or not the wrapped layout.
    """
    order, struct_hash, separator = _wire_order_struct(wire_order, neg_risk=neg_risk, chain_id=chain_id)
    ecdsa, app_separator, contents_hash, contents_type = split_poly1271_signature(
        _wire_str(order, "signature")
    )
    if app_separator != separator or contents_hash != struct_hash or contents_type != ORDER_TYPE_STRING:
        raise ValueError("the wrapped signature is for another order, exchange or type")
    digest = poly1271_digest(separator, struct_hash, wallet=_wire_str(order, "signer"), chain_id=chain_id)
    return "0x" + eip712_digest(separator, struct_hash).hex(), recover_digest_signer(digest, ecdsa)


def wire_order_id(wire_order: Mapping[str, Any], *, neg_risk: bool, chain_id: int = POLYGON_CHAIN_ID) -> str:
    """The order id of a wire order from its fields alone (the signature is not read). ValueError if malformed."""
    return "0x" + _wire_order_digest(wire_order, neg_risk=neg_risk, chain_id=chain_id)[1].hex()


def _wire_order_digest(
    wire_order: Mapping[str, Any], *, neg_risk: bool, chain_id: int
) -> tuple[Mapping[str, Any], bytes]:
    order, struct_hash, separator = _wire_order_struct(wire_order, neg_risk=neg_risk, chain_id=chain_id)
    return order, eip712_digest(separator, struct_hash)


def _wire_order_struct(
    wire_order: Mapping[str, Any], *, neg_risk: bool, chain_id: int
) -> tuple[Mapping[str, Any], bytes, bytes]:
    order = wire_order.get("order", wire_order) if isinstance(wire_order, Mapping) else None
    if not isinstance(order, Mapping):
        raise ValueError("order must be a JSON object")
    side_text = order.get("side")
    if side_text not in ("BUY", "SELL"):
        raise ValueError("order field 'side' must be 'BUY' or 'SELL'")
    signature_type = order.get("signatureType")
    if type(signature_type) is not int or not 0 <= signature_type < _UINT8_LIMIT:
        raise ValueError("order field 'signatureType' must be a uint8 integer")
    token_id = _parse_token_id(_wire_str(order, "tokenId"))
    struct_hash = _order_struct_hash(
        _wire_uint(order, "salt", as_string=False),
        address_word(_wire_str(order, "maker")) + address_word(_wire_str(order, "signer")),
        token_id,
        _wire_uint(order, "makerAmount", as_string=True),
        _wire_uint(order, "takerAmount", as_string=True),
        _uint_word(int(Side[side_text]), "side") + _uint_word(signature_type, "signatureType"),
        _wire_uint(order, "timestamp", as_string=True),
        _bytes32_word(_wire_str(order, "metadata"), "metadata")
        + _bytes32_word(_wire_str(order, "builder"), "builder"),
    )
    return order, struct_hash, domain_separator(chain_id, neg_risk)


# --- the signed order and its wire form ---------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class SignedOrder:
    """A signed V2 order; `order_id` is its EIP-712 digest, the id the venue will report.

    Amounts are integers in 1e6 units (BUY: maker = pUSD, taker = shares; SELL: the reverse).
    `expiration` is unix seconds (0 = none) and is not covered by the signature.
    """

    salt: int
    maker: str
    signer: str
    token_id: str
    maker_amount: int
    taker_amount: int
    side: Side
    signature_type: int
    timestamp_ms: int
    metadata: str
    builder: str
    expiration: int
    signature: str
    order_id: str

    def to_wire(
        self, owner: str, order_type: str = "GTC", post_only: bool = False, defer_exec: bool = False
    ) -> dict[str, Any]:
        """The POST /order body (one element of a POST /orders array), key order and types as PY2 sends.

        ValueError for an unknown order type, or post-only with FOK/FAK (the SDKs refuse it too).
        """
        if order_type not in ORDER_TYPES:
            raise ValueError(f"unknown order type {order_type!r}")
        if post_only and order_type in MARKET_ORDER_TYPES:
            raise ValueError(ERR_POST_ONLY_WITH_MARKET_TYPE)
        return {
            "order": {
                "salt": self.salt,
                "maker": self.maker,
                "signer": self.signer,
                "tokenId": self.token_id,
                "makerAmount": str(self.maker_amount),
                "takerAmount": str(self.taker_amount),
                "side": "BUY" if self.side == Side.BUY else "SELL",
                "expiration": str(self.expiration),
                "signatureType": int(self.signature_type),
                "timestamp": str(self.timestamp_ms),
                "metadata": self.metadata,
                "builder": self.builder,
                "signature": self.signature,
            },
            "owner": owner,
            "orderType": order_type,
            "deferExec": defer_exec,
            "postOnly": post_only,
        }


def _dumps_reference(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def dumps_body(obj: Any) -> bytes:
    """The exact request bytes: identical to PY2's `json.dumps(obj, separators=(",", ":"),
    ensure_ascii=False)` encoded as UTF-8 (what it sends and HMAC-signs).

    orjson writes the same bytes for strings, ints, bools, None, lists and str-keyed dicts (subclasses
    such as str-enums included) and is ~20x faster. Floats are the one type both accept but print
    differently ("1e-05" vs "1e-5"), so a body holding a float takes the stdlib path, as does anything
    orjson refuses (ints beyond 64 bits, non-str keys), which then fails or succeeds exactly like PY2.
    """
    if not _contains_float(obj):
        try:
            return orjson.dumps(obj)
        except (orjson.JSONEncodeError, TypeError):
            pass
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _contains_float(obj: Any) -> bool:
    kind = type(obj)
    if kind is dict or kind is list or kind is tuple:
        values = obj.values() if kind is dict else obj
    elif isinstance(obj, dict | list | tuple):
        values = obj.values() if isinstance(obj, dict) else obj
    else:
        return isinstance(obj, float)
    for value in values:
        kind = type(value)
        # Leaves of request bodies first: a type identity test is far cheaper than a recursive call.
        if kind is str or kind is int or kind is bool or value is None:
            continue
        if _contains_float(value):
            return True
    return False


# --- the signer -------------------------------------------------------------------------------------


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class OrderSigner:
    """Signs V2 orders for one key; the key never appears in repr, str, pickles or errors.

    Signature types: 0 EOA (maker = signer), 1 POLY_PROXY and 2 POLY_GNOSIS_SAFE (maker = `funder`, the
    proxy or safe; signer = the EOA), 3 POLY_1271 (maker = signer = `funder`, the deposit wallet; the key
    is its owner and signs the ERC-7739 wrapper). `address` is always the key's own address (L1 auth).
    Which kind needs what is `bot.protocol.wallets`; this class only signs.
    """

    __slots__ = (
        "_domain_separators",
        "_key",
        "_maker_signer_words",
        "_now_ms",
        "_salt_random",
        "_poly1271_suffixes",
        "_side_type_words",
        "_typed_data_sign_tail",
        "order_signer",
        "address",
        "chain_id",
        "funder",
        "signature_type",
    )

    address: str
    funder: str
    order_signer: str
    chain_id: int
    signature_type: SignatureType

    def __init__(
        self,
        private_key_hex: str,
        *,
        chain_id: int = POLYGON_CHAIN_ID,
        signature_type: int = SignatureType.EOA,
        funder: str | None = None,
        now_ms: Callable[[], int] | None = None,
        salt_random: Callable[[], float] | None = None,
    ) -> None:
        """`now_ms` (the orders' timestamp and the salt's bound) and `salt_random` default to the wall
        clock and the global `random`, as the official client; a paper run passes its own clock and a
        seeded generator, so the same seed signs the same orders."""
        self._now_ms = now_ms or _now_ms
        self._salt_random = salt_random or random.random
        try:
            key_bytes = bytes.fromhex(private_key_hex.removeprefix("0x"))
            if len(key_bytes) != _WORD_BYTES:
                raise ValueError
            self._key = PrivateKey(key_bytes)
        except Exception:
            # `from None`: the original exception could quote the key material.
            raise ValueError("private key must be 0x + 64 hex digits of a valid secp256k1 key") from None
        try:
            sig_type = SignatureType(signature_type)
        except ValueError:
            raise ValueError(f"unknown signature type {signature_type!r}") from None
        if sig_type not in _SUPPORTED_SIGNATURE_TYPES:
            raise ValueError(f"signature type {sig_type.name} is not supported")
        # (standard, neg-risk); ValueError early for an unknown chain.
        self._domain_separators = (domain_separator(chain_id, False), domain_separator(chain_id, True))
        self.chain_id = chain_id
        self.signature_type = sig_type
        self.address = _address_from_public_key(self._key.public_key)
        if funder is None:
            if sig_type != SignatureType.EOA:
                raise ValueError(
                    f"signature type {sig_type.name} needs the funder (proxy, safe or deposit wallet) address"
                )
            self.funder = self.address
        else:
            self.funder = to_checksum_address(funder)
            if sig_type == SignatureType.EOA and self.funder != self.address:
                raise ValueError(
                    "an EOA order's maker must be the signer; use signature type 1 or 2 for a funder"
                )
        # The order's `signer` field: the key's address, except for a deposit wallet (the wallet itself).
        self.order_signer = self.funder if sig_type == SignatureType.POLY_1271 else self.address
        self._maker_signer_words = address_word(self.funder) + address_word(self.order_signer)
        self._typed_data_sign_tail = _typed_data_sign_tail(chain_id, self.funder)
        # What follows the ECDSA part of a type-3 signature, per exchange: separator ‖ (contents hash) ‖ type.
        self._poly1271_suffixes = tuple(
            (separator.hex(), _POLY1271_TYPE_TAIL.hex()) for separator in self._domain_separators
        )
        self._side_type_words = {
            side: _uint_word(int(side), "side") + _uint_word(int(sig_type), "sig") for side in Side
        }

    def __repr__(self) -> str:
        return (
            f"OrderSigner(address={self.address}, funder={self.funder}, "
            f"signature_type={self.signature_type.name}, chain_id={self.chain_id})"
        )

    def __reduce__(self) -> Any:
        raise TypeError("OrderSigner holds a private key and cannot be pickled")

    def sign_digest(self, digest: bytes) -> str:
        """65-byte `0x` hex signature r‖s‖v (v = 27/28) of a 32-byte EIP-712 digest."""
        raw = self._key.sign_recoverable(digest, hasher=None)
        return "0x" + raw[:64].hex() + format(raw[64] + _V_OFFSET, "02x")

    def sign(
        self,
        *,
        token_id: str,
        maker_amount: int,
        taker_amount: int,
        side: Side,
        neg_risk: bool = False,
        salt: int | None = None,
        timestamp_ms: int | None = None,
        expiration: int = 0,
    ) -> SignedOrder:
        """Sign an order from raw 1e6-unit amounts. ValueError if a field is out of range.

        `salt` and `timestamp_ms` default like PY2 (random salt below now in ms; now in ms).
        """
        return self._sign(
            token_id, maker_amount, taker_amount, side, neg_risk, salt, timestamp_ms, expiration
        )

    def _sign(
        self,
        token_id: str,
        maker_amount: int,
        taker_amount: int,
        side: Side,
        neg_risk: bool,
        salt: int | None,
        timestamp_ms: int | None,
        expiration: int,
    ) -> SignedOrder:
        if salt is None or timestamp_ms is None:
            now_ms = self._now_ms()
            if timestamp_ms is None:
                timestamp_ms = now_ms
            if salt is None:
                salt = int(self._salt_random() * now_ms)  # PY2 generate_order_salt: random below now_ms
        if type(side) is not Side:
            side = Side(side)
        if not (
            type(salt) is int
            and type(maker_amount) is int
            and type(taker_amount) is int
            and type(timestamp_ms) is int
            and type(expiration) is int
            and 0 <= salt < _UINT256_LIMIT
            and 0 <= maker_amount < _UINT256_LIMIT
            and 0 <= taker_amount < _UINT256_LIMIT
            and 0 <= timestamp_ms < _UINT256_LIMIT
            and 0 <= expiration < _UINT256_LIMIT
        ):
            for name, value in (
                ("salt", salt),
                ("maker_amount", maker_amount),
                ("taker_amount", taker_amount),
                ("timestamp_ms", timestamp_ms),
                ("expiration", expiration),
            ):
                _checked_uint(value, name)
        struct_hash = _order_struct_hash(
            salt,
            self._maker_signer_words,
            _parse_token_id(token_id),
            maker_amount,
            taker_amount,
            self._side_type_words[side],
            timestamp_ms,
            _ZERO_METADATA_BUILDER_WORDS,
        )
        separator = self._domain_separators[1 if neg_risk else 0]
        digest = eip712_digest(separator, struct_hash)
        if self.signature_type == SignatureType.POLY_1271:
            signature = self._sign_poly1271(separator, struct_hash, neg_risk)
        else:
            signature = self.sign_digest(digest)
        return SignedOrder(
            salt,
            self.funder,
            self.order_signer,
            token_id,
            maker_amount,
            taker_amount,
            side,
            int(self.signature_type),
            timestamp_ms,
            BYTES32_ZERO,
            BYTES32_ZERO,
            expiration,
            signature,
            "0x" + digest.hex(),
        )

    def _sign_poly1271(self, separator: bytes, struct_hash: bytes, neg_risk: bool) -> str:
        # Inline `poly1271_digest` with the wallet's tail precomputed: two extra keccaks per order.
        wrapped = keccak256(_TYPED_DATA_SIGN_TYPE_HASH + struct_hash + self._typed_data_sign_tail)
        separator_hex, type_tail_hex = self._poly1271_suffixes[1 if neg_risk else 0]
        return (
            self.sign_digest(eip712_digest(separator, wrapped))
            + separator_hex
            + struct_hash.hex()
            + type_tail_hex
        )

    def build_limit(
        self,
        *,
        token_id: str,
        price: float | Decimal | str,
        size_shares: float | Decimal | str | int,
        side: Side,
        tick_size: str,
        neg_risk: bool = False,
        expiration: int = 0,
        salt: int | None = None,
        timestamp_ms: int | None = None,
    ) -> SignedOrder:
        """Sign a limit order of `size_shares` at `price`, amounts exactly as PY2's OrderBuilder.

        Stricter than the SDK (which silently rounds): ValueError if the price is off the tick grid or
        outside [tick, 1 − tick], or if the size floors to zero shares.
        """
        _check_price(price, tick_size, "price")
        maker_amount, taker_amount = _nonzero(limit_order_amounts(side, size_shares, price, tick_size),
                                              "size {!r} at price {!r}", size_shares, price)
        return self._sign(
            token_id, maker_amount, taker_amount, side, neg_risk, salt, timestamp_ms, expiration
        )

    def build_market(
        self,
        *,
        token_id: str,
        amount: float | Decimal | str | int,
        price_cap: float | Decimal | str,
        side: Side,
        tick_size: str,
        neg_risk: bool = False,
        salt: int | None = None,
        timestamp_ms: int | None = None,
    ) -> SignedOrder:
        """Sign a market (FOK/FAK) order: a BUY spends `amount` **pUSD**, a SELL sells `amount` shares.

        `price_cap` is the worst price accepted (BUY: highest, SELL: lowest); it must be on the tick grid
        and inside [tick, 1 − tick]. Amounts exactly as PY2's `get_market_order_amounts` (price floored);
        expiration is always 0. ValueError on a bad price or an amount that floors to zero.
        """
        _check_price(price_cap, tick_size, "price_cap")
        maker_amount, taker_amount = _nonzero(market_order_amounts(side, amount, price_cap, tick_size),
                                              "amount {!r} at price cap {!r}", amount, price_cap)
        return self._sign(token_id, maker_amount, taker_amount, side, neg_risk, salt, timestamp_ms, 0)

    def build_limit_units(
        self,
        *,
        token_id: str,
        price_ticks: int,
        size_micro: int,
        side: Side,
        tick_size: str,
        neg_risk: bool = False,
        expiration: int = 0,
        salt: int | None = None,
        timestamp_ms: int | None = None,
    ) -> SignedOrder:
        """Sign a limit order from integers: `price_ticks` of the tick grid, `size_micro` shares × 10⁶.

        The engine's path: no float between the strategy and the signature. ValueError if the price is
        outside [1, max − 1] ticks or the size floors to zero shares.
        """
        grid = _units_grid(price_ticks, tick_size, "price")
        maker_amount, taker_amount = _nonzero(
            limit_order_units(side, size_micro, grid.price_micro(price_ticks), tick_size),
            "size {}e-6 at {} ticks", size_micro, price_ticks,
        )
        return self._sign(
            token_id, maker_amount, taker_amount, side, neg_risk, salt, timestamp_ms, expiration
        )

    def build_market_units(
        self,
        *,
        token_id: str,
        amount_micro: int,
        price_cap_ticks: int,
        side: Side,
        tick_size: str,
        neg_risk: bool = False,
        salt: int | None = None,
        timestamp_ms: int | None = None,
    ) -> SignedOrder:
        """Sign a market (FOK/FAK) order from integers: a BUY spends `amount_micro` **pUSD** × 10⁶.

        The cap is signed at exactly `price_cap_ticks` (the reference client's float floor can sign one
        tick lower; see `bot.protocol.amounts`). ValueError on a cap outside the grid's range or a zero amount.
        """
        grid = _units_grid(price_cap_ticks, tick_size, "price_cap")
        maker_amount, taker_amount = _nonzero(
            market_order_units(side, amount_micro, grid.price_micro(price_cap_ticks), tick_size),
            "amount {}e-6 at cap {} ticks", amount_micro, price_cap_ticks,
        )
        return self._sign(token_id, maker_amount, taker_amount, side, neg_risk, salt, timestamp_ms, 0)


def _nonzero(amounts: tuple[int, int], what: str, *args: object) -> tuple[int, int]:
    """(maker, taker) amounts as given; ValueError "<what> gives a zero amount" if either is not positive
    (`what` a format of `args`, formatted only then: the check is on the signing path)."""
    if amounts[0] <= 0 or amounts[1] <= 0:
        raise ValueError(f"{what.format(*args)} gives a zero amount")
    return amounts


def _units_grid(price_ticks: int, tick_size: str, name: str) -> TickGrid:
    grid = tick_grid(tick_size)
    if type(price_ticks) is not int or not 1 <= price_ticks <= grid.max_ticks - 1:
        raise ValueError(f"{name} {price_ticks!r} ticks is outside [1, {grid.max_ticks - 1}] of the {tick_size} grid")
    return grid


def _check_price(price: float | Decimal | str, tick_size: str, name: str) -> None:
    round_config(tick_size)
    if not price_in_range(price, tick_size):
        raise ValueError(f"{name} {price!r} is outside [{tick_size}, 1 - {tick_size}]")
    if not price_on_tick_grid(price, tick_size):
        raise ValueError(f"{name} {price!r} is not on the {tick_size} tick grid")
