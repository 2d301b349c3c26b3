"""`python -m bot cancel-all`: the operator's kill switch, on the engine's one cancel-all service.

    python -m bot cancel-all [--market M ... | --all] [--others-expected] [--clob-url URL] [--gamma-url URL]

Guarantees:
- The default scope is **every open order of the key** (`--all` says the same; one key per process, so
  that is the process's orders): one DELETE /cancel-all, verified by a fresh listing of the key. It never
  depends on resolving "our markets", so a wrong series window cannot turn it into an empty scope.
- `--market` (repeatable: condition id, slug, or `auto` for the trading loop's own series windows,
  `bot.engine.our_markets`) narrows it to those markets.
- Cancel and verify are `bot.engine.cancel_all.CancelAllService`, exactly as the engine runs them:
  bounded by the caller's deadline (here `cancel_all_timeout_s` from the start), capped jittered
  backoff between attempts, the cancel sent first. "verified" is that service's `.verified`: a fresh
  listing after a cancel came back empty.
- Whatever the scope, after the work it lists the key once more and reports every open order of the
  key it did not touch. A narrowed scope with orders elsewhere exits `EXIT_ORDERS_ELSEWHERE` unless
  `--others-expected` says that is intended.

Exit: `EXIT_OK` verified (and nothing elsewhere, or expected); `EXIT_FATAL_VENUE` "NOT VERIFIED" (orders
remain, the listing kept failing, auth refused, or the markets cannot be resolved); `EXIT_ORDERS_ELSEWHERE`
as above; `EXIT_CONFIG` without a venue or key. Nothing printed carries a secret.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

import httpx
import trio

from bot.engine.cancel_all import CancelAllResult, CancelAllService
from bot.engine.gateway import CancelOutcome, VenueGateway
from bot.engine.journal import NullJournal
from bot.exit_codes import EXIT_CONFIG, EXIT_FATAL_VENUE, EXIT_OK, EXIT_ORDERS_ELSEWHERE
from bot.ops_commands import (
    MarketRef,
    ResolveError,
    account_signer,
    describe_elsewhere,
    open_account,
    open_orders,
    outside,
    resolve_markets,
    selectors,
    venue_now_s,
    venue_urls,
)
from bot.protocol.errors import VenueError
from bot.protocol.messages import OpenOrder
from settings import BotSettings

__all__ = ["cancel_all_command", "cli_cancel_all"]


def _printer(what: str, out: TextIO) -> Callable[[CancelOutcome], None]:
    def show(outcome: CancelOutcome) -> None:
        n = len(outcome.canceled)
        line = f"{what}: cancelled {n} order{'s' if n != 1 else ''}"
        if outcome.unknown:
            line += " (the answer was lost or partial; the verification decides)"
        print(line, file=out)
        for order_id in outcome.canceled:
            print(f"  {order_id}", file=out)
        for order_id, reason in {**outcome.failed, **outcome.not_found, **outcome.done}.items():
            print(f"  not cancelled {order_id}: {reason}", file=out)
        out.flush()

    return show


async def _cancel_scope(
    service: CancelAllService, markets: Sequence[MarketRef] | None, deadline: float, out: TextIO
) -> list[CancelAllResult]:
    """One service run for the key, or one per market, all under the one deadline."""
    if markets is None:
        return [await service.run(None, deadline=deadline, why="operator",
                                  on_outcome=_printer("DELETE /cancel-all", out))]
    return [
        await service.run(m.condition_id, deadline=deadline, why="operator",
                          on_outcome=_printer(f"DELETE /cancel-market-orders {m.label}", out))
        for m in markets
    ]


async def cancel_all_command(
    args: argparse.Namespace,
    settings: BotSettings,
    *,
    out: TextIO,
    err: TextIO,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """`cancel-all`: cancel, verify with fresh listings, then report the key's orders outside the scope."""
    venue = venue_urls(args, settings)
    if isinstance(venue, str):
        print(f"cancel-all: {venue}", file=err)
        return EXIT_CONFIG
    chosen = selectors(args)
    others_expected = bool(getattr(args, "others_expected", False))
    signer = account_signer(settings)
    started = trio.current_time()
    deadline = started + settings.cancel_all_timeout_s
    elsewhere: list[OpenOrder] = []
    try:
        async with open_account(settings, signer, venue.clob_url, transport=transport) as (rest, creds):
            markets: list[MarketRef] | None = None
            if chosen is not None:
                now_s = await venue_now_s(rest, settings)
                markets = await resolve_markets(chosen, settings, venue.gamma_url, now_s, transport=transport)
            scope = (
                "every order of the key" if markets is None
                else f"{len(markets)} market(s): " + (", ".join(m.label for m in markets) or "none listed")
            )
            print(f"cancel-all for {signer.address} on {venue.clob_url} ({scope})", file=out, flush=True)
            if markets == []:
                print("no market of the given ones is listed now; without --market every order of the key "
                      "is covered", file=err, flush=True)
            gateway = VenueGateway(rest, signer, creds, request_timeout_s=settings.request_timeout_s,
                                   journal=NullJournal())
            service = CancelAllService(gateway, journal=NullJournal(), retry_base_s=settings.cancel_all_retry_base_s,
                                       retry_max_s=settings.cancel_all_retry_max_s)
            results = await _cancel_scope(service, markets, deadline, out)
            if markets is not None:
                try:
                    with trio.move_on_at(max(deadline, trio.current_time() + settings.request_timeout_s)):
                        elsewhere = outside(await open_orders(rest, None, settings.request_timeout_s), markets)
                except VenueError as exc:
                    print(f"cancel-all: could not list the key's other orders: {exc}", file=err, flush=True)
    except VenueError as exc:
        print(f"cancel-all: NOT VERIFIED: venue call failed: {exc}", file=err, flush=True)
        return EXIT_FATAL_VENUE
    except ResolveError as exc:
        print(f"cancel-all: NOT VERIFIED: cannot resolve the markets: {exc}; "
              "without --market every order of the key is cancelled", file=err, flush=True)
        return EXIT_FATAL_VENUE
    return _verdict(results, markets, elsewhere, others_expected, trio.current_time() - started, settings, out, err)


def _verdict(
    results: list[CancelAllResult], markets: list[MarketRef] | None, elsewhere: list[OpenOrder], others_expected: bool,
    elapsed_s: float, settings: BotSettings, out: TextIO, err: TextIO,
) -> int:
    where = "every order of the key" if markets is None else f"{len(markets)} market(s)"
    if not all(r.verified for r in results):
        failed = [r for r in results if not r.verified]
        if any(r.fatal for r in failed):
            why = "the venue refused our credentials"
        elif any(r.left is None for r in failed):
            why = f"the open-orders check kept failing for {settings.cancel_all_timeout_s:g} s"
        else:
            why = (f"{sum(r.left or 0 for r in failed)} open order(s) left after "
                   f"{settings.cancel_all_timeout_s:g} s")
        print(f"cancel-all: NOT VERIFIED: {why} ({where}); run it again and check the venue", file=err, flush=True)
        return EXIT_FATAL_VENUE
    print(f"verified: 0 open orders left ({where}, {elapsed_s:.1f} s)", file=out, flush=True)
    if elsewhere:
        print(describe_elsewhere(elsewhere), file=err if not others_expected else out, flush=True)
        if not others_expected:
            print("cancel-all: the scope is clear but the key still has open orders elsewhere; "
                  "`cancel-all` without --market cancels them, --others-expected accepts them", file=err, flush=True)
            return EXIT_ORDERS_ELSEWHERE
    elif markets is not None:
        print("no other open order of the key", file=out, flush=True)
    return EXIT_OK


async def cli_cancel_all(args: argparse.Namespace, settings: BotSettings | None) -> int:
    """`python -m bot cancel-all`."""
    if settings is None:
        return EXIT_CONFIG
    return await cancel_all_command(args, settings, out=sys.stdout, err=sys.stderr)
