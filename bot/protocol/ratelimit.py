"""Client-side rate limits: a request waits on Trio's clock until its endpoint family has room.

Spec: docs/protocol/polymarket-clob.md section 7(a): the venue (Cloudflare, per IP) allows a burst
per 10 s and a sustained amount per 10 min per endpoint family, and answers overshoot with 429 and
`Retry-After`. Staying under those numbers ourselves turns a 429 (a lost request) into a short local
wait. The per-signer token buckets of 7(b) are not modelled: they are in warning mode, their tier is
account-specific, and their all-or-nothing batch cost would make a 1000-id cancel wait forever on the
Standard tier.

Each bucket is a GCRA ("virtual scheduling") token bucket: one timestamp per bucket, the theoretical
arrival time `tat`, instead of a token count refilled by float arithmetic. A request of cost `n` is
conforming at `tat + n*T - capacity*T` where `T = period_s / capacity`; reserving moves `tat` on by
`n*T`. Reservations are taken in call order, so waiters are served FIFO without a lock, and the times
are exact on the fake clock. Rejected alternative: a counter refilled on each call, whose waiters race
and whose refill drifts by float error.
"""

from __future__ import annotations

import enum
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import trio

__all__ = [
    "DEFAULT_LIMITS",
    "BucketSpec",
    "EndpointFamily",
    "RateLimiter",
    "RateLimiterStatistics",
]


class EndpointFamily(enum.StrEnum):
    """A group of endpoints sharing one venue rate limit (spec 7(a))."""

    POST_ORDER = "POST /order"
    DELETE_ORDER = "DELETE /order"
    POST_ORDERS = "POST /orders"
    DELETE_ORDERS = "DELETE /orders"
    CANCEL_ALL = "DELETE /cancel-all"
    CANCEL_MARKET_ORDERS = "DELETE /cancel-market-orders"
    DATA_ORDERS = "GET /data/orders"
    DATA_TRADES = "GET /data/trades"
    BOOK = "GET /book"
    TICK_SIZE = "GET /tick-size"
    BALANCE_ALLOWANCE = "GET /balance-allowance"
    API_KEYS = "api keys"
    GENERAL = "general"


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """A token bucket: bursts of up to `capacity` requests, refilled evenly at `capacity` per `period_s`.

    (Like the venue's own throttle it bounds the rate, not a window count: a window of `period_s` that
    starts with a full bucket can see up to twice `capacity`. The sustained bucket caps the long run.)
    """

    capacity: int
    period_s: float

    def __post_init__(self) -> None:
        if self.capacity < 1 or not self.period_s > 0:
            raise ValueError(f"bucket needs capacity >= 1 and period_s > 0, got {self}")


_BURST_S = 10.0  # spec 7(a): "burst / 10 s"
_SUSTAINED_S = 600.0  # spec 7(a): "sustained / 10 min"

# source: spec 7(a) (docs rate-limits page after the Jun 1, 2026 increase; 3P copies dated 2026-09).
DEFAULT_LIMITS: Mapping[EndpointFamily, tuple[BucketSpec, ...]] = {
    EndpointFamily.POST_ORDER: (BucketSpec(5_000, _BURST_S), BucketSpec(120_000, _SUSTAINED_S)),
    EndpointFamily.DELETE_ORDER: (BucketSpec(5_000, _BURST_S), BucketSpec(120_000, _SUSTAINED_S)),
    EndpointFamily.POST_ORDERS: (BucketSpec(2_000, _BURST_S), BucketSpec(21_000, _SUSTAINED_S)),
    EndpointFamily.DELETE_ORDERS: (BucketSpec(2_000, _BURST_S), BucketSpec(15_000, _SUSTAINED_S)),
    EndpointFamily.CANCEL_ALL: (BucketSpec(250, _BURST_S), BucketSpec(6_000, _SUSTAINED_S)),
    EndpointFamily.CANCEL_MARKET_ORDERS: (BucketSpec(1_500, _BURST_S), BucketSpec(21_000, _SUSTAINED_S)),
    EndpointFamily.DATA_ORDERS: (BucketSpec(500, _BURST_S),),
    EndpointFamily.DATA_TRADES: (BucketSpec(500, _BURST_S),),
    EndpointFamily.BOOK: (BucketSpec(1_500, _BURST_S),),
    EndpointFamily.TICK_SIZE: (BucketSpec(200, _BURST_S),),
    EndpointFamily.BALANCE_ALLOWANCE: (BucketSpec(200, _BURST_S),),
    EndpointFamily.API_KEYS: (BucketSpec(100, _BURST_S),),
    EndpointFamily.GENERAL: (BucketSpec(9_000, _BURST_S),),
}


class _Bucket:
    __slots__ = ("_emission_s", "_tolerance_s", "capacity", "tat")

    def __init__(self, spec: BucketSpec) -> None:
        self.capacity = spec.capacity
        self._emission_s = spec.period_s / spec.capacity
        self._tolerance_s = spec.period_s
        self.tat = -math.inf  # a full bucket

    def reserve(self, now: float, cost: int) -> float:
        """Take `cost` tokens; returns the virtual time at which they are ours (now, or later)."""
        base = max(self.tat, now)
        self.tat = base + cost * self._emission_s
        return max(now, self.tat - self._tolerance_s)

    def push_back(self, until: float) -> None:
        # After a 429 the venue's bucket is exhausted: nothing before `until`, a fresh burst from then.
        self.tat = max(self.tat, until)


@dataclass(frozen=True, slots=True)
class RateLimiterStatistics:
    acquired: Mapping[str, int]
    waited: Mapping[str, int]
    penalties: Mapping[str, int]
    blocked_until: Mapping[str, float]


class RateLimiter:
    """A family's requests pass in call order, never faster than its buckets, never before a Retry-After.

    `acquire` sleeps on Trio's clock (so tests run on the fake clock). A waiter that is cancelled
    keeps its reservation: the family is slightly under-used afterwards, never over-used.
    """

    def __init__(self, limits: Mapping[EndpointFamily, tuple[BucketSpec, ...]] = DEFAULT_LIMITS) -> None:
        self._buckets: dict[EndpointFamily, tuple[_Bucket, ...]] = {
            family: tuple(_Bucket(spec) for spec in specs) for family, specs in limits.items()
        }
        self._blocked_until: dict[EndpointFamily, float] = {}
        self._acquired: Counter[str] = Counter()
        self._waited: Counter[str] = Counter()
        self._penalties: Counter[str] = Counter()

    async def acquire(self, family: EndpointFamily, cost: int = 1) -> None:
        """Wait until `cost` requests of `family` may be sent, then count them as sent.

        Raises ValueError if `cost` exceeds a bucket's capacity (it could never pass). A family
        without configured buckets passes at once (only a penalty can hold it).
        """
        buckets = self._buckets.get(family, ())
        if cost < 1:
            raise ValueError(f"cost must be >= 1, got {cost}")
        for bucket in buckets:
            if cost > bucket.capacity:
                raise ValueError(f"{family} cost {cost} exceeds bucket capacity {bucket.capacity}")
        now = trio.current_time()
        ready_at = max((bucket.reserve(now, cost) for bucket in buckets), default=now)
        waited = False
        # Loop: a penalty may arrive (and push the time back) while we sleep.
        while True:
            target = max(ready_at, self._blocked_until.get(family, -math.inf))
            if trio.current_time() >= target:
                break
            waited = True
            await trio.sleep_until(target)
        if not waited:
            # Every acquire is a cancel point, whether or not it had to wait; not a schedule point: the
            # request that follows yields at its socket write, and a yield here would cost every order
            # request one more scheduler pass (~40 µs of the frame-to-cancel path, `ops/bench_latency.py`).
            await trio.lowlevel.checkpoint_if_cancelled()
        else:
            self._waited[family.value] += 1
        self._acquired[family.value] += cost

    def penalize(self, family: EndpointFamily, retry_after_s: float) -> None:
        """Honour a venue Retry-After: no request of `family` starts before now + `retry_after_s`."""
        until = trio.current_time() + max(0.0, retry_after_s)
        if until > self._blocked_until.get(family, -math.inf):
            self._blocked_until[family] = until
        for bucket in self._buckets.get(family, ()):
            bucket.push_back(until)
        self._penalties[family.value] += 1

    def statistics(self) -> RateLimiterStatistics:
        return RateLimiterStatistics(
            acquired=dict(self._acquired),
            waited=dict(self._waited),
            penalties=dict(self._penalties),
            blocked_until={f.value: t for f, t in self._blocked_until.items()},
        )

    def __repr__(self) -> str:
        return (
            f"<RateLimiter families={len(self._buckets)} acquired={sum(self._acquired.values())} "
            f"waited={sum(self._waited.values())} penalties={sum(self._penalties.values())}>"
        )
