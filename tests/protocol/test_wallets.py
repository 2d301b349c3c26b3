"""Wallet kinds: the rules table, the deposit-wallet CREATE2 derivation, and the settings that refuse
impossible combinations (one line naming the field, exit 2 through check-config)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak as ref_keccak
from eth_utils import to_checksum_address as ref_checksum

from bot.protocol.constants import DEPOSIT_WALLET_BEACON, DEPOSIT_WALLET_FACTORY, SignatureType
from bot.protocol.signing import keccak256
from bot.protocol.wallets import (
    WALLET_RULES,
    DepositWalletShape,
    WalletConfigError,
    create2_address,
    deposit_wallet_address,
    deposit_wallet_init_code,
    resolve_wallet,
)
from settings import SettingsError, load_settings

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OWNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # KEY's address
OTHER = "0x1234567890AbcdEF1234567890aBcdef12345678"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("BOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


# --- CREATE2 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deployer", "salt", "init_code", "expected"),
    [  # EIP-1014's own examples 0, 1 and 5
        ("0x0000000000000000000000000000000000000000", bytes(32), b"\x00",
         "0x4D1A2e2bB4F88F0250f26Ffff098B0b30B26BF38"),
        ("0xdeadbeef00000000000000000000000000000000", bytes(32), b"\x00",
         "0xB928f69Bb1D91Cd65274e3c79d8986362984fDA3"),
        ("0x00000000000000000000000000000000deadbeef", bytes.fromhex("00000000000000000000000000000000000000000000000000000000cafebabe"),
         bytes.fromhex("deadbeef"), "0x60f3f640a8508fC6a86d45DF051962668E1e8AC7"),
    ],
)
def test_create2_matches_the_eip_1014_examples(deployer, salt, init_code, expected) -> None:
    assert create2_address(deployer, salt, keccak256(init_code)) == expected


def test_the_beacon_proxy_init_code_is_soladys_layout_with_the_immutable_args() -> None:
    # Built independently: the prefix as one integer plus (len(args) << 56), as the venue's docs show it.
    args = abi_encode(["address", "bytes32"], [DEPOSIT_WALLET_FACTORY, bytes(12) + bytes.fromhex(OWNER[2:])])
    prefix = (0x6100523D8160233D3973 + (len(args) << 56)).to_bytes(10, "big")
    expected = (
        prefix
        + bytes.fromhex(DEPOSIT_WALLET_BEACON[2:])
        + bytes.fromhex("60195155f3363d3d373d3d363d602036600436635c60da")
        + bytes.fromhex("1b60e01b36527fa3f0ad74e5423aebfd80d3ef4346578335a9a72aeaee59ff6c")
        + bytes.fromhex("b3582b35133d50545afa5036515af43d6000803e604d573d6000fd5b3d6000f3")
        + args
    )
    assert deposit_wallet_init_code(OWNER) == expected and len(expected) == 117 + 64
    reference = ref_checksum(
        "0x" + ref_keccak(b"\xff" + bytes.fromhex(DEPOSIT_WALLET_FACTORY[2:]) + ref_keccak(args) + ref_keccak(expected))[12:].hex()
    )
    assert deposit_wallet_address(OWNER) == reference


def test_the_legacy_uups_shape_derives_another_address() -> None:
    uups = deposit_wallet_init_code(OWNER, shape=DepositWalletShape.UUPS)
    assert uups[:3] == bytes.fromhex("61007d") and len(uups) == 96 + 64  # 0x3d + 64 bytes of args
    assert deposit_wallet_address(OWNER, shape=DepositWalletShape.UUPS) != deposit_wallet_address(OWNER)
    assert deposit_wallet_address(OWNER) != deposit_wallet_address(OTHER)  # one wallet per owner


# --- the rules ----------------------------------------------------------------------------------------


def test_every_signature_type_has_rules_and_its_own_balance_signature_type() -> None:
    assert set(WALLET_RULES) == set(SignatureType)
    for kind, rules in WALLET_RULES.items():
        assert rules.balance_signature_type == int(kind)
    assert WALLET_RULES[SignatureType.POLY_1271].erc1271 and not WALLET_RULES[SignatureType.POLY_1271].signer_is_key
    assert WALLET_RULES[SignatureType.EOA].buying_power == "key"


def test_each_kind_resolves_to_the_maker_and_signer_the_venue_expects() -> None:
    eoa = resolve_wallet(OWNER, 0, None)
    assert (eoa.maker, eoa.signer, eoa.buying_power_address) == (OWNER, OWNER, OWNER)
    proxy = resolve_wallet(OWNER, 1, OTHER.lower())
    assert (proxy.maker, proxy.signer, proxy.buying_power_address) == (OTHER, OWNER, OTHER)
    derived = resolve_wallet(OWNER, 3, None)
    assert derived.maker == derived.signer == derived.funder == deposit_wallet_address(OWNER)
    assert derived.configured_funder is None and not derived.funder_differs_from_derived
    session = resolve_wallet(OWNER, 3, OTHER)
    assert (session.maker, session.signer, session.funder_differs_from_derived) == (OTHER, OTHER, True)


@pytest.mark.parametrize(
    ("signature_type", "funder", "message"),
    [
        (0, OTHER, "trades from the key's own address"),
        (1, None, "needs BOT_FUNDER_ADDRESS"),
        (2, None, "needs BOT_FUNDER_ADDRESS"),
        (2, OWNER, "not the key's own address"),
        (3, OWNER, "deposit wallet is a contract"),
        (7, None, "unknown signature type"),
    ],
)
def test_impossible_combinations_name_the_setting(signature_type, funder, message) -> None:
    with pytest.raises(WalletConfigError, match=message) as caught:
        resolve_wallet(OWNER, signature_type, funder)
    assert caught.value.field in ("funder_address", "signature_type")


# --- settings -----------------------------------------------------------------------------------------


def test_settings_refuse_an_impossible_combination_with_one_line_naming_the_field(monkeypatch) -> None:
    monkeypatch.setenv("BOT_PRIVATE_KEY", KEY)
    monkeypatch.setenv("BOT_SIGNATURE_TYPE", "2")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    (line,) = caught.value.lines
    assert line.startswith("invalid setting funder_address (BOT_FUNDER_ADDRESS): signature_type 2")
    assert KEY[2:] not in line


def test_a_proxy_without_funder_is_refused_even_without_a_key(monkeypatch) -> None:
    monkeypatch.setenv("BOT_SIGNATURE_TYPE", "1")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.lines[0].startswith("invalid setting funder_address (BOT_FUNDER_ADDRESS)")


def test_type_3_without_funder_derives_the_deposit_wallet(monkeypatch) -> None:
    monkeypatch.setenv("BOT_PRIVATE_KEY", KEY)
    monkeypatch.setenv("BOT_SIGNATURE_TYPE", "3")
    settings = load_settings()
    assert settings.funder_address is None and settings.wallet().funder == deposit_wallet_address(OWNER)
    monkeypatch.setenv("BOT_DEPOSIT_WALLET_SHAPE", "uups")
    legacy = load_settings().wallet().funder
    assert legacy == deposit_wallet_address(OWNER, shape=DepositWalletShape.UUPS)
