"""Shared machinery of the pure state machines: the transition row, the shared `Machine`, the error.

Each model class (an order, a market) has ONE `transitions.Machine`, built once at import from its
allowed-transition table. Models are driven through that machine's `Event` objects
(`machine.events[name].trigger(model)`), which is exactly what the bound trigger methods that
`Machine.add_model` would attach do (`partial(machine.events[name].trigger, model)`), minus the
per-instance cost: `add_model` binds one partial per trigger, per `may_` check and per `is_` state
on every instance (about 30 attribute writes for an order) and appends the model to
`machine.models`, a list that then keeps every order ever created alive and makes the next
`add_model` (`mod not in self.models`) O(n). Dispatching through the shared events keeps the
library's semantics (source check, transition execution, state write) with no per-model
registration; `ops/bench_statemachines.py` measures both.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from transitions import Event, Machine, MachineError

__all__ = [
    "IllegalTransition",
    "TransitionRow",
    "allowed_table",
    "build_machine",
    "check_finite_non_negative",
    "check_micro",
    "short_id",
]

# The library logs every state enter/exit at INFO. A bot running at INFO would write several lines
# per order transition (and pay for formatting them); the machines' own record is the model's fields
# and the market history, so the library's chatter is capped at WARNING.
logging.getLogger("transitions.core").setLevel(logging.WARNING)

# Ids are 0x + 64 hex (order hash, condition id); six characters identify one in a message and
# keep lines short.
_SHORT_ID_CHARS = 6


def short_id(value: str) -> str:
    """The first characters of an id followed by an ellipsis (the whole id when it is short)."""
    if len(value) <= _SHORT_ID_CHARS + 1:
        return value
    return value[:_SHORT_ID_CHARS] + "…"


def check_finite_non_negative(name: str, value: float) -> float:
    """Return `value` as a float; raise ValueError when it is negative, NaN or infinite."""
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def check_micro(name: str, value: int) -> int:
    """Return `value`, an amount in integer micro-units; ValueError for a float, a bool or a negative."""
    if type(value) is not int or value < 0:
        raise ValueError(f"{name} must be an int >= 0 (micro-units), got {value!r}")
    return value


class TransitionRow(NamedTuple):
    """One row of an allowed-transition table: `trigger` moves any of `sources` to `dest`."""

    trigger: enum.StrEnum
    sources: tuple[enum.StrEnum, ...]
    dest: enum.StrEnum


class IllegalTransition(MachineError):
    """A trigger the allowed table does not permit from the model's current state.

    The message names the model kind, a short id, the state and the trigger, e.g.
    ``order 0xab12… in state 'filled' cannot 'cancel_requested'``. The model is left unchanged.
    """

    def __init__(self, kind: str, model_id: str, state: enum.StrEnum, trigger: str) -> None:
        self.kind = kind
        self.model_id = model_id
        self.state = state
        self.trigger = str(trigger)
        message = f"{kind} {short_id(model_id)} in state '{state.value}' cannot '{self.trigger}'"
        super().__init__(message)

    def __str__(self) -> str:
        # MachineError.__str__ returns repr(value), which would wrap the message in quotes.
        return str(self.value)


def allowed_table(rows: Iterable[TransitionRow]) -> dict[tuple[enum.StrEnum, enum.StrEnum], enum.StrEnum]:
    """Flatten rows into {(source, trigger): dest}; raise ValueError when a pair is given twice."""
    table: dict[tuple[enum.StrEnum, enum.StrEnum], enum.StrEnum] = {}
    for row in rows:
        for source in row.sources:
            key = (source, row.trigger)
            if key in table:
                raise ValueError(f"transition table lists {source.value!r} + {row.trigger.value!r} twice")
            table[key] = row.dest
    return table


def build_machine(
    name: str,
    states: type[enum.StrEnum],
    initial: enum.StrEnum,
    rows: Iterable[TransitionRow],
) -> tuple[Machine, Mapping[str, Event]]:
    """Build the one shared machine of a model class from its table; return it and its events by name.

    The machine has no model of its own, no `to_<state>` shortcuts (they would bypass the table)
    and raises on a trigger that is invalid in the current state.
    """
    rows = list(rows)
    allowed_table(rows)  # fail at import on a duplicated pair: the table must be unambiguous
    machine = Machine(
        model=None,
        states=states,
        initial=initial,
        transitions=[
            {"trigger": row.trigger.value, "source": list(row.sources), "dest": row.dest} for row in rows
        ],
        auto_transitions=False,
        ignore_invalid_triggers=False,
        send_event=False,
        queued=False,
        name=name,
    )
    return machine, dict(machine.events)
