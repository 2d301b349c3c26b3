"""Bad input is counted and skipped, never raised, and never moves an order or the inventory.

Frames are generated from scratch and mutated from the real captures in tests/fixtures/polymarket
(truncated, wrong types, huge numbers, NaN, negative values, unknown event types, fields removed). The
user-channel ones also go through the real runner's event handlers (over the model venue of
`tests.reliability.lifecycle`). Settings are fuzzed through `load_settings` and `python -m bot check-config`.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.protocol.messages import (
    BookEvent,
    LastTradePriceEvent,
    MalformedMessage,
    OrderEvent,
    ParseStats,
    PriceChangeEvent,
    TradeEvent,
    parse_book,
    parse_cancel_response,
    parse_market,
    parse_market_frame,
    parse_open_order,
    parse_post_response,
    parse_trade,
    parse_user_frame,
)
from settings import BotSettings, SettingsError, load_settings
from tests.reliability.lifecycle import LifecycleMachine, drive

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "polymarket"

_USER_KINDS = {"order", "trade"}


def _fixtures(folder: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((FIXTURES / folder).glob("*.json")):
        loaded = orjson.loads(path.read_bytes())
        out.extend(item for item in (loaded if isinstance(loaded, list) else [loaded]) if isinstance(item, dict))
    return out


WS = _fixtures("ws")
USER_WS = [d for d in WS if d.get("event_type") in _USER_KINDS or "maker_orders" in d or d.get("type") in
           ("PLACEMENT", "UPDATE", "CANCELLATION")]
MARKET_WS = [d for d in WS if d not in USER_WS]
REST = _fixtures("rest")

# Values a field should never be able to carry into the bot.
_BAD_SCALARS = [None, True, False, "", " ", "NaN", "nan", "Infinity", "-Infinity", "-1", "-0.01", "1e400",
                "abc", "0x10", "1,5", "½", [], {}, [1, 2], {"a": 1}, -1, 10**40, float("nan")]
bad_values = st.one_of(
    st.sampled_from(_BAD_SCALARS),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
_UNKNOWN_EVENT_TYPES = st.sampled_from(["", "ORDER", "trade_v9", "book2", "subscribe", "unknown", "PONG"])


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into a JSON value (dict keys and list indexes)."""
    out: list[tuple[Any, ...]] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            out.append((*prefix, key))
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(obj, list):
        for index, value in enumerate(obj[:3]):  # a few items of long books are enough
            out.append((*prefix, index))
            out.extend(_paths(value, (*prefix, index)))
    return out


def _parent(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        obj = obj[key]
    return obj


@st.composite
def mutated(draw: st.DrawFn, pool: list[dict[str, Any]]) -> dict[str, Any]:
    """A fixture with one to three fields replaced, removed, or its event type made unknown."""
    obj = copy.deepcopy(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(obj)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["set", "set", "delete", "event_type"]))
        parent = _parent(obj, path)
        if op == "event_type" and isinstance(obj, dict):
            obj["event_type"] = draw(_UNKNOWN_EVENT_TYPES)
        elif op == "delete" and isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = copy.deepcopy(draw(bad_values))  # a shared sample must never be mutated
    return obj


def _dumps(obj: Any) -> bytes:
    # orjson refuses NaN/inf and big ints; the venue could still send such text: write it by hand.
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, allow_nan=True, default=str).encode()


@st.composite
def frames(draw: st.DrawFn, pool: list[dict[str, Any]]) -> bytes | str:
    """One WebSocket frame: a mutated message, a batch of them, a truncation, or noise."""
    kind = draw(st.sampled_from(["one", "batch", "truncated", "noise", "text", "nested"]))
    if kind == "noise":
        return draw(st.binary(max_size=64))
    if kind == "text":
        return draw(st.one_of(st.text(max_size=64), st.sampled_from(["PONG", "NO NEW ASSETS", "null", "[]", "{}",
                                                                     "[[]]", "1e999", "\"x\"", "[1,2]"])))
    if kind == "batch":
        items = draw(st.lists(st.one_of(mutated(pool), st.sampled_from(pool), bad_values), min_size=1, max_size=4))
        return _dumps(items)
    raw = _dumps(draw(mutated(pool)))
    if kind == "truncated":
        return raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    if kind == "nested":  # read back with the standard parser: `_dumps` may have written NaN or a big int
        return _dumps({"data": [json.loads(raw)] if raw.startswith(b"{") else raw.decode()})
    return raw


def _sane_market(event: Any) -> bool:
    """Prices are probabilities and sizes non-negative, both integer micro-units: what the book holds."""
    def price_ok(p: Any) -> bool:
        return type(p) is int and 0 <= p <= 10**6

    def size_ok(s: Any) -> bool:
        return type(s) is int and s >= 0

    if isinstance(event, BookEvent):
        levels = [*event.bids, *event.asks]
        return all(price_ok(p) and size_ok(s) for p, s in levels)
    if isinstance(event, PriceChangeEvent):
        return all(
            price_ok(c.price_micro) and size_ok(c.size_micro)
            and all(b is None or price_ok(b) for b in (c.best_bid_micro, c.best_ask_micro))
            for c in event.changes
        )
    if isinstance(event, LastTradePriceEvent):
        return price_ok(event.price_micro) and size_ok(event.size_micro)
    return True


def _sane_user(event: Any) -> bool:
    """Prices are probabilities and amounts are non-negative integers: what the engine does arithmetic with."""
    if isinstance(event, OrderEvent):
        amounts = [event.original_size_micro, event.size_matched_micro]
        return 0 <= event.price_micro <= 10**6 and all(type(a) is int and a >= 0 for a in amounts)
    if isinstance(event, TradeEvent):
        legs_ok = all(0 <= m.price_micro <= 10**6 and type(m.matched_amount_micro) is int and m.matched_amount_micro >= 0
                      for m in event.maker_orders)
        return 0 <= event.price_micro <= 10**6 and type(event.size_micro) is int and event.size_micro >= 0 and legs_ok
    return True


_FUZZ = settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))


# --- WebSocket frames -------------------------------------------------------------------------------


@_FUZZ
@given(frame=frames(MARKET_WS))
def test_market_frames_never_raise_and_count_every_frame(frame: bytes | str) -> None:
    stats = ParseStats()
    events = parse_market_frame(frame, stats)
    assert stats.frames == 1
    assert stats.events == len(events)
    assert all(_sane_market(e) for e in events), events


@_FUZZ
@given(frame=frames(USER_WS))
def test_user_frames_never_raise_and_count_every_frame(frame: bytes | str) -> None:
    stats = ParseStats()
    events = parse_user_frame(frame, stats)
    assert stats.frames == 1
    assert stats.events == len(events)
    assert all(isinstance(e, OrderEvent | TradeEvent) for e in events)


def _user_fixture(kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(d for d in USER_WS if d.get("event_type") == kind and (kind != "trade" or
                                                                                   d.get("maker_orders"))))


def _absurd_user_events() -> list[tuple[str, dict[str, Any]]]:
    order, trade = _user_fixture("order"), _user_fixture("trade")
    leg = dict(trade["maker_orders"][0])
    return [
        ("order price 5", {**order, "price": "5"}),
        ("order size_matched 1e400", {**order, "size_matched": "1e400"}),
        ("trade price 1e308", {**trade, "price": "1e308"}),
        ("maker leg matched_amount 1e400", {**trade, "maker_orders": [{**leg, "matched_amount": "1e400"}]}),
        ("maker leg price 7", {**trade, "maker_orders": [{**leg, "price": "7"}]}),
    ]


@pytest.mark.parametrize("case", _absurd_user_events(), ids=lambda case: case[0])
def test_absurd_prices_and_amounts_in_user_events_are_counted_and_skipped(case: tuple[str, dict[str, Any]]) -> None:
    stats = ParseStats()
    events = parse_user_frame(_dumps(case[1]), stats)
    assert events == [] and stats.malformed == 1, [e for e in events if not _sane_user(e)]


@pytest.mark.parametrize("name,value", [("price", "NaN"), ("price", "-0.5"), ("size", "-1"), ("size", "Infinity")])
def test_nan_and_negative_numbers_in_a_book_are_counted_and_skipped(name: str, value: str) -> None:
    book = next(d for d in MARKET_WS if d.get("event_type") == "book")
    bad = copy.deepcopy(book)
    bad["bids"][0][name] = value
    stats = ParseStats()
    assert parse_market_frame(_dumps([bad, book]), stats) != []
    assert stats.malformed == 1 and stats.events == 1


# --- REST bodies ------------------------------------------------------------------------------------

_REST_PARSERS = (parse_open_order, parse_trade, parse_post_response, parse_cancel_response, parse_book,
                 parse_market)


@_FUZZ
@given(body=st.one_of(mutated(REST + USER_WS), bad_values), parser=st.sampled_from(_REST_PARSERS))
def test_rest_parsers_answer_a_value_or_malformed_message(body: Any, parser: Any) -> None:
    try:
        parser(body)
    except MalformedMessage:
        pass


# --- through the runner -------------------------------------------------------------------------------


def _model_with_orders() -> tuple[LifecycleMachine, list[dict[str, Any]]]:
    """A runner with live orders and some fills, and the venue's own user events about them."""
    model = LifecycleMachine()
    model.tick()
    model.taker(model.runner.info.up_token_id, 12, False, False)
    events = list(model.queue)
    model._deliver_all()
    drive(model.runner.tick())
    model._deliver_all()
    assert model.runner.manager.open_orders() and events
    return model, events


_IDENTITY = ("id", "market", "asset_id", "owner", "taker_order_id")


@st.composite
def foreign_or_broken(draw: st.DrawFn, events: list[dict[str, Any]]) -> tuple[str, bytes]:
    event = copy.deepcopy(draw(st.sampled_from(events)))
    kind = draw(st.sampled_from(["foreign", "broken", "truncated"]))
    if kind == "foreign":
        # Another market, another token, ids nobody here placed.
        event["market"] = "0x" + "ee" * 32
        event["asset_id"] = str(draw(st.integers(1, 10**6)))
        if event.get("event_type") == "order":
            event["id"] = f"0x{draw(st.integers(1, 2**64)):064x}"
        for leg in event.get("maker_orders") or ():
            leg["asset_id"] = event["asset_id"]
            leg["owner"] = "someone-else"
            leg["order_id"] = f"0x{draw(st.integers(1, 2**64)):064x}"
        return kind, _dumps(event)
    raw = _dumps(draw(mutated([event])))
    if kind == "truncated":
        return kind, raw[: draw(st.integers(0, len(raw) - 1))]
    return kind, raw


async def test_foreign_and_malformed_user_events_never_change_an_order_or_the_inventory() -> None:
    model, events = _model_with_orders()

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=foreign_or_broken(events))
    def check(case: tuple[str, bytes]) -> None:
        kind, frame = case
        before = model._snapshot()
        stats = ParseStats()
        parsed = parse_user_frame(frame, stats)
        if kind != "foreign" and not stats.malformed:
            return  # the mutation left a valid venue statement: not this test's subject
        for event in parsed:
            if isinstance(event, OrderEvent):
                model.runner.user_handler.on_order_event(event)
            else:
                model.runner.user_handler.on_trade_event(event)
        assert model._snapshot() == before, (kind, frame[:200])

    check()


# --- settings ------------------------------------------------------------------------------------

_FIELDS = sorted(BotSettings.model_fields)
_SECRET_FIELDS = {"private_key", "api_key", "api_secret", "api_passphrase"}
env_values = st.one_of(
    st.sampled_from(["", " ", "nan", "inf", "-inf", "-1", "0", "1e400", "99999999999999999999", "true", "yes",
                     "[]", "{}", "[1,2]", "null", "live", "LIVE", "paper", "0x", "0x" + "g" * 64, "é"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20),
    st.integers().map(str),
    st.floats(allow_nan=True).map(repr),
)


@contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith("BOT_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(values)
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith("BOT_")]:
            del os.environ[key]
        os.environ.update(saved)


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(env=st.dictionaries(st.sampled_from(_FIELDS), env_values, min_size=1, max_size=3))
def test_fuzzed_settings_load_or_fail_with_one_clear_line_per_field(env: dict[str, str]) -> None:
    with _env({f"BOT_{k.upper()}": v for k, v in env.items()}):
        try:
            load_settings()
        except SettingsError as exc:
            assert exc.lines and all(line.startswith("invalid setting") for line in exc.lines), exc.lines
            for name in _SECRET_FIELDS & set(env):
                for line in exc.lines:
                    if line.startswith(f"invalid setting {name} "):
                        assert ": value <hidden>: " in line, f"the value of {name} was echoed: {line}"


_SECRET_SENTINEL = "0x" + "5ec12e7" * 9 + "z"  # 66 characters, not hex: invalid, and easy to spot if echoed


@pytest.mark.parametrize(
    "env",
    [
        {"BOT_LADDER_LEVELS": "nan"},
        {"BOT_QUOTE_CUTOFF_S": "1e400", "BOT_MODE": "sideways"},
        {"BOT_MODE": "live", "BOT_PRIVATE_KEY": _SECRET_SENTINEL},
        {"BOT_SERIES": "[]", "BOT_MAX_MARKETS": "-3"},
    ],
    ids=["nan_int", "huge_float_bad_enum", "bad_secret", "empty_series"],
)
def test_check_config_exits_2_with_a_message_and_no_traceback(env: dict[str, str], tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check-config"], cwd=tmp_path, env={**clean, **env, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert done.stderr.startswith("invalid setting"), done.stderr
    assert _SECRET_SENTINEL not in done.stderr + done.stdout
