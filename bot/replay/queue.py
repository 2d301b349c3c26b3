"""Queue-position models for our resting orders in a replayed L2 book (after hftbacktest's).

The recorded book shows only the size at each price, not who is where in the queue. An order of ours
joins the back of its level: the queue ahead of it is the displayed size when it arrives. Then:

| model | trade at our price | size decrease at our price (not from a trade) |
|---|---|---|
| `ConservativeQueue` (hftbacktest's RiskAdverse) | the queue ahead shrinks by the traded size | only as far as the level's new size (cancels come from behind us) |
| `ProbabilisticQueue` (hftbacktest's ProbQueueModel with `f(x) = x**n`) | the same | a share `1 − prob` of the decrease is ahead of us, `prob = f(back) / (f(back) + f(front))` |

Both take trade volume seen since the level's last size change off that change, so a trade and the
size decrease that reports it move us once. Sizes are integers in 1e6 share units; the probabilistic
estimate is floored, so it is never behind the conservative one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

__all__ = ["ConservativeQueue", "ProbabilisticQueue", "QueueModel", "QueueSpot", "queue_model"]


@dataclass
class QueueSpot:
    """Where one order stands: shares ahead of it, and traded volume not yet seen as a size change."""

    ahead: int
    traded_since_depth: int = 0


class QueueModel(Protocol):
    name: str

    def on_trade(self, spot: QueueSpot, traded: int) -> None: ...

    def on_depth(self, spot: QueueSpot, prev_size: int, new_size: int) -> None: ...


class ConservativeQueue:
    """Our order advances only through trades at its price (and when the level shrinks below it)."""

    name = "conservative"

    def on_trade(self, spot: QueueSpot, traded: int) -> None:
        spot.ahead = max(0, spot.ahead - traded)
        spot.traded_since_depth += traded

    def on_depth(self, spot: QueueSpot, prev_size: int, new_size: int) -> None:
        spot.traded_since_depth = 0
        spot.ahead = min(spot.ahead, new_size)

    def __repr__(self) -> str:
        return "ConservativeQueue()"


class ProbabilisticQueue:
    """Decreases not explained by trades come from ahead of us with probability `f(front)/(f(front)+f(back))`."""

    name = "probabilistic"

    def __init__(self, power: float = 3.0) -> None:
        self.power = power

    def __repr__(self) -> str:
        return f"ProbabilisticQueue(power={self.power})"

    def on_trade(self, spot: QueueSpot, traded: int) -> None:
        spot.ahead = max(0, spot.ahead - traded)
        spot.traded_since_depth += traded

    def on_depth(self, spot: QueueSpot, prev_size: int, new_size: int) -> None:
        change = prev_size - new_size - spot.traded_since_depth
        spot.traded_since_depth = 0
        if change <= 0:
            spot.ahead = min(spot.ahead, new_size)
            return
        front = spot.ahead
        back = max(0, prev_size - front)
        f_front, f_back = float(front) ** self.power, float(back) ** self.power
        prob_behind = 1.0 if f_front + f_back == 0 else f_back / (f_front + f_back)
        estimate = front - (1.0 - prob_behind) * change + min(back - prob_behind * change, 0.0)
        spot.ahead = max(0, min(math.floor(estimate), new_size))


def queue_model(name: str, *, power: float = 3.0) -> QueueModel:
    """The model called `name` ("conservative" or "probabilistic"); ValueError otherwise."""
    if name == "conservative":
        return ConservativeQueue()
    if name == "probabilistic":
        return ProbabilisticQueue(power)
    raise ValueError(f"unknown queue model {name!r} (conservative, probabilistic)")
