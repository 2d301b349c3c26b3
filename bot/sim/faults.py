"""Fault injection for the simulator: a plan of pure decisions the fronts consult, and the actions.

A `FaultPlan` is plain data (pydantic; loadable from a JSON file, replaceable through
`/_sim/admin/faults`, or set directly by tests). The REST and WS fronts ask it one question per
request / frame / user event (`http_decision`, `ws_frame_decision`, `user_event_action`); each answer
consumes the matching count, so "the next 3 POST /order get 503" means exactly three.

What it can do (issue 4, item 7):
- HTTP, per endpoint family or group: added latency; `status` (5xx for N requests); `rate_limit` (429 +
  Retry-After bursts); `hang` (no response until the client gives up); `drop` (connection closed);
  `garbage` (200 with a body that is not what the endpoint promises: an HTML error page by default, as a
  CDN or proxy in front of Gamma answers when the origin fails).
  `hang`/`drop` with `landed=True` let the request reach the engine first: the order IS placed (or the
  cancel done) but the client never learns it — the "POST timed out but landed" case.
- WS: close a channel's connections now (`ws_disconnect` action) or after N more frames.
- User events: drop, duplicate, or reorder (hold one, deliver it after the next) the next N events.
- Actions (`SimAction`, now or `at_s` after start): engine restart (425, then post-only mode),
  cancel-only / disabled / normal mode, tick-size change, FAILED trades, an unknown-order storm.

`FaultController` executes actions against the engine and the WS hub; timers (the end of a restart
window, scheduled actions) run in its `run` task, inside the server's nursery.
"""

from __future__ import annotations

import enum
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import trio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.protocol.constants import POST_ONLY_MODE_S

__all__ = [
    "FAMILY_GROUPS",
    "FaultController",
    "FaultPlan",
    "HttpDecision",
    "HttpFault",
    "SimAction",
    "UserEventAction",
    "UserEventFaults",
    "fault_family",
    "storm_order_events",
]

# Endpoint families as the fault plan names them (finer than the rate-limit families), and groups.
_FAMILY_BY_ROUTE: dict[tuple[str, str], str] = {
    ("POST", "/order"): "post_order",
    ("POST", "/orders"): "post_orders",
    ("DELETE", "/order"): "cancel_order",
    ("DELETE", "/orders"): "cancel_orders",
    ("DELETE", "/cancel-all"): "cancel_all",
    ("DELETE", "/cancel-market-orders"): "cancel_market",
    ("GET", "/data/orders"): "data_orders",
    ("GET", "/data/trades"): "data_trades",
    ("POST", "/v1/heartbeats"): "heartbeat",
    ("POST", "/heartbeats"): "heartbeat",
    ("GET", "/book"): "book",
    ("POST", "/books"): "books",
    ("GET", "/ok"): "public",
    ("GET", "/time"): "public",
    ("GET", "/version"): "public",
}

FAMILY_GROUPS: dict[str, frozenset[str]] = {
    "orders": frozenset({"post_order", "post_orders"}),
    "cancels": frozenset({"cancel_order", "cancel_orders", "cancel_all", "cancel_market"}),
    "trading": frozenset(
        {"post_order", "post_orders", "cancel_order", "cancel_orders", "cancel_all", "cancel_market"}
    ),
    "data": frozenset({"data_orders", "data_order", "data_trades"}),
}


def fault_family(method: str, path: str) -> str | None:
    """The fault-plan family of a request; None for the admin prefix (never faulted)."""
    if path.startswith("/_sim/"):
        return None
    if path.startswith("/gamma"):
        return "gamma"
    family = _FAMILY_BY_ROUTE.get((method.upper(), path))
    if family is not None:
        return family
    if path.startswith("/data/order/"):
        return "data_order"
    if path.startswith("/auth/"):
        return "auth"
    if path.startswith("/balance-allowance"):
        return "balance"
    return "market_info"


def _matches(selector: str, family: str) -> bool:
    return selector in ("*", family) or family in FAMILY_GROUPS.get(selector, frozenset())


class HttpFault(BaseModel):
    """One HTTP fault rule: the next `count` requests of the selected families get `kind`."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["status", "rate_limit", "hang", "drop", "garbage"]
    families: list[str] = Field(default_factory=lambda: ["*"], description="families or groups; '*' = all")
    count: int = Field(1, ge=0)
    status: int = Field(500, ge=400, le=599, description="for kind=status")
    message: str | None = Field(
        None, description="error text for kind=status (default: per status); the raw body for kind=garbage"
    )
    retry_after_s: int = Field(1, ge=0, description="for kind=rate_limit")
    landed: bool = Field(False, description="hang/drop after the engine processed the request")

    def applies_to(self, family: str) -> bool:
        return self.count > 0 and any(_matches(selector, family) for selector in self.families)


class UserEventFaults(BaseModel):
    """How many of the next user-channel events to drop, duplicate, or reorder (in that priority)."""

    model_config = ConfigDict(extra="forbid")

    drop: int = Field(0, ge=0)
    duplicate: int = Field(0, ge=0)
    reorder: int = Field(0, ge=0)


class UserEventAction(enum.StrEnum):
    DELIVER = "deliver"
    DROP = "drop"
    DUPLICATE = "duplicate"
    REORDER = "reorder"  # hold this one; deliver it right after the next event


class SimAction(BaseModel):
    """A one-off venue event, applied now (admin endpoint) or `at_s` seconds after start (plan file)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal[
        "restart", "cancel_only", "disabled", "normal", "tick_size", "fail_trades", "ws_disconnect", "storm"
    ]
    at_s: float = Field(0.0, ge=0, description="delay after the plan is loaded (scheduled actions)")
    restart_s: float = Field(5.0, ge=0, description="restart: length of the 425 window")
    post_only_mode_s: float = Field(POST_ONLY_MODE_S, ge=0, description="restart: post-only window after it")
    duration_s: float | None = Field(
        None, ge=0, description="cancel_only / disabled: how long (None = until changed)"
    )
    condition_id: str | None = Field(None, description="tick_size: the market")
    tick_size: str | None = Field(None, description="tick_size: the new tick, e.g. '0.001'")
    count: int = Field(1, ge=0, description="fail_trades: trades to fail; storm: events to emit")
    channel: Literal["market", "user", "all"] = "all"
    api_key: str | None = Field(None, description="storm: target API key (None = every user connection)")
    market: str | None = Field(None, description="storm: condition id to put in the events")


def _where(loc: tuple[Any, ...]) -> str:
    """`http[0].kind` from pydantic's ('http', 0, 'kind')."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(the whole file)"


def _message(error: Any) -> str:
    if error.get("type") == "extra_forbidden":
        return "unknown field (see ops/FAULTS.md for the fields)"
    return str(error.get("msg", "invalid"))


@dataclass(frozen=True, slots=True)
class HttpDecision:
    """What the REST front does with one request: wait `latency_s`, then `fault` (None = serve normally)."""

    latency_s: float = 0.0
    fault: HttpFault | None = None


class FaultPlan(BaseModel):
    """All injected faults; mutable, consulted per request/frame/event. Empty = a well-behaved venue."""

    model_config = ConfigDict(extra="forbid")

    latency_s: dict[str, float] = Field(default_factory=dict, description="family or group → added seconds")
    http: list[HttpFault] = Field(default_factory=list)
    user_events: UserEventFaults = Field(default_factory=UserEventFaults)
    ws_drop_after_frames: dict[Literal["market", "user"], int] = Field(
        default_factory=dict, description="channel → close each connection after this many more frames"
    )
    schedule: list[SimAction] = Field(default_factory=list)

    @classmethod
    def from_json_file(cls, path: str | Path) -> FaultPlan:
        """Load a plan; ValueError with one line per problem (where in the file, what is wrong), never a
        raw pydantic dump. OSError when the file cannot be read. The format: `ops/FAULTS.md`."""
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"fault file {path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = [f"  {_where(e['loc'])}: {_message(e)}" for e in exc.errors(include_url=False)]
            raise ValueError("\n".join([f"fault file {path}: not a valid fault plan (format: ops/FAULTS.md):",
                                         *problems])) from None

    def replace_with(self, other: FaultPlan) -> None:
        """Take over `other`'s rules in place, so fronts holding this object see them at once."""
        for name in type(self).model_fields:
            setattr(self, name, getattr(other, name))

    def clear(self) -> None:
        self.replace_with(FaultPlan())

    def http_decision(self, family: str | None) -> HttpDecision:
        """Decide one request's fate; consumes one count of the first matching HTTP fault."""
        if family is None:
            return HttpDecision()
        latency_s = 0.0
        for selector, seconds in self.latency_s.items():
            if _matches(selector, family):
                latency_s = max(latency_s, seconds)
        for fault in self.http:
            if fault.applies_to(family):
                fault.count -= 1
                return HttpDecision(latency_s, fault)
        return HttpDecision(latency_s)

    def user_event_action(self) -> UserEventAction:
        """Fate of the next user-channel event; consumes one count."""
        faults = self.user_events
        if faults.drop > 0:
            faults.drop -= 1
            return UserEventAction.DROP
        if faults.duplicate > 0:
            faults.duplicate -= 1
            return UserEventAction.DUPLICATE
        if faults.reorder > 0:
            faults.reorder -= 1
            return UserEventAction.REORDER
        return UserEventAction.DELIVER

    def ws_frame_decision(self, channel: str) -> bool:
        """True when this frame is the last one a `channel` connection gets before being cut."""
        left = self.ws_drop_after_frames.get(channel)  # type: ignore[call-overload]
        if left is None:
            return False
        if left <= 1:
            del self.ws_drop_after_frames[channel]  # type: ignore[arg-type]
            return True
        self.ws_drop_after_frames[channel] = left - 1  # type: ignore[index]
        return False


def storm_order_events(
    count: int, *, owner: str, market: str, asset_id: str, now_ms: int, rng: random.Random
) -> list[dict[str, Any]]:
    """`count` user-channel `order` events for ids nobody placed (the unknown-order storm of the design).

    Shapes follow spec 6.3 (PLACEMENT / UPDATE / CANCELLATION, ms timestamp, seconds created_at).
    """
    kinds = (("PLACEMENT", "LIVE"), ("UPDATE", "LIVE"), ("CANCELLATION", "CANCELED"))
    events = []
    for i in range(count):
        kind, status = kinds[i % len(kinds)]
        price = f"{rng.randint(1, 99) / 100:.2f}"
        events.append(
            {
                "event_type": "order",
                "type": kind,
                "id": "0x" + rng.getrandbits(256).to_bytes(32, "big").hex(),
                "owner": owner,
                "order_owner": owner,
                "market": market,
                "asset_id": asset_id,
                "side": "BUY",
                "price": price,
                "original_size": "10",
                "size_matched": "5" if kind == "UPDATE" else "0",
                "associate_trades": None,
                "outcome": "Up",
                "order_type": "GTC",
                "status": status,
                "expiration": "0",
                "maker_address": "0x" + rng.getrandbits(160).to_bytes(20, "big").hex(),
                "created_at": str(now_ms // 1000),
                "timestamp": str(now_ms),
            }
        )
    return events


class _Exchange(Protocol):
    def set_mode(self, mode: str, until_s: float | None = None) -> None: ...
    def set_tick_size(self, condition_id: str, tick_size: str) -> None: ...
    def fail_next_trades(self, n: int) -> None: ...
    def markets(self) -> Iterable[Any]: ...


class _Hub(Protocol):
    def kick(self, channel: str) -> int: ...
    def inject_user_events(self, api_key: str | None, payloads: list[dict[str, Any]]) -> int: ...
    def api_keys_connected(self) -> list[str]: ...


class FaultController:
    """Applies `SimAction`s to the engine and the WS hub; owns the timers they need (in `run`)."""

    def __init__(
        self,
        plan: FaultPlan,
        exchange: _Exchange,
        hub: _Hub | None,
        *,
        now_s: Callable[[], float],
        seed: int = 0,
    ) -> None:
        self.plan = plan
        self._exchange = exchange
        self._hub = hub
        self._now_s = now_s
        self._rng = random.Random(seed)
        # Timers go here; bounded because each admin call adds at most one and a flood of admin calls
        # is a test bug we want to see as an error, not as unbounded memory.
        self._timer_send, self._timer_recv = trio.open_memory_channel[tuple[float, Callable[[], None]]](64)
        self.applied: list[str] = []
        self.restart_until_s: float | None = None
        self.post_only_until_s: float | None = None

    def __repr__(self) -> str:
        return f"<FaultController applied={len(self.applied)} restart_until_s={self.restart_until_s}>"

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the plan's schedule and the timers of applied actions until cancelled."""
        async with trio.open_nursery() as nursery:
            start = trio.current_time()
            for action in list(self.plan.schedule):
                nursery.start_soon(
                    self._call_at, start + action.at_s, lambda action=action: self.apply(action)
                )
            task_status.started()
            async for deadline, callback in self._timer_recv:
                nursery.start_soon(self._call_at, deadline, callback)

    async def _call_at(self, deadline: float, callback: Callable[[], object]) -> None:
        await trio.sleep_until(deadline)
        callback()

    def apply(self, action: SimAction) -> dict[str, Any]:
        """Apply one action now; returns a short JSON-able summary for the admin endpoint."""
        now_s = self._now_s()
        result: dict[str, Any] = {"kind": action.kind}
        if action.kind == "restart":
            # 425 for restart_s, then post-only mode for post_only_mode_s (spec 9 "Matching-engine restarts").
            self.restart_until_s = now_s + action.restart_s
            self.post_only_until_s = self.restart_until_s + action.post_only_mode_s
            self._exchange.set_mode("restarting", until_s=self.restart_until_s)
            self._schedule(action.restart_s, self._enter_post_only)
            result.update(restart_until_s=self.restart_until_s, post_only_until_s=self.post_only_until_s)
        elif action.kind in ("cancel_only", "disabled", "normal"):
            until_s = None if action.duration_s is None else now_s + action.duration_s
            self._exchange.set_mode(action.kind, until_s=until_s)
            self.restart_until_s = self.post_only_until_s = None
            result.update(mode=action.kind, until_s=until_s)
        elif action.kind == "tick_size":
            if not action.condition_id or not action.tick_size:
                raise ValueError("tick_size needs condition_id and tick_size")
            self._exchange.set_tick_size(action.condition_id, action.tick_size)
            result.update(condition_id=action.condition_id, tick_size=action.tick_size)
        elif action.kind == "fail_trades":
            self._exchange.fail_next_trades(action.count)
            result.update(count=action.count)
        elif action.kind == "ws_disconnect":
            kicked = 0
            if self._hub is not None:
                for channel in ("market", "user") if action.channel == "all" else (action.channel,):
                    kicked += self._hub.kick(channel)
            result.update(closed=kicked)
        elif action.kind == "storm":
            result.update(delivered=self._storm(action, now_s))
        self.applied.append(action.kind)
        return result

    def _enter_post_only(self) -> None:
        # The second half of a restart; a mode set in between (e.g. cancel-only) wins.
        if self.post_only_until_s is None:
            return
        self._exchange.set_mode("post_only", until_s=self.post_only_until_s)
        self.restart_until_s = None

    def _schedule(self, delay_s: float, callback: Callable[[], None]) -> None:
        self._timer_send.send_nowait((trio.current_time() + delay_s, callback))

    def _storm(self, action: SimAction, now_s: float) -> int:
        if self._hub is None:
            return 0
        market = action.market
        asset_id = "0"
        if market is None:
            specs = list(self._exchange.markets())
            if specs:
                spec = specs[0]
                market, asset_id = spec.condition_id, spec.yes_token_id
        keys = [action.api_key] if action.api_key else self._hub.api_keys_connected()
        delivered = 0
        for key in keys:
            events = storm_order_events(
                action.count,
                owner=key,
                market=market or "0x" + "0" * 64,
                asset_id=asset_id,
                now_ms=int(now_s * 1000),
                rng=self._rng,
            )
            delivered += self._hub.inject_user_events(key, events)
        return delivered
