"""Venue-side rate limits: the simulator refuses what the real venue would refuse, with its headers.

Spec: docs/protocol/polymarket-clob.md section 7, both systems:

(a) Cloudflare, per client IP and endpoint family: a burst per 10 s and a sustained amount per 10 min
    (numbers shared with the bot's client-side limiter, `bot.protocol.ratelimit.DEFAULT_LIMITS`). Cloudflare
    *throttles*: a request slightly over the line is queued, sustained overshoot gets 429. We model that
    as "wait up to `throttle_max_wait_s` for the tokens, else 429 with Retry-After".
(b) Per-signer token buckets (order / cancel), tiered, with `Poly-RateLimit-Remaining/-Reset/-Tier`
    headers on every order and cancel response, 429 + `Retry-After` when empty, batches all-or-nothing,
    cancel-all and cancel-market debited after the fact (1 + number cancelled; may go negative on tiers
    that allow a debt). The venue announced this in warning mode (`Poly-RateLimit-Warning: true`, no
    rejection); `SignerLimitMode.ENFORCE` (our default) is what it will become, and what a bot must survive.

All bucket arithmetic runs on `trio.current_time()` (fake-clock friendly); only the `Reset` header
needs wall time, which the caller passes in as the venue's epoch seconds.
"""

from __future__ import annotations

import enum
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import trio

from bot.protocol.ratelimit import DEFAULT_LIMITS, BucketSpec, EndpointFamily

__all__ = [
    "HEADER_LIMIT_REMAINING",
    "HEADER_LIMIT_RESET",
    "HEADER_LIMIT_TIER",
    "HEADER_LIMIT_WARNING",
    "HEADER_RETRY_AFTER",
    "SIGNER_TIERS",
    "EdgeDecision",
    "EdgeLimiter",
    "SignerBucketKind",
    "SignerDecision",
    "SignerLimitMode",
    "SignerLimiter",
    "SignerTier",
    "TokenBucket",
    "VenueRateLimitConfig",
    "endpoint_family",
]

# --- spec 7(b), kept here until bot/protocol/constants.py carries them --------------------------------
# source: spec 7(b) (DOCS https://docs.polymarket.com/api-reference/trading-rate-limits)
HEADER_LIMIT_REMAINING = "Poly-RateLimit-Remaining"
HEADER_LIMIT_RESET = "Poly-RateLimit-Reset"
HEADER_LIMIT_TIER = "Poly-RateLimit-Tier"
HEADER_LIMIT_WARNING = "Poly-RateLimit-Warning"
HEADER_RETRY_AFTER = "Retry-After"


@dataclass(frozen=True, slots=True)
class SignerTier:
    """One row of the per-signer tier table: rates per second, bursts, and whether cancels may go negative."""

    name: str
    order_rate_per_s: float
    order_burst: float
    cancel_rate_per_s: float
    cancel_burst: float
    cancel_debt: bool


# source: spec 7(b) tier table (30-day volume tiers)
SIGNER_TIERS: Mapping[str, SignerTier] = {
    tier.name: tier
    for tier in (
        SignerTier("Standard", 40, 60, 80, 120, True),
        SignerTier("Copper", 60, 90, 120, 180, True),
        SignerTier("Bronze", 80, 120, 160, 240, True),
        SignerTier("Silver", 200, 300, 400, 600, True),
        SignerTier("Gold", 400, 600, 800, 1_200, True),
        SignerTier("Platinum", 450, 675, 900, 1_350, False),
        SignerTier("Diamond", 525, 787, 1_050, 1_575, False),
        SignerTier("Elite", 600, 900, 1_200, 1_800, False),
    )
}
# -------------------------------------------------------------------------------------------------------


class SignerLimitMode(enum.StrEnum):
    OFF = "off"  # no buckets, no headers
    WARN = "warn"  # headers, `Poly-RateLimit-Warning: true` when over, never 429 (the venue since 2026-07-24)
    ENFORCE = "enforce"  # headers and 429 + Retry-After (announced, "to be announced" date)


class SignerBucketKind(enum.StrEnum):
    ORDER = "order"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class VenueRateLimitConfig:
    """Tunables of the simulated venue's limits; defaults are the spec's numbers."""

    edge_enabled: bool = True
    edge_limits: Mapping[EndpointFamily, tuple[BucketSpec, ...]] = field(
        default_factory=lambda: dict(DEFAULT_LIMITS)
    )
    # How long Cloudflare queues a request that is slightly over the line before it answers 429 instead.
    # UNCONFIRMED (not documented); 1 s keeps a short overshoot invisible and a flood visible.
    throttle_max_wait_s: float = 1.0
    signer_mode: SignerLimitMode = SignerLimitMode.ENFORCE
    signer_tier: str = "Standard"


def endpoint_family(method: str, path: str) -> EndpointFamily | None:
    """The spec-7(a) family of a venue request, GENERAL for the rest, None for paths outside the CLOB."""
    if path.startswith("/gamma") or path.startswith("/_sim"):
        return None
    key = (method.upper(), path)
    direct = {
        ("POST", "/order"): EndpointFamily.POST_ORDER,
        ("DELETE", "/order"): EndpointFamily.DELETE_ORDER,
        ("POST", "/orders"): EndpointFamily.POST_ORDERS,
        ("DELETE", "/orders"): EndpointFamily.DELETE_ORDERS,
        ("DELETE", "/cancel-all"): EndpointFamily.CANCEL_ALL,
        ("DELETE", "/cancel-market-orders"): EndpointFamily.CANCEL_MARKET_ORDERS,
        ("GET", "/data/orders"): EndpointFamily.DATA_ORDERS,
        ("GET", "/data/trades"): EndpointFamily.DATA_TRADES,
        ("GET", "/book"): EndpointFamily.BOOK,
        ("GET", "/balance-allowance"): EndpointFamily.BALANCE_ALLOWANCE,
    }
    family = direct.get(key)
    if family is not None:
        return family
    if path == "/tick-size" or path.startswith("/tick-size/"):
        return EndpointFamily.TICK_SIZE
    if path.startswith("/auth/"):
        return EndpointFamily.API_KEYS
    return EndpointFamily.GENERAL


class TokenBucket:
    """A token bucket on Trio's clock: `rate_per_s` refill up to `burst`; may hold a debt if allowed.

    All-or-nothing: `try_take` takes the whole cost or nothing, so a cost above the burst never passes
    (spec 7(b): "a batch costing more than the burst can never pass").
    """

    __slots__ = ("_tokens", "_updated", "allow_debt", "burst", "rate_per_s")

    def __init__(self, rate_per_s: float, burst: float, *, allow_debt: bool = False, now: float) -> None:
        if not rate_per_s > 0 or not burst > 0:
            raise ValueError("a bucket needs rate_per_s > 0 and burst > 0")
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self.allow_debt = allow_debt
        self._tokens = float(burst)
        self._updated = now

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate_per_s)
            self._updated = now

    def tokens(self, now: float) -> float:
        self._refill(now)
        return self._tokens

    def try_take(self, cost: float, now: float) -> bool:
        self._refill(now)
        if cost <= self._tokens:
            self._tokens -= cost
            return True
        return False

    def force_take(self, cost: float, now: float) -> None:
        """Debit `cost` regardless (cancel-all's after-the-fact charge); floors at 0 without debt."""
        self._refill(now)
        self._tokens -= cost
        if not self.allow_debt:
            self._tokens = max(0.0, self._tokens)

    def wait_s(self, cost: float, now: float) -> float:
        """Seconds until `cost` tokens are there (inf if it exceeds the burst)."""
        self._refill(now)
        if cost > self.burst:
            return math.inf
        return max(0.0, (cost - self._tokens) / self.rate_per_s)

    def full_in_s(self, now: float) -> float:
        self._refill(now)
        return max(0.0, (self.burst - self._tokens) / self.rate_per_s)


@dataclass(frozen=True, slots=True)
class EdgeDecision:
    """Outcome of the edge (Cloudflare) check: pass after `wait_s`, or 429 with `retry_after_s`."""

    allowed: bool
    wait_s: float = 0.0
    retry_after_s: int = 0


class EdgeLimiter:
    """Per (client, family) burst and sustained buckets with Cloudflare-like short queueing, then 429."""

    def __init__(self, config: VenueRateLimitConfig) -> None:
        self._config = config
        self._buckets: dict[tuple[str, EndpointFamily], tuple[TokenBucket, ...]] = {}
        self._rejected: Counter[str] = Counter()
        self._queued: Counter[str] = Counter()

    def check(self, client: str, family: EndpointFamily | None) -> EdgeDecision:
        """Admit one request now (returns how long to hold it first) or refuse it with a Retry-After."""
        if not self._config.edge_enabled or family is None:
            return EdgeDecision(True)
        specs = self._config.edge_limits.get(family, ())
        if not specs:
            return EdgeDecision(True)
        now = trio.current_time()
        buckets = self._buckets.get((client, family))
        if buckets is None:
            buckets = tuple(
                TokenBucket(spec.capacity / spec.period_s, spec.capacity, allow_debt=True, now=now)
                for spec in specs
            )
            self._buckets[(client, family)] = buckets
        wait_s = max(bucket.wait_s(1, now) for bucket in buckets)
        if wait_s > self._config.throttle_max_wait_s:
            self._rejected[family.value] += 1
            return EdgeDecision(False, retry_after_s=max(1, math.ceil(wait_s)))
        # Queued requests hold their place: the debt makes the next one wait behind this one.
        for bucket in buckets:
            bucket.force_take(1, now)
        if wait_s > 0:
            self._queued[family.value] += 1
        return EdgeDecision(True, wait_s=wait_s)

    def statistics(self) -> dict[str, dict[str, int]]:
        return {"rejected": dict(self._rejected), "queued": dict(self._queued)}


@dataclass(frozen=True, slots=True)
class SignerDecision:
    """Outcome of a per-signer check: `allowed`, the headers to attach, and Retry-After when refused."""

    allowed: bool
    headers: Mapping[str, str]
    retry_after_s: int = 0


class SignerLimiter:
    """Per-signer order and cancel buckets of spec 7(b), with the venue's response headers."""

    def __init__(self, config: VenueRateLimitConfig) -> None:
        self._config = config
        self._tier = SIGNER_TIERS[config.signer_tier]
        self._buckets: dict[tuple[str, SignerBucketKind], TokenBucket] = {}
        self._rejected: Counter[str] = Counter()
        self._warned: Counter[str] = Counter()

    @property
    def enabled(self) -> bool:
        return self._config.signer_mode is not SignerLimitMode.OFF

    def _bucket(self, signer: str, kind: SignerBucketKind, now: float) -> TokenBucket:
        key = (signer.lower(), kind)
        bucket = self._buckets.get(key)
        if bucket is None:
            tier = self._tier
            if kind is SignerBucketKind.ORDER:
                bucket = TokenBucket(tier.order_rate_per_s, tier.order_burst, now=now)
            else:
                bucket = TokenBucket(
                    tier.cancel_rate_per_s, tier.cancel_burst, allow_debt=tier.cancel_debt, now=now
                )
            self._buckets[key] = bucket
        return bucket

    def _headers(self, bucket: TokenBucket, now: float, epoch_now_s: float, *, over: bool) -> dict[str, str]:
        headers = {
            HEADER_LIMIT_REMAINING: str(math.floor(bucket.tokens(now))),
            HEADER_LIMIT_RESET: str(math.ceil(epoch_now_s + bucket.full_in_s(now))),
            HEADER_LIMIT_TIER: self._tier.name,
        }
        if over and self._config.signer_mode is SignerLimitMode.WARN:
            headers[HEADER_LIMIT_WARNING] = "true"
        return headers

    def take(self, signer: str, kind: SignerBucketKind, cost: int, epoch_now_s: float) -> SignerDecision:
        """Charge `cost` up front (POST /order(s), DELETE /order(s)); refuse all of it if it does not fit."""
        if not self.enabled:
            return SignerDecision(True, {})
        now = trio.current_time()
        bucket = self._bucket(signer, kind, now)
        if bucket.try_take(cost, now):
            return SignerDecision(True, self._headers(bucket, now, epoch_now_s, over=False))
        if self._config.signer_mode is SignerLimitMode.WARN:
            self._warned[kind.value] += 1
            bucket.force_take(cost, now)
            return SignerDecision(True, self._headers(bucket, now, epoch_now_s, over=True))
        self._rejected[kind.value] += 1
        wait_s = bucket.wait_s(cost, now)
        retry_after = (
            math.ceil(wait_s) if math.isfinite(wait_s) else math.ceil(bucket.burst / bucket.rate_per_s)
        )
        headers = self._headers(bucket, now, epoch_now_s, over=True)
        headers[HEADER_RETRY_AFTER] = str(max(1, retry_after))
        return SignerDecision(False, headers, max(1, retry_after))

    def precheck(self, signer: str, kind: SignerBucketKind, epoch_now_s: float) -> SignerDecision:
        """Cancel-all / cancel-market: at least one token must be there; the charge comes after (`debit`)."""
        if not self.enabled:
            return SignerDecision(True, {})
        now = trio.current_time()
        bucket = self._bucket(signer, kind, now)
        if bucket.tokens(now) >= 1 or self._config.signer_mode is SignerLimitMode.WARN:
            return SignerDecision(True, {})
        self._rejected[kind.value] += 1
        retry_after = max(1, math.ceil(bucket.wait_s(1, now)))
        headers = self._headers(bucket, now, epoch_now_s, over=True)
        headers[HEADER_RETRY_AFTER] = str(retry_after)
        return SignerDecision(False, headers, retry_after)

    def debit(self, signer: str, kind: SignerBucketKind, cost: int, epoch_now_s: float) -> Mapping[str, str]:
        """The after-the-fact charge; returns the headers (Remaining may be negative on debt tiers)."""
        if not self.enabled:
            return {}
        now = trio.current_time()
        bucket = self._bucket(signer, kind, now)
        over = bucket.tokens(now) < cost
        bucket.force_take(cost, now)
        return self._headers(bucket, now, epoch_now_s, over=over)

    def statistics(self) -> dict[str, dict[str, int]]:
        return {"rejected": dict(self._rejected), "warned": dict(self._warned)}
