"""Every third-party module the code imports comes from a distribution pyproject.toml declares.

A module that arrives only as another package's dependency (wsproto through trio-websocket, eth-utils
through py-clob-client-v2) works until that package drops it. The shipped packages (`bot`, `settings`,
`statemachines`) may import only the runtime dependencies; `ops/` and `tests/` may also use the `test`
extra. An import inside `try: … except ImportError` is optional by construction and not counted
(ops/bench_keccak.py reports candidates that are not installed).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"bot", "settings", "statemachines", "tests"}
# Modules a test writes into its tmp_path and imports (no distribution provides them).
WRITTEN_BY_TESTS = {"fake_handlers": "tests/test_cli_config.py"}
RUNTIME_ONLY_DIRS = ("bot", "settings", "statemachines")
DEV_DIRS = ("ops", "tests")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> tuple[set[str], set[str]]:
    """(runtime distributions, test-extra distributions), normalised names."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {_normalise(re.match(r"[A-Za-z0-9._-]+", requirement).group(0)) for requirement in requirements}

    return names(project["dependencies"]), names(project["optional-dependencies"]["test"])


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        caught = handler.type
        names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        if any(isinstance(name, ast.Name) and name.id in ("ImportError", "ModuleNotFoundError") for name in names):
            return True
    return False


def imported_top_modules(source: str) -> set[str]:
    """Top-level names of the absolute imports in `source`, except those guarded by `except ImportError`."""
    tree = ast.parse(source)
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and _catches_import_error(node):
            guarded.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def third_party_imports(folder: str) -> dict[str, list[str]]:
    """Third-party top-level module → files of `folder` importing it (stdlib, first party, siblings excluded)."""
    modules: dict[str, list[str]] = {}
    for path in sorted((REPO / folder).rglob("*.py")):
        for module in imported_top_modules(path.read_text()):
            sibling = (path.parent / f"{module}.py").exists() or (path.parent / module).is_dir()
            local = module in FIRST_PARTY or sibling or WRITTEN_BY_TESTS.get(module) == str(path.relative_to(REPO))
            if module in sys.stdlib_module_names or local or module == "__future__":
                continue
            modules.setdefault(module, []).append(str(path.relative_to(REPO)))
    return modules


def undeclared(modules: dict[str, list[str]], allowed: set[str]) -> dict[str, list[str]]:
    """The modules of `modules` (module → importing files) that no distribution in `allowed` provides."""
    providers = importlib.metadata.packages_distributions()
    missing: dict[str, list[str]] = {}
    for module, files in modules.items():
        distributions = {_normalise(name) for name in providers.get(module, [])}
        if not distributions & allowed:
            missing[f"{module} (from {sorted(distributions) or 'no installed distribution'})"] = files
    return missing


def imports_of(folders: tuple[str, ...]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for folder in folders:
        for module, files in third_party_imports(folder).items():
            merged.setdefault(module, []).extend(files)
    return merged


def test_the_shipped_packages_import_only_runtime_dependencies() -> None:
    runtime, _ = declared()
    assert "wsproto" in third_party_imports("bot")
    assert undeclared(imports_of(RUNTIME_ONLY_DIRS), runtime) == {}


def test_ops_and_tests_import_only_declared_dependencies() -> None:
    runtime, test_extra = declared()
    assert undeclared(imports_of(DEV_DIRS), runtime | test_extra) == {}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import trio\nfrom wsproto.utilities import X\nimport os.path\n", {"trio", "wsproto", "os"}),
        ("from . import sibling\nfrom .x import y\n", set()),
        ("try:\n    import sha3\nexcept ImportError:\n    sha3 = None\nimport orjson\n", {"orjson"}),
        ("try:\n    import foo\nexcept (KeyError, ModuleNotFoundError):\n    pass\n", set()),
        ("try:\n    import foo\nexcept KeyError:\n    pass\n", {"foo"}),
        ("def f():\n    import httpx\n", {"httpx"}),
    ],
)
def test_import_scanner_reads_guards_and_nested_imports(source: str, expected: set[str]) -> None:
    assert imported_top_modules(source) == expected


def test_an_undeclared_transitive_import_is_reported() -> None:
    # httpcore arrives only through httpx, and a test-extra module is not runtime.
    runtime, test_extra = declared()
    found = undeclared({"httpcore": ["bot/x.py"], "httpx": ["bot/y.py"], "hypothesis": ["bot/z.py"]}, runtime)
    assert found == {"httpcore (from ['httpcore'])": ["bot/x.py"], "hypothesis (from ['hypothesis'])": ["bot/z.py"]}
    assert undeclared({"hypothesis": ["tests/z.py"]}, runtime | test_extra) == {}


def locked_versions() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", (REPO / "requirements.lock").read_text(), flags=re.MULTILINE)
    return {canonicalize_name(name): version for name, version in pins}


def test_the_lock_file_pins_every_declared_dependency_inside_its_range() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    locked = locked_versions()
    outside = {}
    for line in project["dependencies"] + project["optional-dependencies"]["test"]:
        requirement = Requirement(line)
        version = locked.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            outside[requirement.name] = (str(requirement.specifier), version)
    assert outside == {}
