"""Diagrams are generated from the transition tables, deterministically, and the committed copies are current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main
from statemachines.diagrams import DIAGRAM_FORMATS, MACHINE_SPECS, export, render

REPO_ROOT = Path(__file__).resolve().parents[1]
DIAGRAM_DIR = REPO_ROOT / "ops" / "diagrams"
REGENERATE = ".venv/bin/python -m bot diagrams --out ops/diagrams"

_MERMAID_EDGE = re.compile(r"^\s+(\w+) --> (\w+) : (.+)$")
_DOT_EDGE = re.compile(r'^\s+"(\w+)" -> "(\w+)" \[label="(.+)"\];$')


def table_edges(name: str) -> set[tuple[str, str, str]]:
    spec = next(spec for spec in MACHINE_SPECS if spec.name == name)
    return {(source.value, row.dest.value, row.trigger.value) for row in spec.rows for source in row.sources}


def drawn_edges(text: str, pattern: re.Pattern[str], separator: str) -> set[tuple[str, str, str]]:
    edges = set()
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            source, dest, label = match.groups()
            edges.update((source, dest, trigger) for trigger in label.split(separator))
    return edges


@pytest.mark.parametrize("name", ["order", "market"])
def test_every_table_edge_is_drawn_and_nothing_else(name: str) -> None:
    mermaid = export("mermaid")[f"{name}.mmd"]
    dot = export("dot")[f"{name}.dot"]
    assert drawn_edges(mermaid, _MERMAID_EDGE, ", ") == table_edges(name)
    assert drawn_edges(dot, _DOT_EDGE, "\\n") == table_edges(name)


def test_start_and_final_states_are_marked() -> None:
    order = export("mermaid")["order.mmd"]
    assert "[*] --> pending" in order
    assert {line.split()[0] for line in order.splitlines() if line.endswith("--> [*]")} == {
        "cancelled",
        "filled",
        "rejected_expected",
        "failed",
    }
    market_dot = export("dot")["market.dot"]
    assert '"__start__" -> "starting";' in market_dot
    assert '"shutdown" [peripheries=2];' in market_dot
    assert '"shutting_down";' in market_dot


def test_export_is_deterministic_and_one_file_per_machine() -> None:
    assert sorted(export("mermaid")) == ["market.mmd", "order.mmd"]
    assert sorted(export("dot")) == ["market.dot", "order.dot"]
    for diagram_format in DIAGRAM_FORMATS:
        assert export(diagram_format) == export(diagram_format)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown diagram format 'svg'"):
        export("svg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown diagram format"):
        render(MACHINE_SPECS[0], "png")  # type: ignore[arg-type]


@pytest.mark.parametrize("diagram_format", DIAGRAM_FORMATS)
def test_committed_diagrams_match_the_tables(diagram_format: str) -> None:
    for file_name, text in export(diagram_format).items():  # type: ignore[arg-type]
        path = DIAGRAM_DIR / file_name
        assert path.is_file(), f"{path} is missing; regenerate with: {REGENERATE}"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale; regenerate with: {REGENERATE}"


def test_no_stray_diagram_files_are_committed() -> None:
    expected = {name for diagram_format in DIAGRAM_FORMATS for name in export(diagram_format)}  # type: ignore[arg-type]
    present = {path.name for path in DIAGRAM_DIR.iterdir() if path.suffix in (".mmd", ".dot")}
    assert present == expected, (
        f"ops/diagrams holds diagrams no machine produces; regenerate with: {REGENERATE}"
    )


def test_cli_writes_the_requested_format_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "new" / "diagrams"
    assert main(["diagrams", "--format", "dot", "--out", str(out_dir)]) == 0
    assert {path.name: path.read_text(encoding="utf-8") for path in out_dir.iterdir()} == export("dot")
    assert capsys.readouterr().out.count("wrote ") == 2


def test_cli_writes_both_formats_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagrams", "--out", str(tmp_path)]) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "market.dot",
        "market.mmd",
        "order.dot",
        "order.mmd",
    ]
