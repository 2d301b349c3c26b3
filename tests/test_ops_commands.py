"""Operator commands against a real loopback simulator: `orders` lists what rests, `cancel-all` leaves
nothing (checked on the venue itself) and says "0 open orders left", or says NOT VERIFIED and exits 5
when it cannot prove it; `journal` filters by kind, market, order and time and survives a bad line.

The venue commands run as the operator runs them: `bot.cli.main([...])` in a worker thread (its own
`trio.run`), settings from the environment, against `serve_loopback` on 127.0.0.1 with a real clock.
The simulator's clock is pinned to the middle of a window so no market ends during a test.
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from bot import cli
from bot.engine.journal import Journal
from bot.exit_codes import EXIT_CONFIG, EXIT_FATAL_VENUE, EXIT_OK, EXIT_ORDERS_ELSEWHERE
from bot.ops_cancel_all import cancel_all_command
from bot.ops_commands import order_id_of_wire, parse_time_s
from bot.protocol.auth import ApiCreds
from bot.protocol.constants import Side
from bot.protocol.rest import ClobRestClient
from bot.protocol.signing import OrderSigner
from bot.sim.flow import SeriesSchedule
from bot.sim.model import MarketSpec
from bot.sim.rest_app import RestConfig
from bot.sim.server import LoopbackServer, serve_loopback
from bot.sim.venue import SimVenue
from settings import BotSettings

# Hardhat account 1: a well-known test key, never funded anywhere real.
TEST_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
WINDOW_S = 3600
WINDOW_START_S = 1_800_000_000  # a multiple of 3600: the windows align with it
SERIES = "btc-updown-15m"
TEST_TIMEOUT_S = 20


@dataclass
class Venue:
    server: LoopbackServer
    venue: SimVenue
    creds: ApiCreds
    signer: OrderSigner
    markets: list[MarketSpec]  # the current window's market first

    def open_on_venue(self, market: MarketSpec | None = None) -> list[dict[str, Any]]:
        """Our open orders as the exchange itself holds them (not through the commands)."""
        return self.venue.exchange.open_orders(self.creds.api_key, market=market.condition_id if market else None)


async def _place(venue: Venue, market: MarketSpec, token_id: str, price: str) -> str:
    async with ClobRestClient(venue.server.urls.rest, address=venue.signer.address, creds=venue.creds) as rest:
        order = venue.signer.build_limit(token_id=token_id, price=price, size_shares="10", side=Side.BUY,
                                         tick_size=market.tick_size)
        result = await rest.post_order(order.to_wire(venue.creds.api_key, "GTC", post_only=True))
    assert result.ok, result.error
    return order.order_id


@pytest.fixture
async def venue(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Venue]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    series = SeriesSchedule(asset="btc", window_s=WINDOW_S, nominal_minutes=15, seed=3)
    # Half an hour into a window: nothing ends while a test runs.
    sim = SimVenue(clock_epoch_s=WINDOW_START_S + WINDOW_S / 2 - trio.current_time(), series=[series],
                   with_flow=False, seed=3)
    async with trio.open_nursery() as nursery:
        # The venue's clock is pinned half a window in, not the wall clock the commands sign with: no
        # POLY_TIMESTAMP freshness check (it would measure the pinned clock, not a client's skew).
        server: LoopbackServer = await nursery.start(lambda task_status: serve_loopback(
            sim, run_venue=True, seed=3, rest_config=RestConfig(timestamp_tolerance_s=None),
            task_status=task_status))
        signer = OrderSigner(TEST_KEY)
        async with ClobRestClient(server.urls.rest, address=signer.address, creds=None) as rest:
            creds = await rest.create_or_derive_api_key(signer)
        markets = sorted(sim.exchange.markets(), key=lambda m: m.start_ts)
        for name, value in {"BOT_PRIVATE_KEY": TEST_KEY, "BOT_CLOB_URL": server.urls.rest, "BOT_MARKET": "auto",
                            "BOT_SERIES": SERIES, "BOT_PAPER_WINDOW_S": str(WINDOW_S),
                            "BOT_CANCEL_ALL_TIMEOUT_S": "5", "BOT_REQUEST_TIMEOUT_S": "2"}.items():
            monkeypatch.setenv(name, value)
        yield Venue(server, sim, creds, signer, markets)
        server.shutdown()
        nursery.cancel_scope.cancel()


async def _run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    # Abandonable, so the test's fail_after bounds it too (the command bounds itself by its settings).
    code = await trio.to_thread.run_sync(cli.main, list(argv), abandon_on_cancel=True)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_no_secret(venue: Venue, *texts: str) -> None:
    for text in texts:
        for secret in (TEST_KEY, TEST_KEY.removeprefix("0x"), venue.creds.secret, venue.creds.passphrase):
            assert secret not in text


# --- orders ----------------------------------------------------------------------------------------


async def test_orders_lists_ours_per_configured_market_and_the_whole_account(
    venue: Venue, capsys: pytest.CaptureFixture[str]
) -> None:
    with trio.fail_after(TEST_TIMEOUT_S):
        current, following = venue.markets[0], venue.markets[1]
        up = await _place(venue, current, current.yes_token_id, "0.40")
        down = await _place(venue, current, current.no_token_id, "0.45")
        later = await _place(venue, following, following.yes_token_id, "0.30")

        code, out, err = await _run_cli(capsys, "orders", "--market", "auto")  # the series windows via Gamma
        assert code == EXIT_OK, err
        assert "3 open orders in 2 markets" in out
        assert current.slug in out and following.slug in out
        for order_id in (up, down, later):
            assert f"{order_id[:6]}…{order_id[-4:]}" in out
        assert "0.4 " in out and "BUY" in out and "Up" in out and "Down" in out

        code, out, err = await _run_cli(capsys, "orders", "--market", current.condition_id, "--json")
        assert code == EXIT_OK, err
        document = json.loads(out)
        assert document["total"] == 2 and document["scope"] == "markets"
        (market,) = document["markets"]
        assert market["condition_id"] == current.condition_id
        assert {o["id"]: (o["side"], o["price"], o["original_size"], o["size_matched"]) for o in market["orders"]} == {
            up: ("BUY", "0.4", "10", "0"), down: ("BUY", "0.45", "10", "0"),
        }

        code, all_out, err = await _run_cli(capsys, "orders", "--all", "--json")
        assert code == EXIT_OK, err
        whole = json.loads(all_out)
        assert whole["total"] == 3
        assert {m["condition_id"]: len(m["orders"]) for m in whole["markets"]} == {
            current.condition_id: 2, following.condition_id: 1,
        }
        _assert_no_secret(venue, out, err, all_out)


async def test_orders_by_slug_needs_gamma_and_an_unknown_slug_is_a_clear_failure(
    venue: Venue, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with trio.fail_after(TEST_TIMEOUT_S):
        current = venue.markets[0]
        await _place(venue, current, current.yes_token_id, "0.40")
        code, out, err = await _run_cli(capsys, "orders", "--market", current.slug)
        assert (code, "1 open order in 1 market (1 queried)" in out) == (EXIT_OK, True), err
        code, out, err = await _run_cli(capsys, "orders", "--market", "btc-updown-15m-1")
        assert code == EXIT_FATAL_VENUE
        assert "not listed on Gamma" in err and "without --market" in err

        # Default scope: every order of the key, in every market.
        following = venue.markets[1]
        await _place(venue, following, following.yes_token_id, "0.30")
        code, out, err = await _run_cli(capsys, "orders")
        assert (code, "2 open orders in 2 markets" in out) == (EXIT_OK, True), err
        # Narrowed: the key's orders outside the scope are reported, not silently left out.
        code, out, err = await _run_cli(capsys, "orders", "--market", current.condition_id)
        assert code == EXIT_OK, err
        assert "1 other open order outside this scope" in out


# --- cancel-all ------------------------------------------------------------------------------------


async def test_cancel_all_narrowed_to_a_market_reports_the_orders_it_left_elsewhere_then_no_flags_empties_the_key(
    venue: Venue, capsys: pytest.CaptureFixture[str]
) -> None:
    with trio.fail_after(TEST_TIMEOUT_S):
        current, following = venue.markets[0], venue.markets[1]
        ids = [await _place(venue, current, current.yes_token_id, price) for price in ("0.40", "0.39")]
        ids.append(await _place(venue, current, current.no_token_id, "0.41"))
        elsewhere = await _place(venue, following, following.no_token_id, "0.20")

        code, out, err = await _run_cli(capsys, "cancel-all", "--market", current.condition_id)
        assert code == EXIT_ORDERS_ELSEWHERE, err
        assert venue.open_on_venue(current) == []
        assert [o["id"] for o in venue.open_on_venue()] == [elsewhere]  # outside the scope asked for
        assert "cancelled 3 orders" in out and all(order_id in out for order_id in ids)
        assert "verified: 0 open orders left (1 market(s)" in out
        assert "1 other open order outside this scope" in err and "--others-expected" in err

        code, out, err = await _run_cli(capsys, "cancel-all", "--market", current.condition_id, "--others-expected")
        assert code == EXIT_OK, err
        assert "1 other open order outside this scope" in out

        code, all_out, all_err = await _run_cli(capsys, "cancel-all")  # no flags: every order of the key
        assert code == EXIT_OK, all_err
        assert venue.open_on_venue() == []
        assert "DELETE /cancel-all: cancelled 1 order" in all_out and elsewhere in all_out
        assert "0 open orders left (every order of the key" in all_out
        _assert_no_secret(venue, out, err, all_out, all_err)


async def test_kill_switch_with_a_series_window_setting_covers_what_the_bot_quotes(
    venue: Venue, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 1: in live mode with BOT_SERIES_WINDOW_S, the commands once resolved the series with its
    nominal 15 minutes, found nothing, and printed "verified: 0 open orders left" over live orders."""
    monkeypatch.setenv("BOT_MODE", "live")
    monkeypatch.setenv("BOT_SERIES_WINDOW_S", str(WINDOW_S))
    monkeypatch.setenv("BOT_GAMMA_URL", venue.server.urls.gamma)
    monkeypatch.delenv("BOT_PAPER_WINDOW_S")
    with trio.fail_after(TEST_TIMEOUT_S):
        current = venue.markets[0]
        for price in ("0.40", "0.39", "0.38"):
            await _place(venue, current, current.yes_token_id, price)
        code, out, err = await _run_cli(capsys, "orders", "--market", "auto")  # the trading loop's resolver
        assert (code, "3 open orders in 1 market" in out) == (EXIT_OK, True), out + err
        code, out, err = await _run_cli(capsys, "orders")
        assert (code, "3 open orders in 1 market" in out) == (EXIT_OK, True), out + err
        code, out, err = await _run_cli(capsys, "cancel-all")
        assert code == EXIT_OK, err
        assert "cancelled 3 orders" in out and "verified: 0 open orders left" in out
        assert venue.open_on_venue() == []


async def test_cancel_all_with_nothing_open_verifies_at_once(
    venue: Venue, capsys: pytest.CaptureFixture[str]
) -> None:
    with trio.fail_after(TEST_TIMEOUT_S):
        code, out, err = await _run_cli(capsys, "cancel-all")
        assert code == EXIT_OK, err
        assert "cancelled 0 orders" in out and "verified: 0 open orders left (every order of the key" in out
        code, out, err = await _run_cli(capsys, "cancel-all", "--market", "auto")
        assert code == EXIT_OK, err
        assert "verified: 0 open orders left (3 market(s)" in out and "no other open order of the key" in out


async def test_cancel_all_with_gamma_down_is_not_verified_rather_than_an_empty_scope(
    venue: Venue, capsys: pytest.CaptureFixture[str]
) -> None:
    with trio.fail_after(TEST_TIMEOUT_S):
        current = venue.markets[0]
        await _place(venue, current, current.yes_token_id, "0.40")
        # Nothing listens on port 1: the series cannot be resolved (BOT_MARKET=auto).
        code, out, err = await _run_cli(capsys, "cancel-all", "--market", "auto", "--gamma-url", "http://127.0.0.1:1")
        assert code == EXIT_FATAL_VENUE
        assert "NOT VERIFIED: cannot resolve the markets" in err and "without --market" in err
        assert "0 open orders left" not in out
        assert len(venue.open_on_venue()) == 1


def _stuck_venue(log: list[tuple[float, str]]) -> httpx.MockTransport:
    """A venue whose cancels answer but never take effect: one order stays open forever."""
    stuck = {
        "id": "0x" + "ee" * 32, "status": "LIVE", "owner": "k", "maker_address": "0x01", "market": "0x" + "11" * 32,
        "asset_id": "1001", "side": "BUY", "original_size": "10", "size_matched": "0", "price": "0.4",
        "outcome": "Up", "expiration": "0", "order_type": "GTC", "associate_trades": [], "created_at": 1_800_000_000,
    }

    def handle(request: httpx.Request) -> httpx.Response:
        log.append((trio.current_time(), f"{request.method} {request.url.path}"))
        if request.url.path == "/time":
            return httpx.Response(200, json=1_800_000_100)
        if request.url.path == "/data/orders":
            return httpx.Response(200, json={"data": [stuck], "next_cursor": "LTE=", "limit": 100, "count": 1})
        return httpx.Response(200, json={"canceled": [], "not_canceled": {}})

    return httpx.MockTransport(handle)


async def test_cancel_all_runs_the_engines_service_bounded_backing_off_and_says_not_verified(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The kill switch is `CancelAllService` (issue 12): the caller's deadline, capped jittered backoff
    between attempts (not a fixed-period loop of its own), the cancel first, `.verified` as the verdict."""
    monkeypatch.chdir(tmp_path)
    settings = BotSettings(
        mode="live", private_key=TEST_KEY, api_key="k", api_secret="c2VjcmV0LXNlY3JldA==", api_passphrase="pp-x",
        clob_url="http://venue.invalid", cancel_all_timeout_s=20.0, cancel_all_retry_base_s=0.5,
        cancel_all_retry_max_s=4.0,
    )
    log: list[tuple[float, str]] = []
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(all=False, market=None, clob_url=None, gamma_url=None)
    with trio.fail_after(TEST_TIMEOUT_S * 2):
        started = trio.current_time()
        code = await cancel_all_command(args, settings, out=out, err=err, transport=_stuck_venue(log))
        elapsed = trio.current_time() - started
    assert code == EXIT_FATAL_VENUE
    assert elapsed == 20.0  # exactly the caller's bound: requests answer at once on the fake clock
    assert "NOT VERIFIED: 1 open order(s) left after 20 s (every order of the key)" in err.getvalue()
    assert "0 open orders left" not in out.getvalue()
    sweeps = [t - started for t, what in log if what == "DELETE /cancel-all"]
    # Each attempt: the key's cancel, a fresh listing, a cancel by id of what is still listed.
    assert len(sweeps) == sum(1 for _, what in log if what == "GET /data/orders")
    assert len(sweeps) == sum(1 for _, what in log if what == "DELETE /orders")
    gaps = [b - a for a, b in zip(sweeps, sweeps[1:], strict=False)]
    # Doubling from 0.5 s, jittered over the upper half, capped at 4 s: 0.25-0.5, 0.5-1, 1-2, 2-4, 2-4, ...
    assert 0.25 <= gaps[0] <= 0.5 and 0.5 <= gaps[1] <= 1.0 and 1.0 <= gaps[2] <= 2.0
    assert all(2.0 <= gap <= 4.0 for gap in gaps[3:])
    # In 20 s: at least 8 sweeps (every pause at its longest: 0, 0.5, 1.5, 3.5, 7.5, ... 19.5) and at most
    # 13 (every pause at its shortest: 0, 0.25, 0.75, 1.75, 3.75, ... 19.75). A hot 0.2 s loop: ~100.
    assert 8 <= len(sweeps) <= 13
    assert "c2VjcmV0LXNlY3JldA==" not in out.getvalue() + err.getvalue()


async def test_paper_mode_without_a_venue_url_says_there_is_no_venue(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_CLOB_URL", raising=False)
    monkeypatch.delenv("BOT_MODE", raising=False)
    with trio.fail_after(TEST_TIMEOUT_S):
        for command in ("orders", "cancel-all"):
            code, out, err = await _run_cli(capsys, command)
            assert (code, out) == (EXIT_CONFIG, "")
            assert err.count("\n") == 1 and "no venue to query" in err and "--clob-url" in err


# --- journal ---------------------------------------------------------------------------------------

MARKET_A = "0x" + "aa" * 32
MARKET_B = "0x" + "bb" * 32
TOKEN_A = "7" * 70


@pytest.fixture
def journal_file(tmp_path: Path) -> tuple[Path, str, str]:
    """A journal as the engine writes it, plus one line cut short, and the ids of two posted orders."""
    signer = OrderSigner(TEST_KEY)
    first = signer.build_limit(token_id=TOKEN_A, price="0.40", size_shares="10", side=Side.BUY, tick_size="0.01",
                               neg_risk=True)
    second = signer.build_limit(token_id="8" * 70, price="0.55", size_shares="5", side=Side.BUY, tick_size="0.01")
    path = tmp_path / "journal.jsonl"
    clock = iter([1_800_000_000.25, 1_800_000_001.0, 1_800_000_002.5, 1_800_000_003.0, 1_800_000_004.0,
                  1_800_000_005.0, 1_800_000_006.0])
    journal = Journal(path, lambda: next(clock))
    journal.write("market_start", market=MARKET_A, slug="btc-updown-15m-1800000000", start_s=1.0, end_s=2.0)
    journal.write("post", order=first.to_wire("api-key-id", "GTC", post_only=True))
    journal.write("transition", order_id=first.order_id, token_id=TOKEN_A, level=0, src="pending",
                  trigger="accepted", dst="live", reason="ok", matched=0.0)
    journal.write("fill", market=MARKET_A, trade_id="t-1", order_id=first.order_id, token_id=TOKEN_A, side="BUY",
                  shares=4.0, price=0.4, fee=0.0, status="MATCHED", taker=False)
    journal.close()
    with path.open("a", encoding="utf-8") as raw:
        raw.write('{"t": 1800000004.5, "kind": "post", "order": {"salt"\n')  # a write cut short
    journal = Journal(path, lambda: next(clock))
    journal.write("post", order=second.to_wire("api-key-id", "GTD", post_only=False))
    journal.write("cancel_all", market=MARKET_B, why="stop", verified=True, duration_s=0.2, attempts=1)
    journal.close()
    return path, first.order_id, second.order_id


def _journal(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = cli.main(["journal", *argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_journal_prints_one_summarised_line_per_record_and_reports_the_cut_line(
    journal_file: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, first, _second = journal_file
    code, lines, err = _journal(capsys, str(path))
    assert code == EXIT_OK
    assert f"{path}:5: malformed line skipped" in err
    assert lines[-1] == "-- 6 records shown; 1 malformed line skipped"
    assert lines[0].startswith("2027-01-15T08:00:00.250Z  market_start")
    post = lines[1]
    # The id is recovered from the body (neg-risk domain here); amounts become size@price.
    assert f"order={first[:6]}…{first[-4:]} BUY 10@0.4 (maker=4000000 taker=10000000)" in post
    assert "token=777777…7777 GTC postOnly" in post and "api-key-id" not in post
    assert "GTD" in lines[4] and "postOnly" not in lines[4]


def test_journal_filters_by_kind_market_order_time_and_tail(
    journal_file: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, first, second = journal_file
    kinds = lambda lines: [line.split()[1] for line in lines[:-1]]  # noqa: E731 - local shorthand

    assert kinds(_journal(capsys, str(path), "--kind", "post", "--kind", "fill")[1]) == ["post", "fill", "post"]
    # Market A: its own records, plus the post and transition of the order its fill names.
    assert kinds(_journal(capsys, str(path), "--market", MARKET_A)[1]) == [
        "market_start", "post", "transition", "fill"]
    assert kinds(_journal(capsys, str(path), "--market", MARKET_B[:10])[1]) == ["cancel_all"]
    assert kinds(_journal(capsys, str(path), "--order", first[:10])[1]) == ["post", "transition", "fill"]
    assert kinds(_journal(capsys, str(path), "--order", second[2:12].upper())[1]) == ["post"]
    assert kinds(_journal(capsys, str(path), "--since", "1800000001", "--until", "2027-01-15T08:00:03Z")[1]) == [
        "post", "transition", "fill"]
    assert kinds(_journal(capsys, str(path), "--tail", "2")[1]) == ["post", "cancel_all"]


def test_journal_json_passes_the_matching_lines_through_unchanged(
    journal_file: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, first, _second = journal_file
    code, lines, err = _journal(capsys, str(path), "--json", "--order", first)
    assert code == EXIT_OK and "malformed" in err
    originals = path.read_text().splitlines()
    assert lines == [originals[1], originals[2], originals[3]]


def test_journal_refuses_a_missing_file_or_a_bad_time_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, err = _journal(capsys, str(tmp_path / "none.jsonl"))
    assert (code, lines, err.count("\n")) == (EXIT_CONFIG, [], 1) and "cannot read" in err
    (tmp_path / "j.jsonl").write_text("")
    code, lines, err = _journal(capsys, str(tmp_path / "j.jsonl"), "--since", "yesterday")
    assert (code, lines) == (EXIT_CONFIG, []) and "--since/--until" in err


def test_time_arguments_and_order_ids_of_journaled_bodies() -> None:
    assert parse_time_s("1800000000.5") == 1_800_000_000.5
    assert parse_time_s("2027-01-15T08:00:00Z") == parse_time_s("2027-01-15T08:00:00") == 1_800_000_000
    assert parse_time_s("2027-01-15T09:00:00+01:00") == 1_800_000_000
    signer = OrderSigner(TEST_KEY)
    order = signer.build_limit(token_id="5", price="0.5", size_shares="2", side=Side.SELL, tick_size="0.01")
    wire = order.to_wire("k", "GTC")
    assert order_id_of_wire(wire) == order.order_id
    tampered = {**wire, "order": {**wire["order"], "makerAmount": str(int(wire["order"]["makerAmount"]) + 1)}}
    assert order_id_of_wire(tampered) is None
    assert Decimal(wire["order"]["takerAmount"]) / Decimal(wire["order"]["makerAmount"]) == Decimal("0.5")


# --- issue 17: the journal's rough edges, diagrams to an unwritable place ------------------------------


def test_journal_market_takes_the_slug_its_market_start_names(
    journal_file: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _, _ = journal_file
    by_id = _journal(capsys, str(path), "--market", MARKET_A)[1]
    assert _journal(capsys, str(path), "--market", "btc-updown-15m-1800000000")[1] == by_id
    assert _journal(capsys, str(path), "--market", "btc-updown-15m-18")[1] == by_id  # a unique prefix
    code, lines, err = _journal(capsys, str(path), "--market", "eth-updown-15m-1800000000")
    assert (code, lines) == (EXIT_CONFIG, [])
    assert "no market_start record" in err and "eth-updown-15m-1800000000" in err


def test_journal_into_a_pipe_closed_early_ends_quietly(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    path = tmp_path / "journal.jsonl"
    journal = Journal(path, lambda: 1_800_000_000.0)
    for i in range(20_000):
        journal.write("market_start", market=MARKET_A, slug=f"s-{i}", start_s=1.0, end_s=2.0)
    journal.close()
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    reader = subprocess.Popen([sys.executable, "-m", "bot", "journal", str(path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    assert reader.stdout is not None and reader.stderr is not None
    first = reader.stdout.readline()
    reader.stdout.close()  # what `| head -1` does
    err = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == EXIT_OK
    assert b"market_start" in first
    assert err == ""  # once "cannot read FILE: Broken pipe"


def test_diagrams_to_a_place_that_cannot_be_written_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    assert cli.main(["diagrams", "--out", str(blocker / "diagrams")]) == EXIT_CONFIG
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("diagrams: cannot write ")
    assert "Traceback" not in captured.err
