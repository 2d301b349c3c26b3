"""Write README.md's configuration table from `settings.BotSettings`, so the two never disagree.

    .venv/bin/python ops/gen_config_table.py          # rewrite the table between the README markers
    .venv/bin/python ops/gen_config_table.py --check  # exit 1 if the README's table is stale

One row per setting: its environment variable, default, allowed values or range, and description,
all read from the pydantic field (annotation, constraints, description). Secrets show no default.
Only the text between `<!-- config-table:start -->` and `<!-- config-table:end -->` is touched.
"""

from __future__ import annotations

import argparse
import enum
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout: `settings` lives beside `ops/`
    sys.path.insert(0, str(REPO_ROOT))

from pydantic import SecretStr  # noqa: E402
from pydantic.fields import FieldInfo  # noqa: E402
from pydantic_core import PydanticUndefined  # noqa: E402

from settings import BotSettings  # noqa: E402

__all__ = [
    "END_MARKER",
    "README_PATH",
    "REGENERATE_COMMAND",
    "START_MARKER",
    "generate_table",
    "main",
    "render_readme",
    "table_rows",
]

START_MARKER: Final = "<!-- config-table:start -->"
END_MARKER: Final = "<!-- config-table:end -->"
README_PATH: Final = REPO_ROOT / "README.md"
REGENERATE_COMMAND: Final = ".venv/bin/python ops/gen_config_table.py"
ENV_PREFIX: Final = "BOT_"
_SECRET_DEFAULT: Final = "*(secret: no default)*"
_UNSET: Final = "*(unset)*"
# A `^(A|B|C)$` pattern is an enumeration in disguise: show its members.
_ALTERNATION: Final = re.compile(r"^\^\(([^()]*)\)\$$")


def _is_secret(annotation: Any) -> bool:
    return SecretStr in _members(annotation)


def _members(annotation: Any) -> tuple[Any, ...]:
    """The types of a union (`X | None` gives `(X, NoneType)`), or the annotation alone."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return typing.get_args(annotation)
    return (annotation,)


def _base_type(annotation: Any) -> tuple[Any, bool]:
    members = [m for m in _members(annotation) if m is not type(None)]
    optional = len(members) < len(_members(annotation))
    return (members[0] if len(members) == 1 else annotation), optional


def _code(text: str) -> str:
    return f"`{text}`"


def _format_default(field: FieldInfo) -> str:
    if _is_secret(field.annotation):
        return _SECRET_DEFAULT
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "*(required)*"
    else:
        value = field.default
    if value is None:
        return _UNSET
    if isinstance(value, bool):
        return _code("true" if value else "false")
    if isinstance(value, enum.Enum):
        return _code(str(value.value))
    if isinstance(value, list | tuple):
        # The environment form: comma-separated (see the settings' `series` parser).
        return _code(",".join(str(item) for item in value))
    return _code(str(value))


def _bounds(field: FieldInfo) -> list[str]:
    parts: list[str] = []
    for item in field.metadata:
        for attr, symbol in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            bound = getattr(item, attr, None)
            if bound is not None:
                parts.append(f"{symbol} {bound:g}" if isinstance(bound, int | float) else f"{symbol} {bound}")
    return parts


def _pattern(field: FieldInfo) -> str | None:
    for item in field.metadata:
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            return pattern
    return None


def _format_allowed(field: FieldInfo) -> str:
    base, optional = _base_type(field.annotation)
    if _is_secret(field.annotation):
        text = "secret string"
    elif isinstance(base, type) and issubclass(base, enum.Enum):
        if issubclass(base, enum.IntEnum):
            text = ", ".join(f"{_code(str(m.value))} ({m.name.lower()})" for m in base)
        else:
            text = ", ".join(_code(str(m.value)) for m in base)
    elif base is bool:
        text = "`true`, `false`"
    elif typing.get_origin(base) is list:
        text = "comma-separated list"
    else:
        name = {int: "integer", float: "number", str: "string", Path: "path"}.get(
            base, getattr(base, "__name__", str(base))
        )
        pattern = _pattern(field)
        if pattern is not None:
            match = _ALTERNATION.match(pattern)
            text = (
                ", ".join(_code(v) for v in match.group(1).split("|"))
                if match
                else f"{name} matching `{pattern}`"
            )
        else:
            bounds = _bounds(field)
            text = f"{name} {', '.join(bounds)}" if bounds else name
    if optional:
        text += " (or unset)"
    return text


def _cell(text: str) -> str:
    # A pipe would end the cell; a newline would end the row.
    return text.replace("|", "\\|").replace("\n", " ")


def table_rows() -> list[tuple[str, str, str, str]]:
    """(environment variable, default, allowed, description) for every setting, in declaration order."""
    rows = []
    for name, field in BotSettings.model_fields.items():
        rows.append(
            (
                _code(ENV_PREFIX + name.upper()),
                _format_default(field),
                _format_allowed(field),
                field.description or "",
            )
        )
    return rows


def generate_table() -> str:
    """The markdown table (no trailing newline)."""
    lines = [
        "| variable | default | allowed | description |",
        "|---|---|---|---|",
    ]
    for row in table_rows():
        lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
    return "\n".join(lines)


def render_readme(readme_text: str, table: str | None = None) -> str:
    """`readme_text` with the text between the markers replaced by the table.

    ValueError if the markers are missing, repeated or out of order.
    """
    if readme_text.count(START_MARKER) != 1 or readme_text.count(END_MARKER) != 1:
        raise ValueError(f"README must contain {START_MARKER} and {END_MARKER} exactly once each")
    start = readme_text.index(START_MARKER) + len(START_MARKER)
    end = readme_text.index(END_MARKER)
    if end < start:
        raise ValueError(f"{END_MARKER} comes before {START_MARKER}")
    body = generate_table() if table is None else table
    return readme_text[:start] + "\n" + body + "\n" + readme_text[end:]


def main(argv: list[str] | None = None) -> int:
    """Rewrite the README's table, or with `--check` report whether it is current (exit 1 when stale)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the table is stale; write nothing")
    parser.add_argument("--readme", type=Path, default=README_PATH, help="README file (default: the repo's)")
    args = parser.parse_args(argv)
    current = args.readme.read_text(encoding="utf-8")
    try:
        wanted = render_readme(current)
    except ValueError as exc:
        print(f"{args.readme}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if current != wanted:
            print(f"{args.readme}: configuration table is stale; run: {REGENERATE_COMMAND}", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        args.readme.write_text(wanted, encoding="utf-8", newline="\n")
        print(f"wrote the configuration table into {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
