"""The repository stands alone: nothing refers outside it, and the captured fixtures keep their provenance.

A user clones only this repository. No tracked file may point at a sibling folder (the research notes
and captures the project started from now live in `docs/` and `tests/fixtures/`), every fixture file is
listed in `tests/fixtures/polymarket/SOURCES.md`, and every path named in the operator docs exists.
`.ci/run` runs the same sibling check with grep before the tests.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "polymarket"
# Built from pieces so that this file does not match its own pattern.
SIBLING_REFERENCE = (".." + "/" + "shared").encode()
_SKIPPED_DIRS = {".git", ".venv", "__pycache__", "build", ".hypothesis", ".ruff_cache"}

# Operator docs whose named paths must exist. docs/ is not here: design.md describes planned parts and
# the protocol notes name files of other repositories.
DOCS_NAMING_PATHS = ("README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "ops").glob("*.md")))
_TOP_LEVEL = r"(?:bot|settings|statemachines|ops|tests|docs|\.ci)"
# A repo path: a top-level folder, then path characters (a `*` makes it a glob); not part of a longer
# path or URL (no `/`, `.` or word character right before it).
_REPO_PATH = re.compile(rf"(?<![\w./-])({_TOP_LEVEL}/[\w./*-]*[\w/*])")
# A bare module name (`book.py`) on the same line as a full path: it lives in that path's folder.
_BARE_MODULE = re.compile(r"`(\w+\.py)`")


REFERENCE = "docs/protocol/polymarket-clob.md"
# A section number as cited ("sections 1.2 (…), 5.3-5.4, 7(a)"), not a quantity ("every 10 s").
_SECTION_NUMBER = re.compile(r"(?<![\w.~])(\d{1,2}(?:\.\d{1,2})?)(?![\d.]*\d)(?=\s*[(,)–-]|\.(?:\s|$)|\s+and\b|:|$)")


def cited_sentences(text: str) -> list[str]:
    """The sentence after each citation of the protocol reference (where its section numbers are)."""
    return [re.split(r"\.(?:\s|$)", chunk, maxsplit=1)[0] + "." for chunk in text.split(REFERENCE)[1:]]


def tracked_files() -> list[Path]:
    """The files git tracks (untracked ones when git is unavailable: everything but caches and venvs)."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return [
            path
            for path in REPO.rglob("*")
            if path.is_file() and not _SKIPPED_DIRS.intersection(path.relative_to(REPO).parts)
        ]
    return [REPO / name for name in listing.decode().split("\0") if name]


def named_paths(text: str) -> list[tuple[int, str]]:
    """(line number, repo-relative path) for every repo path a markdown text names."""
    found: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        folder: str | None = None
        for match in _REPO_PATH.finditer(line):
            path = match.group(1)
            found.append((number, path))
            if path.endswith(".py") and "*" not in path:
                folder = path.rsplit("/", 1)[0]
        if folder is not None:
            found.extend((number, f"{folder}/{name}") for name in _BARE_MODULE.findall(line) if "/" not in name)
    return found


def path_exists(path: str) -> bool:
    return any(REPO.glob(path)) if "*" in path else (REPO / path).exists()


def test_no_tracked_file_refers_to_a_sibling_folder() -> None:
    files = tracked_files()
    assert len(files) > 100, "the listing missed the repository"
    offenders = [str(path.relative_to(REPO)) for path in files if path.is_file() and SIBLING_REFERENCE in path.read_bytes()]
    assert offenders == []


def test_every_fixture_is_listed_with_its_source_and_every_listed_fixture_exists() -> None:
    sources = (FIXTURES / "SOURCES.md").read_text()
    listed = set(re.findall(r"^- ((?:ws|rest)/[\w.]+\.json):", sources, flags=re.MULTILINE))
    present = {str(path.relative_to(FIXTURES)) for path in FIXTURES.glob("*/*.json")}
    assert len(present) >= 27
    assert listed == present


def test_synthetic_fixtures_are_named_synthetic() -> None:
    sources = (FIXTURES / "SOURCES.md").read_text()
    described_synthetic = set(re.findall(r"^- ((?:ws|rest)/\w+\.json):[^\n]*\bA synthetic\b", sources, flags=re.MULTILINE))
    assert described_synthetic
    assert all("_synthetic" in name for name in described_synthetic)


def test_the_protocol_reference_keeps_the_sections_the_code_cites() -> None:
    reference = (REPO / "docs" / "protocol" / "polymarket-clob.md").read_text()
    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", reference, flags=re.MULTILINE))
    cited: set[str] = set()
    for path in [*(REPO / "bot").rglob("*.py"), *(REPO / "statemachines").rglob("*.py")]:
        for citation in cited_sentences(path.read_text()):
            cited.update(_SECTION_NUMBER.findall(citation))
    assert {"1.3", "2", "3.4", "5.3", "6.2", "7", "12.1"} <= headings
    assert len(cited) >= 20
    assert cited <= headings


def test_named_paths_parser_finds_paths_globs_and_bare_modules() -> None:
    line = "| sim | `bot/sim/model.py`, `book.py`; see tests/scenarios/test_engine_*, https://x.org/bot/y.py |"
    assert named_paths(line) == [
        (1, "bot/sim/model.py"),
        (1, "tests/scenarios/test_engine_*"),
        (1, "bot/sim/book.py"),
    ]


@pytest.mark.parametrize("doc", DOCS_NAMING_PATHS)
def test_every_path_a_doc_names_exists(doc: str) -> None:
    missing = [(line, path) for line, path in named_paths((REPO / doc).read_text()) if not path_exists(path)]
    assert missing == []
