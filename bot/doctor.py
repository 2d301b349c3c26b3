"""`python -m bot doctor`: can this account trade? Every set-up check, one table, a fix for each failure.

Guarantees: exit 0 (`EXIT_OK`) only when no check failed (warnings allowed); `EXIT_DOCTOR` (8) when one
did; invalid settings exit 2 before the doctor runs (the CLI's settings path). Nothing is placed unless
`--test-order`: the order probe sends an order the venue must refuse (a GTD that expired an hour ago,
post-only, at the lowest price) so that its answer tells whether the venue accepts this wallet's maker,
signer and signature; `--test-order` places one post-only BUY at the lowest price and cancels it. No
output carries a secret: the table shows addresses and venue texts only.

Checks, in order (a failed prerequisite turns later checks into `skip`): key, wallet, clock, API
credentials, closed-only, geoblock, markets, order probe, balance, allowances, heartbeat, journal,
test order. Sources: docs/protocol/polymarket-clob.md §1.1 (endpoints), §2 (auth), §5.3 (texts), §9
(balances and approvals), §12.1 (deposit wallets); bot.protocol.wallets (each kind's rules).
"""

from __future__ import annotations

import argparse
import enum
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TextIO

import httpx

from bot.exit_codes import EXIT_CONFIG, EXIT_DOCTOR, EXIT_OK
from bot.protocol.auth import ApiCreds
from bot.protocol.constants import (
    NEG_RISK_ADAPTER,
    NEG_RISK_EXCHANGE_V2,
    STANDARD_EXCHANGE_V2,
    Side,
    SignatureType,
)
from bot.protocol.errors import InvalidHeartbeatId, VenueError
from bot.protocol.messages import MarketInfo
from bot.protocol.rest import ClobRestClient, venue_deadline
from bot.protocol.signing import OrderSigner
from bot.protocol.wallets import WALLET_RULES, Wallet
from settings import BotMode, BotSettings

__all__ = ["Check", "Doctor", "Status", "cli_doctor", "doctor_command", "format_table"]

LIVE_GEOBLOCK_URL: Final = "https://polymarket.com/api/geoblock"  # docs, Trading → Geographic restrictions
_SIM_GEOBLOCK_PATH: Final = "/api/geoblock"
_SIM_GAMMA_PATH: Final = "/gamma"
# Users report the venue refusing POLY_TIMESTAMPs about a minute off (spec 2.2, UNCONFIRMED window):
# fail well inside it.
DEFAULT_MAX_SKEW_S: Final = 10.0
_PROBE_EXPIRED_S: Final = 3600  # the probe's GTD expired this long ago: the venue must refuse it
_COLLATERAL: Final = "COLLATERAL"
# Venue texts of wallet-level refusals (spec 5.3, 12.1; bot.sim.wallets mirrors them).
_MAKER_NOT_ALLOWED: Final = "maker address not allowed"
_INVALID_SIGNATURE: Final = "invalid signature"
_SIGNER_MISMATCH: Final = "the order signer address has to be the address of the API KEY"
_CLOSED_ONLY: Final = "closed only mode"
_BANNED: Final = "address banned"
_GEOBLOCKED: Final = "restricted in your region"


# What BOT_FUNDER_ADDRESS must be after switching to a kind (bot.protocol.wallets.WALLET_RULES).
_FUNDER_FOR_KIND: Final = {
    0: "and unset BOT_FUNDER_ADDRESS",
    1: "and BOT_FUNDER_ADDRESS = the proxy on your polymarket.com profile",
    2: "and BOT_FUNDER_ADDRESS = the safe on your polymarket.com profile",
    3: "and unset BOT_FUNDER_ADDRESS: the deposit wallet is derived",
}


class Status(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Check:
    """One row of the table: what was checked, its status, what was seen, and the fix when it failed."""

    name: str
    status: Status
    detail: str
    fix: str = ""


class Doctor:
    """Runs the checks against one venue for one configured account; see the module docstring."""

    def __init__(
        self,
        settings: BotSettings,
        *,
        clob_url: str,
        gamma_url: str | None,
        geoblock_url: str | None,
        transport: httpx.AsyncBaseTransport | None = None,
        now_s: Callable[[], float] = time.time,
        max_skew_s: float = DEFAULT_MAX_SKEW_S,
        test_order: bool = False,
        selectors: Sequence[str] | None = None,
    ) -> None:
        self._settings = settings
        self._clob_url = clob_url
        self._gamma_url = gamma_url
        self._geoblock_url = geoblock_url
        self._transport = transport
        self._now_s = now_s
        self._max_skew_s = max_skew_s
        self._test_order = test_order
        self._selectors = list(selectors or [settings.market])
        self._checks: list[Check] = []
        self._signer: OrderSigner | None = None
        self._wallet: Wallet | None = None
        self._markets: list[MarketInfo] = []
        self._api_key = ""  # the order `owner` (public); its secret and passphrase stay in the client

    def __repr__(self) -> str:
        failed = sum(c.status is Status.FAIL for c in self._checks)
        return f"<Doctor venue={self._clob_url} checks={len(self._checks)} failed={failed}>"

    def _add(self, name: str, status: Status, detail: str, fix: str = "") -> Check:
        check = Check(name, status, detail, fix)
        self._checks.append(check)
        return check

    def _skip(self, *names: str, why: str) -> None:
        for name in names:
            self._add(name, Status.SKIP, why)

    @property
    def _timeout_s(self) -> float:
        return self._settings.request_timeout_s

    # --- the run ----------------------------------------------------------------------------------

    async def run(self) -> list[Check]:
        """Every check, in order; never raises for a venue failure (it becomes a FAIL row)."""
        venue_checks = ("clock", "api credentials", "closed-only", "geoblock", "markets", "order probe",
                        "balance", "allowances", "heartbeat")
        if not self._check_key_and_wallet():
            self._skip(*venue_checks, why="needs a usable key and wallet")
            self._check_journal()
            return self._checks
        assert self._signer is not None
        async with ClobRestClient(
            self._clob_url, address=self._signer.address, creds=None, transport=self._transport,
            time_s=lambda: int(self._now_s()),
            # The order probe goes the way the bot's orders will (the lane, or httpx when it is off).
            order_lane=None if self._settings.order_lane else False,
            order_lane_idle_s=self._settings.order_lane_idle_s,
        ) as rest:
            await self._check_clock(rest)
            if not await self._check_credentials(rest):
                self._skip(*venue_checks[2:], why="needs working API credentials")
            else:
                await self._check_closed_only(rest)
                await self._check_geoblock()
                await self._check_markets(rest)
                await self._check_order_probe(rest)
                body = await self._check_balance(rest)
                self._check_allowances(body)
                await self._check_heartbeat(rest)
            self._check_journal()
            if self._test_order:
                await self._place_test_order(rest)
        return self._checks

    # --- local checks -----------------------------------------------------------------------------

    def _check_key_and_wallet(self) -> bool:
        settings = self._settings
        if settings.private_key is None:
            self._add("key", Status.FAIL, "no private key configured",
                      "set BOT_PRIVATE_KEY (0x + 64 hex digits) to the key of your account (the wallet's owner)")
            self._skip("wallet", why="needs the key")
            return False
        self._wallet = wallet = settings.wallet()
        self._add("key", Status.OK, f"parses; address {wallet.key_address}")
        self._signer = OrderSigner(
            settings.private_key.get_secret_value(), chain_id=settings.chain_id,
            signature_type=int(settings.signature_type), funder=wallet.funder,
        )
        rules = wallet.rules
        detail = f"{rules.name} (signature_type {int(rules.signature_type)}); maker {wallet.maker}, signer {wallet.signer}"
        if wallet.funder_differs_from_derived:
            self._add("wallet", Status.FAIL, f"wrong funder: {detail}; the key's deposit wallet is "
                      f"{wallet.derived_funder}",
                      "unset BOT_FUNDER_ADDRESS to use the deposit wallet derived from this key (or set it to "
                      f"{wallet.derived_funder}); a different wallet works only if this key is its approved "
                      "session signer")
            return True
        if wallet.derived_funder is not None and wallet.configured_funder is None:
            detail += " (derived)"
        self._add("wallet", Status.OK, detail)
        return True

    def _check_journal(self) -> None:
        path = self._settings.journal_path
        if path is None:
            self._add("journal", Status.OK, "no journal configured (BOT_JOURNAL_PATH unset)")
            return
        problem = _unwritable(path)
        if problem:
            self._add("journal", Status.FAIL, f"{path}: {problem}",
                      f"make {path.parent} exist and be writable by this user, or set BOT_JOURNAL_PATH elsewhere")
        else:
            self._add("journal", Status.OK, f"{path} is writable")

    # --- venue checks -----------------------------------------------------------------------------

    async def _check_clock(self, rest: ClobRestClient) -> None:
        try:
            with venue_deadline(self._timeout_s, "GET /time"):
                venue_s = await rest.get_server_time()
        except VenueError as exc:
            self._add("clock", Status.FAIL, f"GET /time failed: {exc}",
                      f"check BOT_CLOB_URL ({self._clob_url}) and the network")
            return
        skew_s = self._now_s() - venue_s
        detail = f"local clock {skew_s:+.1f} s against the venue's GET /time"
        if abs(skew_s) > self._max_skew_s:
            self._add("clock", Status.FAIL, f"clock skew: {detail} (limit ±{self._max_skew_s:g} s)",
                      "sync the system clock (e.g. `timedatectl set-ntp true` or `chronyc makestep`): the "
                      "venue refuses stale request timestamps and orders would expire early or late")
        else:
            self._add("clock", Status.OK, detail)

    async def _check_credentials(self, rest: ClobRestClient) -> bool:
        settings = self._settings
        assert self._signer is not None
        configured = settings.api_key is not None and settings.api_secret is not None and settings.api_passphrase is not None
        try:
            if configured:
                assert settings.api_key and settings.api_secret and settings.api_passphrase
                creds = ApiCreds(settings.api_key.get_secret_value(), settings.api_secret.get_secret_value(),
                                 settings.api_passphrase.get_secret_value())
                how = "configured"
            else:
                with venue_deadline(self._timeout_s * 2, "API key create/derive"):
                    creds = await rest.create_or_derive_api_key(self._signer)
                how = "derived from the key"
            rest.use_creds(creds)
            self._api_key = creds.api_key
            with venue_deadline(self._timeout_s, "GET /auth/api-keys"):
                await rest.get_api_keys()
        except VenueError as exc:
            fix = ("the configured BOT_API_KEY/SECRET/PASSPHRASE are refused: unset all three to derive them "
                   "from the key" if configured else "the venue would not create or derive an API key for this key: "
                   "check the key and that the account exists (log in once on polymarket.com)")
            self._add("api credentials", Status.FAIL, f"refused: {exc.message}", fix)
            return False
        self._add("api credentials", Status.OK, f"{how}; L2 calls accepted")
        return True

    async def _check_closed_only(self, rest: ClobRestClient) -> None:
        try:
            with venue_deadline(self._timeout_s, "GET closed-only"):
                closed_only = await rest.get_closed_only()
        except VenueError as exc:
            self._add("closed-only", Status.WARN, f"could not ask: {exc.message}")
            return
        if closed_only:
            self._add("closed-only", Status.FAIL, "closed-only: the venue accepts only cancels from this account",
                      "the venue put the account in closed-only mode; contact Polymarket support; cancels still work")
        else:
            self._add("closed-only", Status.OK, "not closed-only")

    async def _check_geoblock(self) -> None:
        if self._geoblock_url is None:
            self._add("geoblock", Status.SKIP, "no geoblock URL")
            return
        try:
            with venue_deadline(self._timeout_s, "GET geoblock"):
                async with httpx.AsyncClient(transport=self._transport, timeout=None) as client:
                    response = await client.get(self._geoblock_url)
            body = response.json()
            blocked = body.get("blocked") if isinstance(body, dict) else None
        except (VenueError, httpx.HTTPError, ValueError) as exc:
            self._add("geoblock", Status.WARN, f"could not ask {self._geoblock_url}: {type(exc).__name__}")
            return
        if blocked is True:
            where = body.get("country") or "?"
            self._add("geoblock", Status.FAIL, f"geoblocked: orders from this IP (country {where}) are refused",
                      "run the bot from a region where Polymarket allows trading (docs: Geographic restrictions)")
        elif blocked is False:
            self._add("geoblock", Status.OK, "not geoblocked")
        else:
            self._add("geoblock", Status.WARN, "unexpected geoblock answer")

    async def _check_markets(self, rest: ClobRestClient) -> None:
        from bot.ops_commands import ResolveError, resolve_markets

        try:
            refs = await resolve_markets(self._selectors, self._settings, self._gamma_url, self._now_s(),
                                         transport=self._transport)
        except ResolveError as exc:
            self._add("markets", Status.FAIL, f"unknown market: {exc}",
                      "check BOT_MARKET (a condition id or slug) and BOT_SERIES ('{asset}-updown-{N}m')")
            return
        rows, failed = [], False
        for ref in refs:
            try:
                with venue_deadline(self._timeout_s, "GET /markets/{condition_id}"):
                    info = await rest.get_market(ref.condition_id)
            except VenueError as exc:
                failed = True
                rows.append(f"{ref.label}: unknown market ({exc.message})")
                continue
            self._markets.append(info)
            fee = await self._fee_text(rest, info)
            state = "accepting orders" if info.accepting_orders else "NOT accepting orders"
            rows.append(f"{info.market_slug or ref.label}: {state}, tick {info.minimum_tick_size}, "
                        f"min size {info.minimum_order_size}, {fee}, {'neg-risk' if info.neg_risk else 'standard'}")
        if failed or not refs:
            what = "; ".join(rows) or f"no market listed for {', '.join(self._selectors)}"
            self._add("markets", Status.FAIL, f"unknown market: {what}",
                      "check BOT_MARKET (a condition id or slug) and BOT_SERIES ('{asset}-updown-{N}m')")
        elif not any(m.accepting_orders for m in self._markets):
            self._add("markets", Status.WARN, "; ".join(rows))
        else:
            self._add("markets", Status.OK, "; ".join(rows))

    async def _fee_text(self, rest: ClobRestClient, info: MarketInfo) -> str:
        try:
            with venue_deadline(self._timeout_s, "GET /clob-markets"):
                compact = await rest.get_clob_market(info.condition_id)
        except VenueError:
            return "fees unknown"
        fees = compact.get("fd")
        return f"fees {fees}" if fees not in (None, "", {}) else "no taker fee listed"

    def _probe_market(self) -> tuple[MarketInfo, str] | None:
        for info in self._markets:
            if info.accepting_orders and info.tokens:
                return info, info.tokens[0].token_id
        return None

    async def _check_order_probe(self, rest: ClobRestClient) -> None:
        target = self._probe_market()
        if target is None:
            self._add("order probe", Status.SKIP, "no market accepting orders to probe")
            return
        info, token_id = target
        assert self._signer is not None and self._wallet is not None
        tick = format(info.minimum_tick_size.normalize(), "f")
        order = self._signer.build_limit(
            token_id=token_id, price=tick, size_shares=max(info.minimum_order_size, Decimal(1)), side=Side.BUY,
            tick_size=tick, neg_risk=info.neg_risk, expiration=int(self._now_s()) - _PROBE_EXPIRED_S,
        )
        wire = order.to_wire(self._api_key, "GTD", post_only=True)
        with venue_deadline(self._timeout_s, "POST /order (probe)"):
            result = await rest.post_order(wire)
        if result.ok:  # the venue took an expired order: take it back at once, and say so
            with venue_deadline(self._timeout_s, "DELETE /order"):
                await rest.cancel_order(order.order_id)
            self._add("order probe", Status.WARN, "the venue ACCEPTED an expired GTD (cancelled at once)")
            return
        message = result.error.message if result.error is not None else ""
        self._add_probe_answer(message)

    def _add_probe_answer(self, message: str) -> None:
        wallet = self._wallet
        assert wallet is not None
        kind = int(wallet.rules.signature_type)
        text = message.lower()
        if _MAKER_NOT_ALLOWED in text:
            self._add("order probe", Status.FAIL, f"migrated account: the venue refuses {wallet.rules.name} makers "
                      f"({message})",
                      "this account trades through a deposit wallet: set BOT_SIGNATURE_TYPE=3, unset "
                      "BOT_FUNDER_ADDRESS (derived), move the pUSD into the deposit wallet and approve it "
                      "(README, Going live)")
        elif _INVALID_SIGNATURE in text or _SIGNER_MISMATCH.lower() in text:
            fix = ("the venue does not accept this maker for this key: "
                   + ("BOT_FUNDER_ADDRESS must be the proxy/safe shown on your polymarket.com profile, and "
                      "BOT_SIGNATURE_TYPE 1 (email/Magic) or 2 (browser wallet) must match it" if kind in (1, 2)
                      else "check BOT_SIGNATURE_TYPE (0 EOA, 1 proxy, 2 safe, 3 deposit wallet) and BOT_FUNDER_ADDRESS"))
            self._add("order probe", Status.FAIL, f"wrong signature type or funder: the venue says {message!r}", fix)
        elif _CLOSED_ONLY in text or _BANNED in text:
            self._add("order probe", Status.FAIL, f"closed-only: {message}",
                      "the venue refuses new orders from this account; contact Polymarket support")
        elif _GEOBLOCKED in text:
            self._add("order probe", Status.FAIL, f"geoblocked: {message}",
                      "run the bot from a region where Polymarket allows trading")
        else:
            # Refused for the order itself (expired, balance...): maker, signer and signature passed.
            self._add("order probe", Status.OK, f"maker, signer and signature accepted (refused as expected: {message})")

    async def _check_balance(self, rest: ClobRestClient) -> dict[str, Any] | None:
        wallet = self._wallet
        assert wallet is not None
        kind = wallet.rules.balance_signature_type
        try:
            with venue_deadline(self._timeout_s * 2, "balance-allowance"):
                await rest.update_balance_allowance(_COLLATERAL, signature_type=kind)
                body = await rest.get_balance_allowance(_COLLATERAL, signature_type=kind)
        except VenueError as exc:
            self._add("balance", Status.FAIL, f"balance-allowance refused: {exc.message}",
                      "check BOT_SIGNATURE_TYPE (the venue reads the wallet it names)")
            return None
        units = _units(body.get("balance"))
        if units > 0:
            self._add("balance", Status.OK, f"{units / 1e6:,.2f} pUSD in {wallet.buying_power_address} (after update)")
            return body
        holder = await self._other_kind_with_pusd(rest, kind)
        if holder is not None:
            other, other_units = holder
            self._add("balance", Status.FAIL,
                      f"wrong signature type: 0 pUSD for signature_type {kind}, but signature_type {other} "
                      f"({WALLET_RULES[SignatureType(other)].name}) holds {other_units / 1e6:,.2f} pUSD",
                      f"set BOT_SIGNATURE_TYPE={other} ({_FUNDER_FOR_KIND[other]}), or move the pUSD to the "
                      "configured wallet")
        else:
            extra = " (pUSD on the owner EOA does not count for a deposit wallet)" if kind == 3 else ""
            self._add("balance", Status.FAIL, f"zero balance: 0 pUSD in {wallet.buying_power_address}{extra}",
                      f"deposit pUSD to {wallet.buying_power_address}, then rerun (doctor calls "
                      "balance-allowance/update itself)")
        return body

    async def _other_kind_with_pusd(self, rest: ClobRestClient, kind: int) -> tuple[int, int] | None:
        for other in SignatureType:
            if int(other) == kind:
                continue
            try:
                with venue_deadline(self._timeout_s, "balance-allowance (other kinds)"):
                    body = await rest.get_balance_allowance(_COLLATERAL, signature_type=int(other))
            except VenueError:
                continue
            units = _units(body.get("balance"))
            if units > 0:
                return int(other), units
        return None

    def _check_allowances(self, body: dict[str, Any] | None) -> None:
        if body is None:
            self._add("allowances", Status.SKIP, "no balance-allowance answer")
            return
        allowances = body.get("allowances") if isinstance(body.get("allowances"), dict) else {}
        by_lower = {str(k).lower(): v for k, v in allowances.items()}
        needed = {STANDARD_EXCHANGE_V2: "standard exchange"}
        if any(m.neg_risk for m in self._markets):
            needed |= {NEG_RISK_EXCHANGE_V2: "neg-risk exchange", NEG_RISK_ADAPTER: "neg-risk adapter"}
        missing = [f"{name} {address}" for address, name in needed.items() if _units(by_lower.get(address.lower())) <= 0]
        if missing:
            wallet = self._wallet
            assert wallet is not None
            self._add("allowances", Status.FAIL, f"no allowance: {', '.join(missing)}",
                      f"approve pUSD (and the CTF tokens) for these contracts from {wallet.buying_power_address} "
                      "(the polymarket.com 'enable trading' step, or the relayer for a deposit wallet), then rerun")
        else:
            self._add("allowances", Status.OK, "pUSD approved for " + ", ".join(needed.values()))

    async def _check_heartbeat(self, rest: ClobRestClient) -> None:
        try:
            with venue_deadline(self._timeout_s, "POST /v1/heartbeats"):
                await rest.post_heartbeat("")
        except InvalidHeartbeatId:
            pass  # a chain is running (another process of this account?): the endpoint answers
        except VenueError as exc:
            self._add("heartbeat", Status.FAIL, f"POST /v1/heartbeats failed: {exc.message}",
                      "the bot stops when heartbeats fail: check the network and the venue status")
            return
        self._add("heartbeat", Status.OK, "POST /v1/heartbeats answers")

    async def _place_test_order(self, rest: ClobRestClient) -> None:
        target = self._probe_market()
        failed = any(c.status is Status.FAIL for c in self._checks)
        if target is None or failed:
            self._add("test order", Status.SKIP, "skipped: " + ("a check failed" if failed else "no market"))
            return
        info, token_id = target
        assert self._signer is not None
        tick = format(info.minimum_tick_size.normalize(), "f")
        order = self._signer.build_limit(
            token_id=token_id, price=tick, size_shares=max(info.minimum_order_size, Decimal(1)), side=Side.BUY,
            tick_size=tick, neg_risk=info.neg_risk,
        )
        with venue_deadline(self._timeout_s, "POST /order (test)"):
            result = await rest.post_order(order.to_wire(self._api_key, "GTC", post_only=True))
        if not result.ok:
            message = result.error.message if result.error is not None else "?"
            self._add("test order", Status.FAIL, f"refused: {message}", "see the failing checks above")
            return
        with venue_deadline(self._timeout_s, "DELETE /order (test)"):
            cancel = await rest.cancel_order(order.order_id)
        if order.order_id in cancel.canceled:
            self._add("test order", Status.OK, f"placed and cancelled {order.order_id[:12]}… at {tick}")
        else:
            self._add("test order", Status.FAIL, f"placed {order.order_id} but the cancel did not confirm",
                      "run `python -m bot cancel-all` now")


def _units(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def _unwritable(path: Path) -> str:
    """Why the journal at `path` could not be appended to ("" when it can): tried, not guessed."""
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return "is a directory"
    if not directory.is_dir():
        return f"directory {directory} does not exist"
    if path.exists():
        return "" if os.access(path, os.W_OK) else "file is not writable"
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-", delete=True):
            return ""
    except OSError as exc:
        return f"cannot create files in {directory} ({exc.strerror})"


# --- output and CLI -------------------------------------------------------------------------------


def format_table(checks: Sequence[Check]) -> str:
    """The table: one row per check, each failure followed by its `fix:` line."""
    width = max((len(c.name) for c in checks), default=5)
    lines = [f"{'check':<{width}}  {'status':<6}  detail"]
    for check in checks:
        lines.append(f"{check.name:<{width}}  {check.status.value:<6}  {check.detail}")
        if check.fix and check.status in (Status.FAIL, Status.WARN):
            lines.append(f"{'':<{width}}  {'':<6}  fix: {check.fix}")
    failed = [c.name for c in checks if c.status is Status.FAIL]
    lines.append("trading can start" if not failed else f"NOT READY: {len(failed)} failed ({', '.join(failed)})")
    return "\n".join(lines) + "\n"


async def doctor_command(
    args: argparse.Namespace,
    settings: BotSettings,
    *,
    out: TextIO,
    err: TextIO,
    transport: httpx.AsyncBaseTransport | None = None,
    now_s: Callable[[], float] = time.time,
) -> int:
    """`doctor`: print the table; EXIT_OK when trading can start, EXIT_DOCTOR otherwise, EXIT_CONFIG when
    there is no venue to ask."""
    clob_url = getattr(args, "clob_url", None) or settings.effective_clob_url
    if not clob_url:
        print("doctor: paper mode has no venue to examine: give --clob-url URL or BOT_CLOB_URL (e.g. the rest URL "
              "printed by `python -m bot sim`), or set BOT_MODE=live", file=err)
        return EXIT_CONFIG
    clob_url = clob_url.rstrip("/")
    gamma_url = getattr(args, "gamma_url", None) or settings.effective_gamma_url
    if gamma_url is None and settings.mode is BotMode.PAPER:
        gamma_url = clob_url + _SIM_GAMMA_PATH
    geoblock_url = getattr(args, "geoblock_url", None) or (
        LIVE_GEOBLOCK_URL if settings.mode is BotMode.LIVE else clob_url + _SIM_GEOBLOCK_PATH
    )
    doctor = Doctor(
        settings, clob_url=clob_url, gamma_url=gamma_url, geoblock_url=geoblock_url, transport=transport,
        now_s=now_s, max_skew_s=getattr(args, "max_skew_s", None) or DEFAULT_MAX_SKEW_S,
        test_order=bool(getattr(args, "test_order", False)), selectors=getattr(args, "market", None),
    )
    checks = await doctor.run()
    out.write(f"doctor: {clob_url}\n")
    out.write(format_table(checks))
    return EXIT_OK if not any(c.status is Status.FAIL for c in checks) else EXIT_DOCTOR


async def cli_doctor(args: argparse.Namespace, settings: BotSettings | None) -> int:
    """The CLI handler (`python -m bot doctor`)."""
    assert settings is not None
    return await doctor_command(args, settings, out=sys.stdout, err=sys.stderr)
