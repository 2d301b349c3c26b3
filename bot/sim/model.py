"""The simulator's public value types: markets, orders, results, configuration and events.

These are the names the HTTP/WS fronts import (re-exported by `bot.sim.engine`). Amounts on orders are
integers in 1e6 units (pUSD and outcome shares both have 6 decimals, spec section 1); prices are in the
token's own space; times are unix seconds (float) from the exchange's injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.protocol.constants import (
    BATCH_CANCEL_MAX,
    CANCEL_REASON_ALREADY_CANCELED_OR_MATCHED,
    CANCEL_REASON_NOT_FOUND,
    GTD_SECURITY_THRESHOLD_S,
    HEARTBEAT_CADENCE_S,
    HEARTBEAT_TIMEOUT_S,
    MARKETABLE_BUY_MIN_PUSD,
    POST_ONLY_MODE_S,
)

__all__ = [
    "MODES",
    "MarketData",
    "MarketSpec",
    "NewOrder",
    "OrderRejected",
    "PlaceResult",
    "SimConfig",
    "SimEvent",
    "UserData",
]

# Engine modes (spec 9 "Matching-engine restarts", 5.3 "Global / transport").
MODES = frozenset({"normal", "restarting", "post_only", "cancel_only", "disabled"})


@dataclass(frozen=True, kw_only=True)
class MarketSpec:
    """One binary market: its ids, grid, fees and window. `yes_token_id` is outcome 0 ("Up").

    Keyword-only: the contract lists the window (`start_ts`, `end_ts`) after defaulted fields.
    """

    condition_id: str
    question: str
    slug: str
    yes_token_id: str
    no_token_id: str
    outcomes: tuple[str, str] = ("Up", "Down")
    tick_size: str = "0.01"
    min_order_size: float = 5.0
    neg_risk: bool = False
    start_ts: float
    end_ts: float
    fee_rate: float = 0.07
    fee_exponent: float = 1.0
    taker_delay_s: float = 0.0
    # Orders are accepted from this time (None: as soon as the market is listed) until `end_ts`.
    # Real markets accept orders well before their window opens (spec 8, acceptingOrdersTimestamp).
    accepting_orders_ts: float | None = None
    # Liquidity rewards (spec 12.2): max spread in cents, min size in shares (None: the market's
    # minimum order size), the pool per day of venue time (0: no rewards) and the in-game multiplier.
    rewards_max_spread_cents: float = 3.5
    rewards_min_size: float | None = None
    rewards_rate_per_day: float = 0.0
    rewards_in_game_multiplier: float = 1.0
    # Maker rebates (spec 12.3): the share of taker fees paid back to makers (crypto 20 %).
    maker_rebate_share: float = 0.20

    @property
    def reward_min_size(self) -> float:
        return self.min_order_size if self.rewards_min_size is None else self.rewards_min_size


@dataclass(frozen=True)
class NewOrder:
    """A signed order as the front decoded it (signature already checked or skipped)."""

    order_id: str
    owner: str  # API key
    maker_address: str  # funder
    signer: str
    token_id: str
    side: str  # "BUY" | "SELL"
    maker_amount: int  # 1e6 units: pUSD for a BUY, shares for a SELL
    taker_amount: int  # 1e6 units: shares for a BUY, pUSD for a SELL
    order_type: str  # "GTC" | "GTD" | "FOK" | "FAK"
    post_only: bool
    expiration: int  # unix seconds, 0 = none
    timestamp_ms: int


class OrderRejected(Exception):
    """The venue refused a request; `message` is the exact venue text, `status` the HTTP status.

    `code` and `retry_after_s` are set for the post-only-mode 503 body
    (`{"error", "code", "retry_after_seconds"}` + `Retry-After`) and the 425 restart window.
    """

    def __init__(
        self, message: str, status: int = 400, *, code: str | None = None, retry_after_s: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after_s = retry_after_s

    def __repr__(self) -> str:
        return f"OrderRejected({self.message!r}, status={self.status})"


@dataclass(frozen=True)
class PlaceResult:
    """The outcome of an accepted order (spec 5.4). Amounts are decimal strings, "" while resting."""

    order_id: str
    status: str  # "live" | "matched" | "delayed"
    making_amount: str
    taking_amount: str
    trade_ids: list[str] = field(default_factory=list)


@dataclass
class SimConfig:
    """Exchange behaviour; defaults are the spec's, UNCONFIRMED points are switches."""

    paper_balance_pusd: float = 10_000.0
    # Trade lifecycle, both measured from the match time (spec 1.2 trade statuses).
    trade_mined_delay_s: float = 1.0
    trade_confirmed_delay_s: float = 3.0
    gtd_security_s: float = float(GTD_SECURITY_THRESHOLD_S)
    # GTD expiration exactly floor(now) + gtd_security_s: accepted by the venue per a 3P probe (spec 5.1),
    # refused by default (the spec's simulator rule, stricter; boundary UNCONFIRMED). Note: accepting it
    # lets a client post orders that expire at once (the bot then re-posts them in a loop near its cutoff).
    gtd_accepts_boundary: bool = False
    cancel_not_found_reason: str = CANCEL_REASON_NOT_FOUND
    cancel_done_reason: str = CANCEL_REASON_ALREADY_CANCELED_OR_MATCHED
    max_cancel_batch: int = BATCH_CANCEL_MAX
    heartbeat_timeout_s: float = HEARTBEAT_TIMEOUT_S
    heartbeat_sweep_s: float = HEARTBEAT_CADENCE_S
    post_only_mode_s: float = POST_ONLY_MODE_S
    marketable_buy_min_pusd: float = float(MARKETABLE_BUY_MIN_PUSD)
    # UNCONFIRMED (spec 5.1): a non-GTD order with a non-zero expiration is rejected.
    reject_expiration_on_non_gtd: bool = True
    # UNCONFIRMED: the share minimum applies to resting types only; FOK/FAK have the $1 BUY minimum.
    min_size_applies_to_market_orders: bool = False
    # Spec 4 "Precision rules": FOK/FAK maker amount <= 2 decimals, BUY taker amount <= the tick's amount dp.
    enforce_market_order_precision: bool = True
    # GTC/GTD amounts exactly as the official client builds them (spec 3.4; 3P live texts, see
    # rules.check_limit_precision). False restores the old lenient check (tick grid within 1 %).
    enforce_limit_order_precision: bool = True
    # Spec 6.2: the venue moves a 0.01 market to 0.001 when its price passes 0.96 / 0.04, and back, with
    # a tick_size_change (rule in bot/sim/market.py `_auto_tick`; the price definition is UNCONFIRMED).
    auto_tick_size: bool = True
    # UNCONFIRMED (spec 9 "Self-trade prevention"): when True a taker skips resting orders of its own key.
    prevent_self_trade: bool = False
    # UNCONFIRMED (spec 9 "Market close"): resting orders are cancelled this long after end_ts.
    market_resolve_delay_s: float = 0.0
    # NT observation (not in the spec): FOK/FAK BUY order events carry original_size in pUSD.
    market_buy_original_size_in_pusd: bool = False
    # UNCONFIRMED (spec 1.1): GET /data/order/{id} of a finished order. NT observed an empty answer ("only
    # returns active orders"); the docs guide says the id filter "can also return a canceled or fully
    # matched order". Stricter default (issue 15 §9): null, so a client must not rely on it.
    get_order_returns_finished: bool = False
    # Issue 15 §9, UNCONFIRMED (spec 6.3: PLACEMENT = "order accepted and resting"): a GTC/GTD that matches
    # part of its size on entry and rests the rest gets a PLACEMENT, then the UPDATE. False = UPDATE only.
    placement_when_partly_filled_on_entry: bool = True
    # Allowance reported for every spender (max uint256: "approved").
    allowance_units: int = 2**256 - 1
    # Spec 12.2: rewards are sampled once a minute at a random moment; a compressed paper series
    # shortens the minute in proportion. Each sample pays 1/1440 of a market's daily pool.
    rewards_sample_period_s: float = 60.0
    # Not the venue: a reference ledger sampling this many times per reward minute (0: off), whose
    # accrual is the expectation of the venue's one random sample a minute; it lets a test tell an
    # estimator's bias from the sampling noise of a few samples (bot/sim/rewards.py).
    rewards_reference_subsamples: int = 0
    # Spec 12.2: an order must have rested this long to score (3.5 s in the one notice that states it).
    scoring_min_rest_s: float = 3.5


@dataclass(frozen=True)
class MarketData:
    """A market-channel payload (spec 6.2) about `token_ids` of market `condition_id`."""

    token_ids: tuple[str, ...]
    condition_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class UserData:
    """A user-channel payload (spec 6.3) for the API key `owner` about market `condition_id`."""

    owner: str
    condition_id: str
    payload: dict[str, Any]


SimEvent = MarketData | UserData
