"""`python -m bot doctor` against the in-process simulator: exit 0 on a well-set account (EOA and deposit
wallet), and one distinct, actionable failure line (exit 8) for each set-up mistake the venue can show."""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from bot.doctor import doctor_command
from bot.exit_codes import EXIT_DOCTOR, EXIT_OK
from bot.protocol.signing import OrderSigner
from bot.protocol.wallets import deposit_wallet_address
from bot.sim.server import InProcessSim, open_inprocess_sim
from bot.sim.venue import SimVenue
from settings import BotSettings
from tests.sim.test_rest_app import EPOCH_S, SPEC

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # Hardhat 1, never funded
OWNER = OrderSigner(KEY).address
PUSD = 10**6
PAPER_PUSD = 10_000 * PUSD  # what the simulator gives a new key's own address


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("BOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
async def sim() -> AsyncIterator[InProcessSim]:
    venue = SimVenue(clock_epoch_s=EPOCH_S - trio.current_time(), markets=[SPEC], with_flow=False, seed=1)
    async with open_inprocess_sim(venue) as handle:
        yield handle


async def doctor(
    sim: InProcessSim, tmp_path: Path, *, skew_s: float = 0.0, test_order: bool = False, **overrides: Any
) -> tuple[int, str, set[str]]:
    """Run the doctor; (exit code, output, names of the failed checks)."""
    fields: dict[str, Any] = dict(mode="paper", private_key=KEY, market=SPEC.condition_id,
                                  journal_path=tmp_path / "journal.jsonl", request_timeout_s=2.0)
    settings = BotSettings(**(fields | overrides))
    args = argparse.Namespace(clob_url=sim.rest_url, gamma_url=sim.gamma_url, geoblock_url=None, market=None,
                              max_skew_s=None, test_order=test_order)
    out, err = io.StringIO(), io.StringIO()
    venue = sim.venue
    code = await doctor_command(args, settings, out=out, err=err, transport=sim.transport,
                                now_s=lambda: venue.now() + skew_s)
    text = out.getvalue() + err.getvalue()
    assert KEY[2:] not in text.lower()
    failed = {line.split("  ")[0].strip() for line in text.splitlines() if "  FAIL  " in line}
    return code, text, failed


def _empty_owner(sim: InProcessSim) -> None:
    """The key's own address opened and emptied before the doctor's API key funds it."""
    exchange = sim.venue.exchange
    exchange.ensure_account(OWNER)
    exchange.fund(OWNER, pusd_units=-exchange.accounts.pusd(OWNER))


async def test_a_well_set_eoa_account_is_ready_and_exits_0(autojump_clock, sim, tmp_path) -> None:
    code, text, failed = await doctor(sim, tmp_path)
    assert (code, failed) == (EXIT_OK, set()), text
    assert text.rstrip().endswith("trading can start")
    for name in ("key", "wallet", "clock", "api credentials", "closed-only", "geoblock", "markets", "order probe",
                 "balance", "allowances", "heartbeat", "journal"):
        assert any(line.startswith(name + " ") for line in text.splitlines()), name
    assert _our_orders(sim) == []  # the probe was refused: nothing was placed


def _our_orders(sim: InProcessSim) -> list[dict[str, Any]]:
    (api_key,) = sim.fronts.app.keys.keys_for(OWNER)
    return sim.venue.exchange.open_orders(api_key)


async def test_a_well_set_deposit_wallet_account_is_ready(autojump_clock, sim, tmp_path) -> None:
    _empty_owner(sim)
    sim.venue.exchange.fund(deposit_wallet_address(OWNER), pusd_units=50 * PUSD)
    code, text, failed = await doctor(sim, tmp_path, signature_type=3)
    assert (code, failed) == (EXIT_OK, set()), text
    assert "deposit wallet (POLY_1271)" in text and "50.00 pUSD" in text


async def test_test_order_places_and_cancels_one_post_only_order(autojump_clock, sim, tmp_path) -> None:
    code, text, failed = await doctor(sim, tmp_path, test_order=True)
    assert (code, failed) == (EXIT_OK, set()), text
    assert "placed and cancelled" in text
    assert _our_orders(sim) == []


async def test_wrong_funder(autojump_clock, sim, tmp_path) -> None:
    code, text, failed = await doctor(
        sim, tmp_path, signature_type=3, funder_address="0x1234567890abcdef1234567890abcdef12345678"
    )
    assert code == EXIT_DOCTOR and "wallet" in failed
    assert "wrong funder" in text and "unset BOT_FUNDER_ADDRESS" in text


async def test_wrong_signature_type(autojump_clock, sim, tmp_path) -> None:
    _empty_owner(sim)
    sim.venue.exchange.fund(deposit_wallet_address(OWNER), pusd_units=50 * PUSD)
    code, text, failed = await doctor(sim, tmp_path, signature_type=0)
    assert (code, failed) == (EXIT_DOCTOR, {"balance"}), text
    assert "wrong signature type" in text and "set BOT_SIGNATURE_TYPE=3" in text


async def test_migrated_account_with_an_eoa_maker(autojump_clock, sim, tmp_path) -> None:
    sim.venue.exchange.wallets.configure(OWNER, migrated=True)
    code, text, failed = await doctor(sim, tmp_path)
    assert (code, failed) == (EXIT_DOCTOR, {"order probe"}), text
    assert "migrated account" in text and "set BOT_SIGNATURE_TYPE=3" in text


async def test_no_allowance(autojump_clock, sim, tmp_path) -> None:
    sim.venue.exchange.wallets.set_approved(OWNER, False)
    code, text, failed = await doctor(sim, tmp_path)
    assert (code, failed) == (EXIT_DOCTOR, {"allowances"}), text
    assert "no allowance: standard exchange" in text and "fix: approve pUSD" in text


async def test_zero_balance(autojump_clock, sim, tmp_path) -> None:
    _empty_owner(sim)
    code, text, failed = await doctor(sim, tmp_path)
    assert (code, failed) == (EXIT_DOCTOR, {"balance"}), text
    assert f"zero balance: 0 pUSD in {OWNER}" in text and f"deposit pUSD to {OWNER}" in text


async def test_clock_skew(autojump_clock, sim, tmp_path) -> None:
    code, text, failed = await doctor(sim, tmp_path, skew_s=120.0)
    assert "clock" in failed and code == EXIT_DOCTOR, text
    assert "clock skew: local clock +120.0 s" in text and "sync the system clock" in text


async def test_closed_only(autojump_clock, sim, tmp_path) -> None:
    sim.venue.exchange.wallets.configure(OWNER, closed_only=True)
    code, text, failed = await doctor(sim, tmp_path)
    assert code == EXIT_DOCTOR and "closed-only" in failed, text
    assert "closed-only: the venue accepts only cancels" in text


async def test_unknown_market(autojump_clock, sim, tmp_path) -> None:
    code, text, failed = await doctor(sim, tmp_path, market="0x" + "99" * 32)
    assert code == EXIT_DOCTOR and "markets" in failed, text
    assert "unknown market" in text and "check BOT_MARKET" in text


async def test_unwritable_journal(autojump_clock, sim, tmp_path) -> None:
    code, text, failed = await doctor(sim, tmp_path, journal_path=tmp_path / "no-such-dir" / "journal.jsonl")
    assert (code, failed) == (EXIT_DOCTOR, {"journal"}), text
    assert "does not exist" in text and "set BOT_JOURNAL_PATH elsewhere" in text


async def test_geoblock(autojump_clock, sim, tmp_path) -> None:
    sim.venue.exchange.wallets.geoblocked = True
    code, text, failed = await doctor(sim, tmp_path)
    assert code == EXIT_DOCTOR and "geoblock" in failed, text
    assert "geoblocked: orders from this IP" in text
