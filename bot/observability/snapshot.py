"""The one data shape every display reads: frozen, plain-data snapshots of the bot and its markets.

The status screen, the plain log lines and the Prometheus metrics all render a `BotStatus`; none of
them reaches into a runner. `market_status_from_runner` builds a `MarketStatus` from a live
`MarketRunner` (read-only: it calls no venue and changes nothing), and the supervisor wraps the
markets with its own account-level facts (heartbeat, WebSockets, loop lag) into a `BotStatus`.

No field holds a secret: these are prices, sizes, counts and public identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.observability.incentives_view import IncentivesStatus, incentives_status
from bot.protocol.money import micro_to_float

if TYPE_CHECKING:  # only for the annotation: observability must not import the engine at run time
    from bot.engine.market import MarketRunner

__all__ = [
    "BotStatus",
    "LadderRow",
    "MarketStatus",
    "TokenStatus",
    "market_status_from_runner",
]


@dataclass(frozen=True, slots=True)
class LadderRow:
    """One open order of ours on a ladder level: where it rests, how big, its state, what filled."""

    level: int
    price: float
    size_shares: float
    state: str
    matched_shares: float


@dataclass(frozen=True, slots=True)
class TokenStatus:
    """One outcome token: its top of book, our inventory in it, and our open ladder (best level first)."""

    token_id: str
    outcome: str
    best_bid: float | None
    best_ask: float | None
    inventory_shares: float
    avg_cost: float | None
    ladder: tuple[LadderRow, ...]
    # Why this side has no quotes while the market quotes (e.g. the inventory-skew cap on the leading side).
    block_reason: str | None = None


@dataclass(frozen=True, slots=True)
class MarketStatus:
    """One market's runner at one instant: state, clocks, both tokens, pair economics and counters.

    Counters are cumulative since the runner started (the metrics turn them into Prometheus counters).
    """

    slug: str
    condition_id: str
    state: str
    block_reason: str | None
    seconds_to_cutoff: float
    seconds_to_end: float
    up: TokenStatus
    down: TokenStatus
    pair_cost: float | None
    paired_shares: float
    marked_pnl_pusd: float
    realised_pnl_pusd: float
    orders_posted: int
    orders_cancelled: int
    rejects_expected: int
    rejects_unexpected: int
    fills: int
    completions_sent: int
    completions_filled: int
    storms: int
    incentives: IncentivesStatus | None = None  # rewards, rebates and the P&L split

    @property
    def open_orders(self) -> int:
        """Open ladder orders of both tokens (pending, live or cancelling)."""
        return len(self.up.ladder) + len(self.down.ladder)


@dataclass(frozen=True, slots=True)
class BotStatus:
    """The whole process at one instant: the markets it trades and the account-level health."""

    now_s: float
    mode: str
    markets: tuple[MarketStatus, ...]
    heartbeat_age_s: float | None
    ws_market_connected: bool
    ws_user_connected: bool
    ws_reconnects: int
    loop_lag_ms: float | None
    open_orders: int
    finished_markets: int
    selections: tuple[str, ...] = ()  # series mode: why the latest candidates were picked or skipped
    dry_run: bool = False  # nothing is sent: every screen says so
    # Why the bot waits or refuses right now (no market listed, next window not open yet, ...).
    notes: tuple[str, ...] = ()
    stop_hint: str = ""  # how this run ends, and how to stop it
    # Tokens subscribed on the market channel: none while waiting for a window, which is idle, not down.
    ws_market_tokens: int = 1


def _price_or_none(price_micro: int | None) -> float | None:
    """The book's integer price for display (the status is read by people and metrics)."""
    return None if price_micro is None else micro_to_float(price_micro)


def _token_status(runner: MarketRunner, token_id: str, outcome: str) -> TokenStatus:
    ladder = getattr(runner, "last_ladder", None)
    side_block = None if ladder is None else ladder.token_blocks.get(token_id)
    book = runner.books.book(token_id)
    position = runner.inventory.position(token_id)
    rows = tuple(
        LadderRow(
            level=order.level if order.level is not None else -1,
            price=order.price,
            size_shares=order.size_shares,
            state=order.state.value,
            matched_shares=order.matched_shares,
        )
        for order in runner.manager.live_ladder(token_id)
    )
    # A book waiting for its snapshot has no trustworthy top: show none rather than stale prices.
    usable = book is not None and not book.needs_snapshot
    return TokenStatus(
        token_id=token_id,
        outcome=outcome,
        best_bid=_price_or_none(book.best_bid_micro) if usable and book is not None else None,
        best_ask=_price_or_none(book.best_ask_micro) if usable and book is not None else None,
        inventory_shares=position.shares,
        avg_cost=position.avg_cost,
        ladder=rows,
        block_reason=None if side_block is None else str(side_block.value),
    )


def market_status_from_runner(runner: MarketRunner, now_s: float) -> MarketStatus:
    """A snapshot of one runner at `now_s` (unix seconds, the runner's `VenueClock`).

    Read-only and synchronous: safe to call from any task between checkpoints. Counts come from the
    runner's `summary()`, so the screen, the metrics and the end-of-run summary agree.
    """
    summary = runner.summary()
    info = runner.info
    block = runner.block_reason
    return MarketStatus(
        slug=info.slug,
        condition_id=info.condition_id,
        state=runner.machine.state.value,
        block_reason=None if block is None else str(block.value),
        seconds_to_cutoff=runner.cutoff_s - now_s,
        seconds_to_end=info.end_s - now_s,
        up=_token_status(runner, info.up_token_id, "Up"),
        down=_token_status(runner, info.down_token_id, "Down"),
        pair_cost=summary["pair_cost"],
        paired_shares=float(summary["paired_shares"]),
        marked_pnl_pusd=float(summary["marked_pnl_pusd"]),
        realised_pnl_pusd=float(summary["realised_pnl_pusd"]),
        orders_posted=int(summary.get("posted", 0)),
        orders_cancelled=int(summary.get("cancelled", 0)),
        rejects_expected=int(summary.get("rejected_expected", 0)),
        rejects_unexpected=int(summary.get("rejected_unexpected", 0)),
        fills=int(summary["fills"]),
        completions_sent=int(summary["completions_sent"]),
        completions_filled=int(summary["completions_filled"]),
        storms=int(summary["storms"]),
        incentives=incentives_status(runner),
    )
