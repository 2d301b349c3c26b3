"""Polymarket CLOB V2 protocol constants, each with the source it was taken from.

Spec: docs/protocol/polymarket-clob.md (section numbers below refer to it). Key "PY2" is the official
`py-clob-client-v2` 1.2.1 installed in the venv (the oracle). Nothing here is tunable: tunables live in
`settings/`. The error strings are the venue's exact texts; only `bot/protocol/errors.py` and the
simulator should read them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

__all__ = [
    "AMOY_CHAIN_ID",
    "BATCH_CANCEL_MAX",
    "BATCH_ORDERS_MAX",
    "BYTES32_ZERO",
    "CANCEL_REASON_ALREADY_CANCELED_OR_MATCHED",
    "CANCEL_REASON_ALREADY_DONE",
    "CANCEL_REASON_ALREADY_MATCHED",
    "CANCEL_REASON_NOT_FOUND",
    "CLOB_AUTH_DOMAIN_NAME",
    "CLOB_AUTH_DOMAIN_VERSION",
    "CLOB_AUTH_MESSAGE",
    "CLOB_AUTH_TYPE_STRING",
    "CLOB_AUTH_DOMAIN_TYPE_STRING",
    "COLLATERAL_PUSD",
    "CONDITIONAL_TOKENS",
    "CTF_EXCHANGE_DOMAIN_NAME",
    "CTF_EXCHANGE_V2_DOMAIN_VERSION",
    "END_CURSOR",
    "ERR_ADDRESS_BANNED_FMT",
    "ERR_ADDRESS_CLOSED_ONLY_FMT",
    "ERR_BALANCE_PREFIX",
    "ERR_CANCEL_ONLY",
    "ERR_COULD_NOT_INSERT",
    "ERR_CROSSES_BOOK_FMT",
    "ERR_DUPLICATED_FMT",
    "ERR_ENGINE_RESTARTING",
    "ERR_FAK_NO_MATCH",
    "ERR_FOK_NOT_FILLED",
    "ERR_INVALID_EXPIRATION",
    "ERR_INVALID_HEARTBEAT",
    "ERR_INVALID_L1",
    "ERR_INVALID_ORDER_ID",
    "ERR_INVALID_PAYLOAD",
    "ERR_MARKETABLE_BUY_MIN_FMT",
    "ERR_MARKET_NOT_READY",
    "ERR_AMOUNT_MISMATCH_FMT",
    "POLY_TIMESTAMP_TOLERANCE_S",
    "ERR_INVALID_AMOUNTS_PREFIX",
    "ERR_LIMIT_BUY_PRECISION_FMT",
    "ERR_MARKET_PRECISION",
    "ERR_MIN_SIZE_FMT",
    "ERR_ORDER_VERSION_MISMATCH",
    "ERR_OWNER_MISMATCH",
    "ERR_POST_ONLY_CROSSES",
    "ERR_POST_ONLY_MODE",
    "ERR_POST_ONLY_MODE_CODE",
    "ERR_POST_ONLY_WITH_MARKET_TYPE",
    "ERR_SELL_PRECISION",
    "ERR_SIGNER_MISMATCH",
    "ERR_TICK_FMT",
    "ERR_TOO_MANY_CANCELS_FMT",
    "ERR_TOO_MANY_ORDERS_FMT",
    "ERR_TOO_MANY_REQUESTS",
    "ERR_TRADING_DISABLED",
    "ERR_UNAUTHORIZED",
    "EXCHANGE_V2_BY_CHAIN",
    "HEARTBEAT_CADENCE_S",
    "HEARTBEAT_TIMEOUT_S",
    "INITIAL_CURSOR",
    "MARKETABLE_BUY_MIN_PUSD",
    "MARKET_ORDER_TYPES",
    "MIN_ORDER_SIZE_SHARES",
    "NEG_RISK_ADAPTER",
    "NEG_RISK_EXCHANGE_V2",
    "ORDER_TYPES",
    "ORDER_TYPE_STRING",
    "TYPED_DATA_SIGN_TYPE_STRING",
    "DEPOSIT_WALLET_BEACON",
    "DEPOSIT_WALLET_DOMAIN_NAME",
    "DEPOSIT_WALLET_DOMAIN_VERSION",
    "DEPOSIT_WALLET_FACTORY",
    "DEPOSIT_WALLET_LEGACY_IMPLEMENTATION",
    "POLYGON_CHAIN_ID",
    "POST_ONLY_MODE_S",
    "POST_ONLY_ORDER_TYPES",
    "ROUNDING_CONFIG",
    "GTD_SECURITY_THRESHOLD_S",
    "EIP712_DOMAIN_TYPE_STRING",
    "STANDARD_EXCHANGE_V2",
    "TOKEN_DECIMALS",
    "TOKEN_UNIT",
    "ZERO_ADDRESS",
    "RoundConfig",
    "Side",
    "SignatureType",
]


# --- chain and contracts (spec 3.1) ---------------------------------------------------------------

# source: PY2 constants.py (POLYGON = 137, AMOY = 80002)
POLYGON_CHAIN_ID: Final = 137
AMOY_CHAIN_ID: Final = 80002

# source: spec 3.1; PY2 config.py get_contract_config (exchange_v2, neg_risk_exchange_v2; same on both chains)
STANDARD_EXCHANGE_V2: Final = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE_V2: Final = "0xe2222d279d744050d28e00520010520000310F59"
# (standard, neg-risk) verifying contracts per chain id. source: PY2 config.py (identical for 137 and 80002)
EXCHANGE_V2_BY_CHAIN: Final[dict[int, tuple[str, str]]] = {
    POLYGON_CHAIN_ID: (STANDARD_EXCHANGE_V2, NEG_RISK_EXCHANGE_V2),
    AMOY_CHAIN_ID: (STANDARD_EXCHANGE_V2, NEG_RISK_EXCHANGE_V2),
}
# source: spec 3.1; PY2 config.py (collateral, conditional_tokens); adapter: spec 3.1 (the current V2 one)
COLLATERAL_PUSD: Final = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"
CONDITIONAL_TOKENS: Final = "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"
NEG_RISK_ADAPTER: Final = "0xadA2005600Dec949baf300f4C6120000bDB6eAab"

# source: PY2 constants.py ZERO_ADDRESS, BYTES32_ZERO
ZERO_ADDRESS: Final = "0x0000000000000000000000000000000000000000"
BYTES32_ZERO: Final = "0x0000000000000000000000000000000000000000000000000000000000000000"

# source: PY2 config.py (COLLATERAL_TOKEN_DECIMALS = CONDITIONAL_TOKEN_DECIMALS = 6)
TOKEN_DECIMALS: Final = 6
TOKEN_UNIT: Final = 10**TOKEN_DECIMALS


# --- EIP-712: the V2 order (spec 3.2, 3.3) ----------------------------------------------------------

# source: PY2 order_utils/model/ctf_exchange_v2_typed_data.py
CTF_EXCHANGE_DOMAIN_NAME: Final = "Polymarket CTF Exchange"
CTF_EXCHANGE_V2_DOMAIN_VERSION: Final = "2"
# source: PY2 order_utils/exchange_order_builder_v2.py DOMAIN_TYPE_STRING, ORDER_TYPE_STRING
EIP712_DOMAIN_TYPE_STRING: Final = (
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
ORDER_TYPE_STRING: Final = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,"
    "uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,"
    "uint256 timestamp,bytes32 metadata,bytes32 builder)"
)

# --- POLY_1271 deposit wallets (spec 12.1; docs/protocol/polymarket-clob.md §12.1) --------------------

# The ERC-7739 "nested EIP-712" wrapper a deposit wallet (Solady ERC1271) validates.
# source: PY2 order_utils/exchange_order_builder_v2.py SOLADY_TYPE_STRING, DEPOSIT_WALLET_NAME_HASH,
# DEPOSIT_WALLET_VERSION_HASH, DEPOSIT_WALLET_DOMAIN_SALT (zero)
TYPED_DATA_SIGN_TYPE_STRING: Final = (
    "TypedDataSign(Order contents,string name,string version,uint256 chainId,"
    "address verifyingContract,bytes32 salt)" + ORDER_TYPE_STRING
)
DEPOSIT_WALLET_DOMAIN_NAME: Final = "DepositWallet"
DEPOSIT_WALLET_DOMAIN_VERSION: Final = "1"
# Deterministic deposit-wallet address (docs, Trading → Deposit Wallets → "Deterministic Address
# Derivation"; spec 12.1). Factory and beacon: the docs (Polygon 137). The legacy UUPS implementation is
# UNCONFIRMED (third-party SDKs only): a setting, see settings/model.py.
DEPOSIT_WALLET_FACTORY: Final = "0x00000000000Fb5C9ADea0298D729A0CB3823Cc07"
DEPOSIT_WALLET_BEACON: Final = "0x7A18EDfe055488A3128f01F563e5B479D92ffc3a"
DEPOSIT_WALLET_LEGACY_IMPLEMENTATION: Final = "0x58CA52ebe0DadfdF531Cde7062e76746de4Db1eB"


class Side(enum.IntEnum):
    """Order side as signed (uint8); on the wire it is the name. source: PY2 order_utils/model/side.py"""

    BUY = 0
    SELL = 1


class SignatureType(enum.IntEnum):
    """Wallet kind of the maker. source: PY2 order_utils/model/signature_type_v2.py; spec 9."""

    EOA = 0
    POLY_PROXY = 1
    POLY_GNOSIS_SAFE = 2
    POLY_1271 = 3  # deposit wallets: maker = signer = the wallet; an ERC-7739-wrapped ERC-1271 signature


# --- EIP-712: L1 auth (spec 2.1) --------------------------------------------------------------------

# source: PY2 signing/eip712.py (CLOB_DOMAIN_NAME, CLOB_VERSION, MSG_TO_SIGN), signing/model.py (ClobAuth)
CLOB_AUTH_DOMAIN_NAME: Final = "ClobAuthDomain"
CLOB_AUTH_DOMAIN_VERSION: Final = "1"
CLOB_AUTH_MESSAGE: Final = "This message attests that I control the given wallet"
# No verifyingContract here. source: spec 2.1; poly_eip712_structs make_domain(name, version, chainId)
CLOB_AUTH_DOMAIN_TYPE_STRING: Final = "EIP712Domain(string name,string version,uint256 chainId)"
CLOB_AUTH_TYPE_STRING: Final = "ClobAuth(address address,string timestamp,uint256 nonce,string message)"


# --- amounts and rounding (spec 3.4) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoundConfig:
    """Decimal places for one tick size: price, size (shares) and derived amount."""

    price: int
    size: int
    amount: int


# source: PY2 order_builder/builder.py ROUNDING_CONFIG (same in PY1/TS2/PYSDK; spec 3.4)
ROUNDING_CONFIG: Final[dict[str, RoundConfig]] = {
    "0.1": RoundConfig(price=1, size=2, amount=3),
    "0.01": RoundConfig(price=2, size=2, amount=4),
    "0.005": RoundConfig(price=3, size=2, amount=5),
    "0.0025": RoundConfig(price=4, size=2, amount=6),
    "0.001": RoundConfig(price=3, size=2, amount=5),
    "0.0001": RoundConfig(price=4, size=2, amount=6),
}


# --- order types and limits (spec 1, 5, 7, 9) -------------------------------------------------------

# source: spec 5.1; PY2 clob_types.py OrderType
ORDER_TYPES: Final = frozenset({"GTC", "GTD", "FOK", "FAK"})
MARKET_ORDER_TYPES: Final = frozenset({"FOK", "FAK"})
POST_ONLY_ORDER_TYPES: Final = frozenset({"GTC", "GTD"})

# source: spec 1 (PY2 constants.py INITIAL_CURSOR / END_CURSOR)
INITIAL_CURSOR: Final = "MA=="
END_CURSOR: Final = "LTE="

# source: spec 10 item 8 and 5.3 (batch ≤ 15 orders; cancel batch ≤ 1000 per changelog Jun 15, 2026)
BATCH_ORDERS_MAX: Final = 15
BATCH_CANCEL_MAX: Final = 1000

# source: spec 9 ("normally 5 shares"; "Marketable BUYs additionally need ≥ $1")
MIN_ORDER_SIZE_SHARES: Final = 5
MARKETABLE_BUY_MIN_PUSD: Final = 1

# source: spec 1.4 (venue cancels all after 10 s without a valid beat; SDK cadence 5 s)
HEARTBEAT_TIMEOUT_S: Final = 10.0
HEARTBEAT_CADENCE_S: Final = 5.0

# source: spec 9 "Matching-engine restarts" (2 minutes of post-only mode after a restart)
POST_ONLY_MODE_S: Final = 120.0

# source: spec 5.1 (GTD "security threshold of one minute")
GTD_SECURITY_THRESHOLD_S: Final = 60


# --- exact venue error strings (spec 5.3; placement errors come as {"error": ...} or a batch errorMsg) ---
# `_FMT` strings take `str.format` fields; `_PREFIX` strings start a longer, variable message.

# source: spec 5.3 table "Placement"
ERR_INVALID_PAYLOAD: Final = "Invalid order payload"
ERR_INVALID_ORDER_ID: Final = "Invalid orderID"
ERR_OWNER_MISMATCH: Final = "the order owner has to be the owner of the API KEY"
ERR_SIGNER_MISMATCH: Final = "the order signer address has to be the address of the API KEY"
ERR_ADDRESS_BANNED_FMT: Final = "'{address}' address banned"
ERR_ADDRESS_CLOSED_ONLY_FMT: Final = "'{address}' address in closed only mode"
ERR_ORDER_VERSION_MISMATCH: Final = (
    "order_version_mismatch"  # also PY2 constants.py ORDER_VERSION_MISMATCH_ERROR
)
ERR_POST_ONLY_CROSSES: Final = "invalid post-only order: order crosses book"
ERR_POST_ONLY_WITH_MARKET_TYPE: Final = "invalid post-only order: only GTC and GTD order types are allowed"
ERR_TICK_FMT: Final = "order {id} is invalid. Price ({price}) breaks minimum tick size rule: {tick}"
ERR_MIN_SIZE_FMT: Final = "order {id} is invalid. Size ({size}) lower than the minimum: {min}"
ERR_DUPLICATED_FMT: Final = "order {id} is invalid. Duplicated."
ERR_CROSSES_BOOK_FMT: Final = "order {id} crosses the book"
# Live bodies continue, e.g. ": the balance is not enough -> balance: 0, order amount: 2000000".
ERR_BALANCE_PREFIX: Final = "not enough balance / allowance"
ERR_INVALID_EXPIRATION: Final = "invalid expiration"
ERR_FOK_NOT_FILLED: Final = "order couldn't be fully filled. FOK orders are fully filled or killed."
ERR_FAK_NO_MATCH: Final = (
    "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
)
ERR_MARKET_NOT_READY: Final = "the market is not yet ready to process new orders"
# `{amount}` is the notional as the venue prints it, e.g. "0.7" → "($0.7)".
ERR_MARKETABLE_BUY_MIN_FMT: Final = "invalid amount for a marketable BUY order (${amount}), min size: $1"
ERR_MARKET_PRECISION: Final = (
    "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 decimals, "
    "taker amount a max of 4 decimals"
)
ERR_SELL_PRECISION: Final = (
    "invalid amounts, the sell orders maker amount supports a max accuracy of 2 decimals"
)
# How far POLY_TIMESTAMP may be from the venue's clock before a 401 (spec 2.2: "Expired timestamps show up
# as 401"; users report about one minute; exact window UNCONFIRMED).
POLY_TIMESTAMP_TOLERANCE_S: Final = 60

# Limit (GTC/GTD) amount precision. source: 3P live bodies (Polymarket/py-clob-client issue #305, tick 0.01
# "max accuracy of 4 decimals"; Polymarket/clob-client issue #124, tick 0.001 "... of 5 decimals"): the
# pUSD leg carries at most the tick's `amount` decimals (ROUNDING_CONFIG), the share leg at most 2.
ERR_LIMIT_BUY_PRECISION_FMT: Final = (
    "invalid amounts, the buy orders maker amount supports a max accuracy of {maker_dp} decimals, "
    "taker amount a max of 2 decimals"
)
# An amount that is not exactly size × price. source: 3P live body (JKorf/Polymarket.Net issue #5:
# "invalid amounts, the taker amount for a $0.22 order of size 19.69 should be '4.3318' but the value
# submited is '4.33'. Please check ..."), the venue's spelling "submited" kept; `{leg}` is the pUSD leg
# ("maker" for a BUY is UNCONFIRMED, only the "taker" form is quoted).
ERR_AMOUNT_MISMATCH_FMT: Final = (
    "invalid amounts, the {leg} amount for a ${price} order of size {size} should be '{expected}' but the "
    "value submited is '{given}'. Please check if you are using the latest version of the 'clob-client' library"
)
# Every amount-precision text starts so (the classifier's catch-all for variants not listed here).
ERR_INVALID_AMOUNTS_PREFIX: Final = "invalid amounts"
ERR_TOO_MANY_ORDERS_FMT: Final = "Too many orders in payload: {n}, max allowed: {max}"
ERR_COULD_NOT_INSERT: Final = "could not insert order"

# source: spec 5.3 table "Cancel endpoints" (HTTP 200, the id lands in not_canceled with this reason)
ERR_TOO_MANY_CANCELS_FMT: Final = "Too many orders in payload, max allowed: {max}"
CANCEL_REASON_ALREADY_MATCHED: Final = "order already matched"  # docs example
CANCEL_REASON_ALREADY_CANCELED_OR_MATCHED: Final = "already canceled or matched"  # NT constant
CANCEL_REASON_ALREADY_DONE: Final = (CANCEL_REASON_ALREADY_MATCHED, CANCEL_REASON_ALREADY_CANCELED_OR_MATCHED)
CANCEL_REASON_NOT_FOUND: Final = "order not found"  # UNCONFIRMED text (spec 5.3); the simulator uses it

# source: spec 5.3 table "Global / transport"
ERR_UNAUTHORIZED: Final = "Unauthorized/Invalid api key"  # 401
ERR_INVALID_L1: Final = "Invalid L1 Request headers"  # 401
ERR_TOO_MANY_REQUESTS: Final = "Too Many Requests"  # 429
ERR_ENGINE_RESTARTING: Final = "the matching engine is restarting"  # 425, text UNCONFIRMED
ERR_TRADING_DISABLED: Final = "Trading is currently disabled. Check polymarket.com for updates"  # 503
ERR_CANCEL_ONLY: Final = (
    "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed."
)
ERR_POST_ONLY_MODE: Final = "post-only mode: only post-only orders and cancels are allowed"  # 503
ERR_POST_ONLY_MODE_CODE: Final = "post_only_mode"  # the "code" field beside ERR_POST_ONLY_MODE

# source: spec 1.4 (400 {"error_msg": "Invalid Heartbeat ID", "heartbeat_id": "<expected>"})
ERR_INVALID_HEARTBEAT: Final = "Invalid Heartbeat ID"
