"""Each wallet kind's rules in one place: who is maker and signer, which signature, whose balance counts.

Guarantees: `WALLET_RULES` is the single table the signer, the settings check, `check-config`, `doctor`
and the simulator read; `resolve_wallet` turns (key, signature type, configured funder) into the
addresses an order carries, deriving a deposit wallet's address when none is configured, or raises
`WalletConfigError` naming the one setting to change. Nothing here signs or talks to the venue.

Sources: docs/protocol/polymarket-clob.md §3.2 (Order fields), §9 (funder and signature types), §12.1
(deposit wallets); py-clob-client-v2 `order_builder/builder.py` (`_v2_order_signer`: type 3 signs with
signer = funder) and `client.py` (`get_balance_allowance` sends the client's own `signature_type`).

Deposit-wallet address (docs, Trading → Deposit Wallets → "Deterministic Address Derivation"):
`args = abi.encode(factory, bytes32(owner))`, `salt = keccak256(args)`, address = CREATE2(factory, salt,
keccak256(init code)) where the init code is Solady LibClone's ERC-1967 beacon proxy with immutable
`args` (new wallets) or its ERC-1967 (UUPS) proxy of the implementation (legacy wallets). The byte
layouts below are Solady's `initCodeERC1967BeaconProxy(beacon, args)` and `initCodeERC1967(
implementation, args)`; the legacy implementation address is UNCONFIRMED (a setting).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from bot.protocol.constants import (
    DEPOSIT_WALLET_BEACON,
    DEPOSIT_WALLET_FACTORY,
    DEPOSIT_WALLET_LEGACY_IMPLEMENTATION,
    SignatureType,
)
from bot.protocol.signing import address_word, keccak256, to_checksum_address

__all__ = [
    "WALLET_RULES",
    "DepositWalletShape",
    "Wallet",
    "WalletConfigError",
    "WalletRules",
    "create2_address",
    "deposit_wallet_address",
    "deposit_wallet_init_code",
    "resolve_wallet",
]


class DepositWalletShape(enum.StrEnum):
    """Which proxy a deposit wallet is: new wallets are beacon proxies, older ones UUPS proxies."""

    BEACON = "beacon"
    UUPS = "uups"


@dataclass(frozen=True, slots=True)
class WalletRules:
    """What one signature type means on the venue."""

    signature_type: SignatureType
    name: str
    maker_is_key: bool  # maker = the key's own address (else the funder)
    signer_is_key: bool  # signer = the key's own address (else the funder: deposit wallets)
    funder_required: bool  # a funder address must be configured (deposit wallets: derived when absent)
    erc1271: bool  # the signature is ERC-7739-wrapped and validated by the wallet (ERC-1271)
    venue_derives_funder: bool  # the venue derives the maker from the signer (proxy, safe)
    buying_power: str  # whose pUSD the venue counts: "key" or "funder"
    funder_hint: str  # where an operator finds the funder address

    @property
    def balance_signature_type(self) -> int:
        """The `signature_type` query parameter GET /balance-allowance(/update) needs (PY2 client.py)."""
        return int(self.signature_type)


WALLET_RULES: Final[dict[SignatureType, WalletRules]] = {
    SignatureType.EOA: WalletRules(
        SignatureType.EOA, "EOA", True, True, False, False, False, "key",
        "none: the key's own address holds the pUSD",
    ),
    SignatureType.POLY_PROXY: WalletRules(
        SignatureType.POLY_PROXY, "proxy (email/Magic)", False, True, True, False, True, "funder",
        "the address shown on your polymarket.com profile (the proxy wallet)",
    ),
    SignatureType.POLY_GNOSIS_SAFE: WalletRules(
        SignatureType.POLY_GNOSIS_SAFE, "safe (browser wallet)", False, True, True, False, True, "funder",
        "the address shown on your polymarket.com profile (the Gnosis safe)",
    ),
    SignatureType.POLY_1271: WalletRules(
        SignatureType.POLY_1271, "deposit wallet (POLY_1271)", False, False, False, True, False, "funder",
        "the deposit wallet; derived from the key when unset",
    ),
}


class WalletConfigError(ValueError):
    """An impossible wallet configuration; `field` is the setting to change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Wallet:
    """The addresses one account's orders carry, and where the funder came from."""

    rules: WalletRules
    key_address: str  # the key's address: POLY_ADDRESS of every request, the API key's address
    maker: str
    signer: str
    funder: str  # = maker
    configured_funder: str | None
    derived_funder: str | None  # deposit wallets only: what the CREATE2 formula gives for this key

    @property
    def funder_differs_from_derived(self) -> bool:
        return (
            self.configured_funder is not None
            and self.derived_funder is not None
            and self.configured_funder != self.derived_funder
        )

    @property
    def buying_power_address(self) -> str:
        return self.key_address if self.rules.buying_power == "key" else self.funder


# --- CREATE2 and Solady's proxy init codes -------------------------------------------------------------

# Solady LibClone: `0x61 ‖ uint16(runtime size) ‖ 3d8160233d3973 ‖ address ‖ tail ‖ args`; the runtime
# size is the tail's base plus the args' length.
_INIT_HEAD: Final = bytes.fromhex("3d8160233d3973")
_ERC1967_BASE: Final = 0x3D
_ERC1967_TAIL: Final = bytes.fromhex(
    "6009"
    "5155f3363d3d373d3d363d7f360894a13ba1a3210667c828492db98dca3e2076"
    "cc3735a920a3ca505d382bbc545af43d6000803e6038573d6000fd5b3d6000f3"
)
_BEACON_BASE: Final = 0x52
_BEACON_TAIL: Final = bytes.fromhex(
    "60195155f3363d3d373d3d363d602036600436635c60da"
    "1b60e01b36527fa3f0ad74e5423aebfd80d3ef4346578335a9a72aeaee59ff6c"
    "b3582b35133d50545afa5036515af43d6000803e604d573d6000fd5b3d6000f3"
)
_UINT16_LIMIT: Final = 1 << 16


def create2_address(deployer: str, salt: bytes, init_code_hash: bytes) -> str:
    """EIP-1014: `keccak256(0xff ‖ deployer ‖ salt ‖ keccak256(init_code))[12:]`, checksummed."""
    if len(salt) != 32 or len(init_code_hash) != 32:
        raise ValueError("salt and init code hash must be 32 bytes")
    return to_checksum_address(keccak256(b"\xff" + address_word(deployer)[12:] + salt + init_code_hash)[12:])


def _proxy_init_code(base: int, target: str, tail: bytes, args: bytes) -> bytes:
    runtime_size = base + len(args)
    if runtime_size >= _UINT16_LIMIT:
        raise ValueError("immutable args too long for a Solady clone")
    return b"\x61" + runtime_size.to_bytes(2, "big") + _INIT_HEAD + address_word(target)[12:] + tail + args


def _wallet_args(owner: str, factory: str) -> bytes:
    # abi.encode(address factory, bytes32 walletId) with walletId = bytes32(owner) (left-padded).
    return address_word(factory) + address_word(owner)


def deposit_wallet_init_code(
    owner: str,
    *,
    shape: DepositWalletShape = DepositWalletShape.BEACON,
    factory: str = DEPOSIT_WALLET_FACTORY,
    beacon: str = DEPOSIT_WALLET_BEACON,
    implementation: str = DEPOSIT_WALLET_LEGACY_IMPLEMENTATION,
) -> bytes:
    """The init code the factory deploys for `owner`'s wallet (Solady's layout, immutable args appended)."""
    args = _wallet_args(owner, factory)
    if shape is DepositWalletShape.BEACON:
        return _proxy_init_code(_BEACON_BASE, beacon, _BEACON_TAIL, args)
    return _proxy_init_code(_ERC1967_BASE, implementation, _ERC1967_TAIL, args)


def deposit_wallet_address(
    owner: str,
    *,
    shape: DepositWalletShape = DepositWalletShape.BEACON,
    factory: str = DEPOSIT_WALLET_FACTORY,
    beacon: str = DEPOSIT_WALLET_BEACON,
    implementation: str = DEPOSIT_WALLET_LEGACY_IMPLEMENTATION,
) -> str:
    """The deterministic deposit-wallet address of `owner` (checksummed). ValueError on a bad address."""
    init_code = deposit_wallet_init_code(
        owner, shape=shape, factory=factory, beacon=beacon, implementation=implementation
    )
    salt = keccak256(_wallet_args(owner, factory))
    return create2_address(factory, salt, keccak256(init_code))


# --- resolution ---------------------------------------------------------------------------------------


def resolve_wallet(
    key_address: str,
    signature_type: int,
    configured_funder: str | None,
    *,
    shape: DepositWalletShape = DepositWalletShape.BEACON,
    factory: str = DEPOSIT_WALLET_FACTORY,
    beacon: str = DEPOSIT_WALLET_BEACON,
    implementation: str = DEPOSIT_WALLET_LEGACY_IMPLEMENTATION,
) -> Wallet:
    """The addresses orders of this account carry. WalletConfigError names the setting to fix.

    A configured deposit wallet that differs from the derived one is allowed (an approved session
    signer signs for another owner's wallet); `Wallet.funder_differs_from_derived` says so.
    """
    try:
        kind = SignatureType(signature_type)
    except ValueError:
        raise WalletConfigError("signature_type", f"unknown signature type {signature_type!r} (0-3)") from None
    rules = WALLET_RULES[kind]
    key = to_checksum_address(key_address)
    funder = to_checksum_address(configured_funder) if configured_funder is not None else None
    derived: str | None = None
    if kind is SignatureType.EOA:
        if funder is not None and funder != key:
            raise WalletConfigError(
                "funder_address",
                f"signature_type 0 (EOA) trades from the key's own address {key}; unset BOT_FUNDER_ADDRESS, "
                "or set BOT_SIGNATURE_TYPE to 1 (proxy), 2 (safe) or 3 (deposit wallet) for a separate funder",
            )
        funder = key
    elif kind is SignatureType.POLY_1271:
        derived = deposit_wallet_address(
            key, shape=shape, factory=factory, beacon=beacon, implementation=implementation
        )
        if funder == key:
            raise WalletConfigError(
                "funder_address",
                f"a deposit wallet is a contract, not the key's own address; unset BOT_FUNDER_ADDRESS to use "
                f"the derived wallet {derived}",
            )
        funder = funder or derived
    else:
        if funder is None:
            raise WalletConfigError(
                "funder_address",
                f"signature_type {int(kind)} ({rules.name}) needs BOT_FUNDER_ADDRESS: {rules.funder_hint}",
            )
        if funder == key:
            raise WalletConfigError(
                "funder_address",
                f"signature_type {int(kind)} ({rules.name}) trades from a wallet contract, not the key's own "
                "address; set BOT_FUNDER_ADDRESS to the wallet, or use signature_type 0 for the key itself",
            )
    signer = key if rules.signer_is_key else funder
    return Wallet(rules, key, funder, signer, funder, funder if configured_funder is not None else None, derived)
