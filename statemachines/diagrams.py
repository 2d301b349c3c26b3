"""Diagram text of each machine, generated from its allowed-transition table: same table, same bytes.

Rendered here rather than by `transitions.extensions.GraphMachine`: its graphviz back ends need the
`graphviz`/`pygraphviz` packages (and a binary to render), its mermaid back end labels states by
enum member name (`PENDING`) and needs the machine built as a `GraphMachine`. The tables are small;
rendering them directly keeps the output deterministic and the machines plain. Returns text only;
`python -m bot diagrams` writes the files (committed copies live in ops/diagrams/).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Literal

from statemachines._core import TransitionRow
from statemachines.market import MARKET_TRANSITIONS, MarketState
from statemachines.order import ORDER_TRANSITIONS, TERMINAL_ORDER_STATES, OrderState

__all__ = ["DIAGRAM_FORMATS", "DiagramFormat", "MachineSpec", "MACHINE_SPECS", "export", "render"]

DiagramFormat = Literal["mermaid", "dot"]
DIAGRAM_FORMATS: Final[tuple[DiagramFormat, ...]] = ("mermaid", "dot")
_EXTENSIONS: Final[dict[str, str]] = {"mermaid": "mmd", "dot": "dot"}


@dataclass(frozen=True)
class MachineSpec:
    """What a diagram needs: the machine's name, its states in order, where it starts and ends."""

    name: str
    source: str  # the table's dotted name, printed in the "generated from" header
    states: tuple[enum.StrEnum, ...]
    initial: enum.StrEnum
    final: frozenset[enum.StrEnum]
    rows: tuple[TransitionRow, ...]


MACHINE_SPECS: Final[tuple[MachineSpec, ...]] = (
    MachineSpec(
        name="order",
        source="statemachines.order.ORDER_TRANSITIONS",
        states=tuple(OrderState),
        initial=OrderState.PENDING,
        final=TERMINAL_ORDER_STATES,
        rows=ORDER_TRANSITIONS,
    ),
    MachineSpec(
        name="market",
        source="statemachines.market.MARKET_TRANSITIONS",
        states=tuple(MarketState),
        initial=MarketState.STARTING,
        final=frozenset({MarketState.SHUTDOWN}),
        rows=MARKET_TRANSITIONS,
    ),
)


def _edges(spec: MachineSpec) -> list[tuple[str, str, list[str]]]:
    """(source, dest, triggers) per distinct edge, grouped by source in state order; triggers of one
    edge are merged onto it in table order."""
    labels: dict[tuple[enum.StrEnum, enum.StrEnum], list[str]] = {}
    for row in spec.rows:
        for source in row.sources:
            labels.setdefault((source, row.dest), []).append(row.trigger.value)
    rank = {state: index for index, state in enumerate(spec.states)}
    ordered = sorted(labels.items(), key=lambda item: (rank[item[0][0]], rank[item[0][1]]))
    return [(source.value, dest.value, triggers) for (source, dest), triggers in ordered]


def _header(spec: MachineSpec) -> str:
    return f"Generated from {spec.source} by `python -m bot diagrams`; do not edit."


def _mermaid(spec: MachineSpec) -> str:
    lines = ["stateDiagram-v2", f"    %% {_header(spec)}", f"    [*] --> {spec.initial.value}"]
    for source, dest, triggers in _edges(spec):
        lines.append(f"    {source} --> {dest} : {', '.join(triggers)}")
    lines.extend(f"    {state.value} --> [*]" for state in spec.states if state in spec.final)
    return "\n".join(lines) + "\n"


def _dot(spec: MachineSpec) -> str:
    lines = [
        f"// {_header(spec)}",
        f"digraph {spec.name} {{",
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        '    "__start__" [shape=point, label=""];',
    ]
    for state in spec.states:
        attrs = " [peripheries=2]" if state in spec.final else ""
        lines.append(f'    "{state.value}"{attrs};')
    lines.append(f'    "__start__" -> "{spec.initial.value}";')
    for source, dest, triggers in _edges(spec):
        label = "\\n".join(triggers)  # dot's own line-break escape inside a quoted label
        lines.append(f'    "{source}" -> "{dest}" [label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(spec: MachineSpec, format: DiagramFormat) -> str:
    """The diagram text of one machine in `format`; ValueError for an unknown format."""
    if format == "mermaid":
        return _mermaid(spec)
    if format == "dot":
        return _dot(spec)
    raise ValueError(f"unknown diagram format {format!r}; choose one of {', '.join(DIAGRAM_FORMATS)}")


def export(format: DiagramFormat) -> dict[str, str]:
    """{file name: text}, one file per machine (`order.mmd`, `market.mmd` or `.dot`), deterministic."""
    if format not in _EXTENSIONS:
        raise ValueError(f"unknown diagram format {format!r}; choose one of {', '.join(DIAGRAM_FORMATS)}")
    return {f"{spec.name}.{_EXTENSIONS[format]}": render(spec, format) for spec in MACHINE_SPECS}
