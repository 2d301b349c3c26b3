"""Pure, synchronous state machines of the bot: the order and the market, declared as data.

Nothing here imports Trio or `bot`, reads a clock or does I/O: triggers carry data in, the models'
recorded fields carry effects out, and the Trio side executes them.
"""

from statemachines._core import IllegalTransition, TransitionRow
from statemachines.market import (
    MARKET_TRANSITIONS,
    ExitReason,
    MarketMachine,
    MarketState,
    MarketTrigger,
)
from statemachines.order import (
    ORDER_TRANSITIONS,
    TERMINAL_ORDER_STATES,
    Order,
    OrderState,
    OrderTrigger,
)

__all__ = [
    "MARKET_TRANSITIONS",
    "ORDER_TRANSITIONS",
    "TERMINAL_ORDER_STATES",
    "ExitReason",
    "IllegalTransition",
    "MarketMachine",
    "MarketState",
    "MarketTrigger",
    "Order",
    "OrderState",
    "OrderTrigger",
    "TransitionRow",
]
