"""Operator commands: `orders` (what rests on the venue) and `journal` (read the audit); the kill switch
`cancel-all` is `bot.ops_cancel_all` and shares the venue access below.

- `python -m bot orders [--market M ... | --all] [--json] [--clob-url URL] [--gamma-url URL]`
- `python -m bot journal FILE [--kind K ...] [--market CID|SLUG] [--order ID] [--since T] [--until T] [--tail N] [--json]`

The venue commands act for the account of BOT_PRIVATE_KEY with the configured L2 credentials, or ones
derived from the key (as the bot does). Their scope is **every order of the key** by default (`--all`
says the same): the scale-out rule is one key per process, so that is the process's orders. `--market`
(repeatable: a condition id, a slug, or `auto` for the BOT_SERIES windows around the venue's now, found
through Gamma with the trading loop's own resolver, `bot.engine.our_markets`) narrows it; the key's
open orders outside a narrowed scope are then reported, never silently left out. Every venue call runs
under a Trio deadline of `request_timeout_s`. Paper mode has no venue of its own outside `run`: these
commands need `--clob-url` or BOT_CLOB_URL (e.g. a `python -m bot sim` server) and exit `EXIT_CONFIG`
without one.

Nothing here prints a secret: the private key and API credentials never reach a format string, and
venue errors are `VenueError`s, which carry no credentials.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final, TextIO

import httpx
import orjson

from bot.engine.discovery import DiscoveryError, parse_gamma_market
from bot.engine.markets import MarketInfo
from bot.engine.our_markets import series_plan
from bot.exit_codes import EXIT_CONFIG, EXIT_FATAL_VENUE, EXIT_OK
from bot.protocol.auth import ApiCreds
from bot.protocol.constants import EXCHANGE_V2_BY_CHAIN, POLYGON_CHAIN_ID
from bot.protocol.errors import VenueError
from bot.protocol.messages import OpenOrder
from bot.protocol.money import micro_text
from bot.protocol.rest import ClobRestClient, venue_deadline
from bot.protocol.signing import OrderSigner, recover_order_signer
from settings import BotMode, BotSettings

__all__ = [
    "JournalFilter",
    "JournalLine",
    "MarketRef",
    "ResolveError",
    "cli_journal",
    "cli_orders",
    "describe_elsewhere",
    "format_journal_record",
    "journal_command",
    "market_by_slug",
    "open_account",
    "open_account_client",
    "order_id_of_wire",
    "open_orders",
    "orders_command",
    "outside",
    "parse_time_s",
    "read_journal",
    "resolve_markets",
    "select_journal_lines",
    "short_id",
    "selectors",
    "venue_now_s",
    "venue_urls",
    "account_signer",
]

# create-or-derive is up to two L1 calls (create, then derive), each worth one request deadline.
_CREDS_CALLS: Final = 2
_GAMMA_PATH_ON_SIM: Final = "/gamma"  # where `python -m bot sim` serves discovery, beside the CLOB routes
_SHORT_HEAD: Final = 6  # characters kept at each end of a shortened id ("0x1234…abcd")
_SHORT_TAIL: Final = 4
_LONG_DECIMAL_CHARS: Final = 12  # token ids are ~77 digits: shorten decimals longer than this
_LIST_SHOWN: Final = 3  # items of a long list shown before "…+N"
_TEXT_MAX_CHARS: Final = 80
_AMOUNT_SCALE: Final = Decimal(10) ** 6  # order amounts are integers in 1e6 units (spec 3.3)
_PRICE_DECIMALS: Final = Decimal("0.000001")
_SECONDS_PER_MINUTE: Final = 60
_SECONDS_PER_HOUR: Final = 3600


# --- venue access ----------------------------------------------------------------------------------


class ResolveError(Exception):
    """The configured markets could not be turned into condition ids (Gamma unreachable, unknown slug)."""


@dataclass(frozen=True, slots=True)
class MarketRef:
    """One market the commands act on: its condition id and, when discovery told us, slug and outcomes."""

    condition_id: str
    slug: str = ""
    outcome_by_token: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.slug or short_id(self.condition_id)


@dataclass(frozen=True, slots=True)
class Venue:
    clob_url: str
    gamma_url: str | None


def venue_urls(args: argparse.Namespace, settings: BotSettings) -> Venue | str:
    """The URLs to talk to, or the one line that says why there is no venue."""
    clob_url = getattr(args, "clob_url", None) or settings.effective_clob_url
    if not clob_url:
        return (
            "paper mode has no venue to query outside `run`: give --clob-url URL or BOT_CLOB_URL "
            "(e.g. the rest URL printed by `python -m bot sim`), or set BOT_MODE=live"
        )
    gamma_url = getattr(args, "gamma_url", None) or settings.effective_gamma_url
    if gamma_url is None and settings.mode is BotMode.PAPER:
        gamma_url = clob_url.rstrip("/") + _GAMMA_PATH_ON_SIM
    if settings.private_key is None:
        return "BOT_PRIVATE_KEY is needed to name the account (paper mode too: the simulator's account)"
    return Venue(clob_url.rstrip("/"), gamma_url)


def account_signer(settings: BotSettings) -> OrderSigner:
    assert settings.private_key is not None  # checked by venue_urls
    return OrderSigner(
        settings.private_key.get_secret_value(),
        chain_id=settings.chain_id,
        signature_type=int(settings.signature_type),
        funder=settings.wallet().funder,  # derived for a deposit wallet when unset
    )


def _configured_creds(settings: BotSettings) -> ApiCreds | None:
    if settings.api_key is None or settings.api_secret is None or settings.api_passphrase is None:
        return None
    return ApiCreds(
        settings.api_key.get_secret_value(),
        settings.api_secret.get_secret_value(),
        settings.api_passphrase.get_secret_value(),
    )


@asynccontextmanager
async def open_account_client(
    settings: BotSettings,
    signer: OrderSigner,
    clob_url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[ClobRestClient]:
    """A REST client for `signer`'s account: the configured L2 credentials, else ones created or derived
    from the key (as `run` does). Raises VenueError when they cannot be obtained within the deadline.
    """
    async with open_account(settings, signer, clob_url, transport=transport) as (rest, _creds):
        yield rest


@asynccontextmanager
async def open_account(
    settings: BotSettings,
    signer: OrderSigner,
    clob_url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[tuple[ClobRestClient, ApiCreds]]:
    """`open_account_client`, and the credentials it uses (for a `VenueGateway`)."""
    creds = _configured_creds(settings)
    async with ClobRestClient(
        clob_url,
        address=signer.address,
        creds=creds,
        transport=transport,
        max_cancel_batch=settings.max_cancel_batch,
        order_lane=None if settings.order_lane else False,
        order_lane_idle_s=settings.order_lane_idle_s,
    ) as rest:
        if creds is None:
            with venue_deadline(settings.request_timeout_s * _CREDS_CALLS, "API key create/derive"):
                creds = await rest.create_or_derive_api_key(signer)
            rest.use_creds(creds)
        yield rest, creds


async def venue_now_s(rest: ClobRestClient, settings: BotSettings) -> float:
    """The venue's clock (GET /time), or ours when it does not answer: ages and series windows use it."""
    try:
        with venue_deadline(settings.request_timeout_s, "GET /time"):
            return float(await rest.get_server_time())
    except VenueError:
        return time.time()


async def resolve_markets(
    selectors: Sequence[str],
    settings: BotSettings,
    gamma_url: str | None,
    now_s: float,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[MarketRef]:
    """Condition ids for `selectors` (each a condition id, a slug, or `auto`), in order, without duplicates.

    A condition id needs no lookup. A slug is looked up in Gamma; `auto` lists each BOT_SERIES window
    from the previous through the ones the bot would start next (windows not listed are skipped).
    Raises ResolveError when Gamma is needed but not configured or does not answer usably, or a slug is
    not listed: a kill switch must not read "Gamma is down" as "no market, nothing to cancel".
    """
    found: dict[str, MarketRef] = {}
    lookups = [s for s in selectors if not s.lower().startswith("0x")]
    if lookups and gamma_url is None:
        raise ResolveError("resolving a slug or `auto` needs a Gamma URL (--gamma-url or BOT_GAMMA_URL)")
    # Deadlines are Trio scopes (venue_deadline), not httpx timeouts (as in bot.engine.discovery).
    async with httpx.AsyncClient(base_url=gamma_url or "", transport=transport, timeout=None) as gamma:
        for selector in selectors:
            if selector.lower().startswith("0x"):
                found.setdefault(selector, MarketRef(selector))
                continue
            slugs = _auto_slugs(settings, now_s) if selector == "auto" else [selector]
            infos = []
            for slug in slugs:
                infos.extend(await _gamma_markets(gamma, slug, settings.request_timeout_s))
            if not infos and selector != "auto":
                raise ResolveError(f"market slug {selector!r} is not listed on Gamma")
            for info in infos:
                found.setdefault(
                    info.condition_id,
                    MarketRef(info.condition_id, info.slug, {info.up_token_id: "Up", info.down_token_id: "Down"}),
                )
    return list(found.values())


async def _gamma_markets(gamma: httpx.AsyncClient, slug: str, timeout_s: float) -> list[MarketInfo]:
    """GET /markets?slug= (spec 8): the listed markets of `slug`; ResolveError on any failure."""
    try:
        with venue_deadline(timeout_s, "GET gamma /markets"):
            response = await gamma.get("/markets", params={"slug": slug})
        response.raise_for_status()
        body = response.json()
    except (VenueError, httpx.HTTPError, ValueError) as exc:
        raise ResolveError(f"Gamma lookup of {slug!r} failed: {exc}") from None
    items = body if isinstance(body, list) else body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ResolveError(f"Gamma answer for {slug!r} is not a list of markets")
    markets = []
    for item in items:
        try:
            markets.append(parse_gamma_market(item))
        except (DiscoveryError, AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ResolveError(f"Gamma market of {slug!r} unusable: {exc}") from None
    return markets


def _auto_slugs(settings: BotSettings, now_s: float) -> list[str]:
    """The slugs `run` would trade around `now_s` (the one resolver, `bot.engine.our_markets`), plus the
    window before (it may still hold our orders)."""
    return [slug for plan in series_plan(settings, now_s, windows_behind=1) for slug in plan.slugs]


def selectors(args: argparse.Namespace) -> list[str] | None:
    """The markets `--market` names (condition ids, slugs or `auto`); None for the whole key (the default,
    and `--all`): one key per process, so every order of the key is the process's."""
    return list(getattr(args, "market", None) or []) or None


async def open_orders(rest: ClobRestClient, markets: Sequence[MarketRef] | None, timeout_s: float) -> list[OpenOrder]:
    """Our open orders in `markets` (None: the whole account), each listing under its own deadline."""
    if markets is None:
        with venue_deadline(timeout_s, "GET /data/orders"):
            return await rest.get_open_orders()
    orders: list[OpenOrder] = []
    for market in markets:
        with venue_deadline(timeout_s, "GET /data/orders"):
            orders.extend(await rest.get_open_orders(market=market.condition_id))
    return orders


# --- orders ----------------------------------------------------------------------------------------


def short_id(text: str) -> str:
    if len(text) <= _SHORT_HEAD + _SHORT_TAIL + 1:
        return text
    return f"{text[:_SHORT_HEAD]}…{text[-_SHORT_TAIL:]}"


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < _SECONDS_PER_MINUTE:
        return f"{seconds}s"
    if seconds < _SECONDS_PER_HOUR:
        return f"{seconds // _SECONDS_PER_MINUTE}m{seconds % _SECONDS_PER_MINUTE:02d}s"
    return f"{seconds // _SECONDS_PER_HOUR}h{seconds % _SECONDS_PER_HOUR // _SECONDS_PER_MINUTE:02d}m"


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _order_json(order: OpenOrder, outcome: str, now_s: float) -> dict[str, Any]:
    return {
        "id": order.id,
        "market": order.market,
        "asset_id": order.asset_id,
        "outcome": outcome,
        "side": order.side.name,
        "price": micro_text(order.price_micro),
        "original_size": micro_text(order.original_size_micro),
        "size_matched": micro_text(order.size_matched_micro),
        "status": str(order.status),
        "order_type": order.order_type,
        "expiration_s": order.expiration_s,
        "created_at_ms": order.created_at_ms,
        "age_s": round(now_s - order.created_at_ms / 1000, 3) if order.created_at_ms else None,
    }


def _group(orders: Iterable[OpenOrder], markets: Sequence[MarketRef] | None) -> list[tuple[MarketRef, list[OpenOrder]]]:
    """Orders by market: the queried markets in their order (empty ones too), else by first appearance."""
    groups: dict[str, tuple[MarketRef, list[OpenOrder]]] = {}
    for market in markets or ():
        groups[market.condition_id] = (market, [])
    for order in orders:
        key = order.market or "?"
        groups.setdefault(key, (MarketRef(key), []))[1].append(order)
    for market, items in groups.values():
        # Up (Yes) before Down, then best price first: the order a ladder is read in.
        items.sort(key=lambda o, m=market: (_outcome_rank(o, m), o.asset_id, o.side.name, -o.price_micro, o.created_at_ms))
    return list(groups.values())


def _outcome_rank(order: OpenOrder, market: MarketRef) -> int:
    outcome = (order.outcome or market.outcome_by_token.get(order.asset_id, "")).lower()
    return 0 if outcome in ("up", "yes") else 1


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def _format_orders(groups: list[tuple[MarketRef, list[OpenOrder]]], now_s: float) -> list[str]:
    header = ["MARKET", "OUTCOME", "TOKEN", "SIDE", "PRICE", "SIZE", "MATCHED", "ORDER", "AGE"]
    rows = [header]
    for market, orders in groups:
        for order in orders:
            outcome = order.outcome or market.outcome_by_token.get(order.asset_id, "")
            age = _age(now_s - order.created_at_ms / 1000) if order.created_at_ms else "?"
            rows.append([
                market.label, outcome or "-", short_id(order.asset_id), order.side.name, micro_text(order.price_micro),
                micro_text(order.original_size_micro), micro_text(order.size_matched_micro), short_id(order.id), age,
            ])
    lines = _table(rows) if len(rows) > 1 else []
    total = sum(len(orders) for _, orders in groups)
    with_orders = sum(1 for _, orders in groups if orders)
    lines.append(f"{total} open order{'s' if total != 1 else ''} in {with_orders} market{'s' if with_orders != 1 else ''}"
                 f" ({len(groups)} queried)")
    return lines


async def orders_command(
    args: argparse.Namespace,
    settings: BotSettings,
    *,
    out: TextIO,
    err: TextIO,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """`orders`: print our open orders (table or `--json`). EXIT_OK; EXIT_CONFIG without a venue or key;
    EXIT_FATAL_VENUE when the venue or Gamma does not answer usably."""
    venue = venue_urls(args, settings)
    if isinstance(venue, str):
        print(f"orders: {venue}", file=err)
        return EXIT_CONFIG
    chosen = selectors(args)
    whole_account = chosen is None
    signer = account_signer(settings)
    account = signer.address  # public: the POLY_ADDRESS of every request
    elsewhere: list[OpenOrder] = []
    try:
        async with open_account_client(settings, signer, venue.clob_url, transport=transport) as rest:
            now_s = await venue_now_s(rest, settings)
            markets = None
            if chosen is not None:
                markets = await resolve_markets(chosen, settings, venue.gamma_url, now_s, transport=transport)
            orders = await open_orders(rest, markets, settings.request_timeout_s)
            if markets is not None:
                elsewhere = outside(await open_orders(rest, None, settings.request_timeout_s), markets)
    except VenueError as exc:
        print(f"orders: venue call failed: {exc}", file=err)
        return EXIT_FATAL_VENUE
    except ResolveError as exc:
        print(f"orders: cannot resolve the markets: {exc} (without --market every order of the key is listed)", file=err)
        return EXIT_FATAL_VENUE
    groups = _group(orders, markets)
    if getattr(args, "json", False):
        document = {
            "venue": venue.clob_url,
            "account": account,
            "scope": "account" if whole_account else "markets",
            "now_s": now_s,
            "markets": [
                {
                    "condition_id": market.condition_id,
                    "slug": market.slug,
                    "orders": [
                        _order_json(o, o.outcome or market.outcome_by_token.get(o.asset_id, ""), now_s) for o in items
                    ],
                }
                for market, items in groups
            ],
            "total": len(orders),
            "elsewhere": len(elsewhere),
        }
        out.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    scope = "every order of the key" if whole_account else ", ".join(m.label for m in markets or ()) or "no listed market"
    print(f"open orders of {account} on {venue.clob_url} ({scope})", file=out)
    for line in _format_orders(groups, now_s):
        print(line, file=out)
    if elsewhere:
        print(describe_elsewhere(elsewhere), file=out)
    return EXIT_OK


def outside(orders: Iterable[OpenOrder], markets: Sequence[MarketRef]) -> list[OpenOrder]:
    """The orders that are in none of `markets`."""
    scope = {m.condition_id.lower() for m in markets}
    return [o for o in orders if (o.market or "").lower() not in scope]


def describe_elsewhere(orders: Sequence[OpenOrder]) -> str:
    """One line: how many other open orders the key has, and in which markets (outside the scope asked)."""
    by_market = collections.Counter(o.market or "?" for o in orders)
    where = ", ".join(f"{short_id(m)} ({n})" for m, n in by_market.most_common())
    return (f"NOTE: the key has {len(orders)} other open order{'s' if len(orders) != 1 else ''} outside this "
            f"scope, in {where}; without --market every order of the key is covered")


# --- journal ---------------------------------------------------------------------------------------


def parse_time_s(text: str) -> float:
    """Unix seconds from "1767225600.5" or ISO 8601 ("2026-01-01T00:00:00Z"; no zone means UTC). ValueError."""
    try:
        return float(text)
    except ValueError:
        pass
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _iso_ms(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One well-formed journal record: its 1-based line number, the line as written, and the object."""

    line_no: int
    raw: str
    record: Mapping[str, Any]

    @property
    def t_s(self) -> float:
        return float(self.record["t"])

    @property
    def kind(self) -> str:
        return str(self.record["kind"])


def read_journal(lines: Iterable[str], on_malformed: Callable[[int, str], None]) -> Iterator[JournalLine]:
    """The well-formed records of a journal; each other non-blank line is reported (line number, why), skipped."""
    for line_no, raw in enumerate(lines, start=1):
        text = raw.rstrip("\r\n")
        if not text.strip():
            continue
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError:
            on_malformed(line_no, "not JSON (a line cut short by a crash?)")
            continue
        if not isinstance(record, dict):
            on_malformed(line_no, "not a JSON object")
            continue
        t = record.get("t")
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            on_malformed(line_no, "no numeric 't'")
            continue
        if not isinstance(record.get("kind"), str):
            on_malformed(line_no, "no string 'kind'")
            continue
        yield JournalLine(line_no, text, record)


def _is_hex_id(value: Any) -> bool:
    # Order ids (and condition ids) are 0x + 64 hex: the EIP-712 digest.
    return (
        isinstance(value, str) and len(value) == 66 and value[:2].lower() == "0x"
        and all(c in "0123456789abcdefABCDEF" for c in value[2:])
    )


def order_id_of_wire(wire: Any) -> str | None:
    """The order id of a journaled POST body (`{"order": {...}, ...}`), or None if it is not a signed order.

    The id is the EIP-712 digest, whose domain (chain, neg-risk exchange) the body does not name: the
    domain whose digest recovers the body's own `signer` from its signature is the one it was signed for.
    """
    order = wire.get("order", wire) if isinstance(wire, Mapping) else None
    if not isinstance(order, Mapping):
        return None
    signer = str(order.get("signer", "")).lower()
    chains = [POLYGON_CHAIN_ID, *(c for c in EXCHANGE_V2_BY_CHAIN if c != POLYGON_CHAIN_ID)]
    for chain_id in chains:
        for neg_risk in (False, True):
            try:
                order_id, recovered = recover_order_signer(order, neg_risk=neg_risk, chain_id=chain_id)
            except ValueError:
                return None
            if recovered.lower() == signer:
                return order_id
    return None


@dataclass
class _Facts:
    """What the filters and the printer need from one record, computed once (the id recovery costs ~0.1 ms)."""

    order_ids: set[str]
    token_ids: set[str]


_TOKEN_KEYS: Final = frozenset({"token_id", "asset_id", "up_token_id", "down_token_id", "token_ids", "tokens"})
_NOT_ORDER_KEYS: Final = frozenset({"market", "condition_id", "slug", "t", "kind"})


def _facts(record: Mapping[str, Any]) -> _Facts:
    order_ids: set[str] = set()
    token_ids: set[str] = set()

    def walk(value: Any) -> None:
        if _is_hex_id(value):
            order_ids.add(value.lower())
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if _is_hex_id(key):
                    order_ids.add(str(key).lower())
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    for key, value in record.items():
        if key in _TOKEN_KEYS:
            token_ids.update(str(v) for v in (value if isinstance(value, list | tuple) else [value]) if v)
        if key == "order" and isinstance(value, Mapping):
            order_id = order_id_of_wire(value)
            if order_id is not None:
                order_ids.add(order_id.lower())
            body = value.get("order", value)
            if isinstance(body, Mapping) and body.get("tokenId"):
                token_ids.add(str(body["tokenId"]))
            continue  # the body's other hex fields (signature, metadata) are no order ids
        if key not in _NOT_ORDER_KEYS:
            walk(value)
    return _Facts(order_ids, token_ids)


@dataclass(frozen=True, slots=True)
class JournalFilter:
    """Which records to show; every given condition must hold. Times inclusive, prefixes case-insensitive.

    A record matches `market` by its own `market` field; one without that field matches when it names
    an order or token that a record of that market named (posts and transitions carry no market).
    """

    kinds: frozenset[str] = frozenset()
    market: str | None = None
    order_prefix: str | None = None
    since_s: float | None = None
    until_s: float | None = None


def _names_order(facts: _Facts, order_prefix: str) -> bool:
    prefix = order_prefix.lower()
    prefix = prefix if prefix.startswith("0x") else "0x" + prefix
    return any(order_id.startswith(prefix) for order_id in facts.order_ids)


def _market_matches(record: Mapping[str, Any], market_prefix: str) -> bool | None:
    """True/False from the record's own `market` field; None when it has none."""
    market = record.get("market")
    if not isinstance(market, str):
        return None
    return market.lower().startswith(market_prefix.lower())


def _market_links(path: Path, market_prefix: str) -> tuple[set[str], set[str]]:
    """(order ids, token ids) named by the records of the market, and orders posted on those tokens."""
    orders: set[str] = set()
    tokens: set[str] = set()
    orders_by_token: dict[str, set[str]] = collections.defaultdict(set)
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in read_journal(lines, lambda _n, _why: None):
            facts = _facts(line.record)
            own = _market_matches(line.record, market_prefix)
            if own:
                orders |= facts.order_ids
                tokens |= facts.token_ids
            elif own is None:
                for token in facts.token_ids:
                    orders_by_token[token] |= facts.order_ids
    for token in tokens:
        orders |= orders_by_token.get(token, set())
    return orders, tokens


def select_journal_lines(
    path: Path, flt: JournalFilter, *, tail: int | None, on_malformed: Callable[[int, str], None]
) -> Iterator[JournalLine]:
    """The records of `path` that pass `flt` (the last `tail` of them if given), in file order.

    OSError when the file cannot be read; malformed lines go to `on_malformed` and are skipped.
    """
    linked_orders: set[str] = set()
    linked_tokens: set[str] = set()
    if flt.market is not None:
        linked_orders, linked_tokens = _market_links(path, flt.market)

    def selected() -> Iterator[JournalLine]:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in read_journal(lines, on_malformed):
                if flt.kinds and line.kind not in flt.kinds:
                    continue
                if flt.since_s is not None and line.t_s < flt.since_s:
                    continue
                if flt.until_s is not None and line.t_s > flt.until_s:
                    continue
                facts: _Facts | None = None
                if flt.market is not None:
                    own = _market_matches(line.record, flt.market)
                    if own is None:
                        facts = _facts(line.record)
                        own = bool(facts.order_ids & linked_orders or facts.token_ids & linked_tokens)
                    if not own:
                        continue
                if flt.order_prefix is not None:
                    facts = facts or _facts(line.record)
                    if not _names_order(facts, flt.order_prefix):
                        continue
                yield line

    if tail is None:
        yield from selected()
    else:
        yield from collections.deque(selected(), maxlen=tail)


def _summary_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _is_hex_id(value) or (value.isdigit() and len(value) > _LONG_DECIMAL_CHARS):
            return short_id(value)
        text = value if len(value) <= _TEXT_MAX_CHARS else value[:_TEXT_MAX_CHARS] + "…"
        return text if text and " " not in text else orjson.dumps(text).decode()
    if isinstance(value, Mapping):
        if "order" in value or "makerAmount" in value:
            return _order_summary(value)
        return "{" + ", ".join(f"{_summary_value(str(k))}: {_summary_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        shown = [_summary_value(v) for v in value[:_LIST_SHOWN]]
        if len(value) > _LIST_SHOWN:
            shown.append(f"…+{len(value) - _LIST_SHOWN}")
        return "[" + ", ".join(shown) + "]"
    return str(value)


def _amount(raw: Any) -> Decimal | None:
    try:
        return Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None


def _order_summary(wire: Mapping[str, Any]) -> str:
    """A signed order body in one phrase: id, side, size @ price, token, type, postOnly, expiration."""
    body = wire.get("order", wire)
    if not isinstance(body, Mapping):
        return _summary_value(str(body))
    side = str(body.get("side", "?"))
    maker, taker = _amount(body.get("makerAmount")), _amount(body.get("takerAmount"))
    order_id = order_id_of_wire(wire)
    parts = [f"order={short_id(order_id) if order_id else '?'}", side]
    if maker and taker:
        # BUY: maker gives pUSD, takes shares; SELL the reverse (spec 3.3). Amounts are 1e6 units.
        pusd, shares = (maker, taker) if side == "BUY" else (taker, maker)
        price = (pusd / shares).quantize(_PRICE_DECIMALS).normalize()
        parts.append(f"{_decimal_text(shares / _AMOUNT_SCALE)}@{format(price, 'f')}")
        parts.append(f"(maker={maker} taker={taker})")
    parts.append(f"token={_summary_value(str(body.get('tokenId', '?')))}")
    if "orderType" in wire:
        parts.append(str(wire["orderType"]))
    if wire.get("postOnly"):
        parts.append("postOnly")
    expiration = str(body.get("expiration", "0"))
    if expiration not in ("", "0"):
        parts.append(f"exp={expiration}")
    return " ".join(parts)


# Fields never shown by the summary: `owner` is the API key (an identifier the journal keeps, not a
# thing to put on a screen); `t` and `kind` have their own columns.
_HIDDEN_FIELDS: Final = frozenset({"t", "kind", "owner"})


def format_journal_record(record: Mapping[str, Any]) -> str:
    """One line: ISO UTC time with ms, kind, then key=value for the other fields, long ids shortened."""
    fields = []
    for key, value in record.items():
        if key in _HIDDEN_FIELDS:
            continue
        if key == "order" and isinstance(value, Mapping):
            fields.append(_order_summary(value))
        else:
            fields.append(f"{key}={_summary_value(value)}")
    return f"{_iso_ms(float(record['t']))}  {str(record['kind']):<18} {' '.join(fields)}".rstrip()


def journal_command(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    """`journal FILE`: print the matching records (one line each, or raw with `--json`). EXIT_OK; EXIT_CONFIG
    for an unreadable file or a bad --since/--until."""
    path: Path = args.file
    try:
        since_s = parse_time_s(args.since) if getattr(args, "since", None) else None
        until_s = parse_time_s(args.until) if getattr(args, "until", None) else None
    except ValueError as exc:
        print(f"journal: --since/--until must be unix seconds or ISO 8601: {exc}", file=err)
        return EXIT_CONFIG
    market = getattr(args, "market", None)
    if market is not None and not market.lower().startswith("0x"):
        try:
            found = market_by_slug(path, market)
        except OSError as exc:
            print(f"journal: cannot read {path}: {exc.strerror or exc}", file=err)
            return EXIT_CONFIG
        if found is None:
            print(f"journal: no market_start record in {path} has slug {market!r}; --market takes a slug "
                  "(as the journal's market_start records name it) or a condition id prefix", file=err)
            return EXIT_CONFIG
        market = found
    flt = JournalFilter(
        kinds=frozenset(getattr(args, "kind", None) or ()),
        market=market,
        order_prefix=getattr(args, "order", None),
        since_s=since_s,
        until_s=until_s,
    )
    malformed = 0

    def report(line_no: int, why: str) -> None:
        nonlocal malformed
        malformed += 1
        print(f"journal: {path}:{line_no}: malformed line skipped ({why})", file=err)

    shown = 0
    as_json = bool(getattr(args, "json", False))
    try:
        for line in select_journal_lines(path, flt, tail=getattr(args, "tail", None), on_malformed=report):
            out.write((line.raw if as_json else format_journal_record(line.record)) + "\n")
            shown += 1
    except BrokenPipeError:
        # `journal FILE | head`: the reader has what it wanted. Not a read error, and nothing more to say.
        _quiet_closed_stdout(out)
        return EXIT_OK
    except OSError as exc:
        print(f"journal: cannot read {path}: {exc.strerror or exc}", file=err)
        return EXIT_CONFIG
    if not as_json:
        skipped = f"; {malformed} malformed line{'s' if malformed != 1 else ''} skipped" if malformed else ""
        try:
            print(f"-- {shown} record{'s' if shown != 1 else ''} shown{skipped}", file=out, flush=True)
        except BrokenPipeError:
            _quiet_closed_stdout(out)
    return EXIT_OK


def _quiet_closed_stdout(out: TextIO) -> None:
    """The pipe's reader is gone: point the stream at /dev/null so the interpreter's final flush does not
    raise again (the recipe of Python's signal documentation for SIGPIPE)."""
    try:
        fileno = out.fileno()
    except (OSError, ValueError, AttributeError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)


def market_by_slug(path: Path, slug: str) -> str | None:
    """The condition id a journal's `market_start` records give for `slug` (exact, else the one slug it
    is a unique prefix of); None when none matches. OSError when the file cannot be read."""
    exact: str | None = None
    prefixed: set[str] = set()
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in read_journal(lines, lambda _n, _why: None):
            record = line.record
            if line.kind != "market_start" or not isinstance(record.get("slug"), str):
                continue
            if not isinstance(record.get("market"), str):
                continue
            if record["slug"] == slug:
                exact = record["market"]
            elif record["slug"].startswith(slug):
                prefixed.add(record["market"])
    if exact is not None:
        return exact
    return next(iter(prefixed)) if len(prefixed) == 1 else None


# --- CLI entry points (bot.cli.COMMAND_TARGETS) ----------------------------------------------------


async def cli_orders(args: argparse.Namespace, settings: BotSettings | None) -> int:
    """`python -m bot orders`."""
    if settings is None:
        return EXIT_CONFIG
    return await orders_command(args, settings, out=sys.stdout, err=sys.stderr)


def cli_journal(args: argparse.Namespace, settings: BotSettings | None) -> int:
    """`python -m bot journal FILE` (needs no settings)."""
    del settings
    return journal_command(args, out=sys.stdout, err=sys.stderr)
