"""README's configuration table is generated from the settings and must be current."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from settings import BotSettings

REPO = Path(__file__).resolve().parents[2]


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config_table", REPO / "ops" / "gen_config_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def _rows() -> dict[str, tuple[str, str, str, str]]:
    return {row[0].strip("`"): row for row in gen.table_rows()}


def test_readme_configuration_table_is_current() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme == gen.render_readme(readme), (
        f"README.md's configuration table is stale (settings/model.py changed); regenerate it with: "
        f"{gen.REGENERATE_COMMAND}"
    )


def test_every_setting_has_a_row_named_by_its_environment_variable() -> None:
    assert list(_rows()) == [f"BOT_{name.upper()}" for name in BotSettings.model_fields]


def test_secrets_show_no_default() -> None:
    rows = _rows()
    for name in ("BOT_PRIVATE_KEY", "BOT_API_KEY", "BOT_API_SECRET", "BOT_API_PASSPHRASE"):
        _, default, allowed, _ = rows[name]
        assert default == "*(secret: no default)*", name
        assert allowed.startswith("secret"), name
    # No other row is marked secret.
    assert sum(1 for row in rows.values() if row[1].startswith("*(secret")) == 4


def test_rows_show_defaults_ranges_and_choices_from_the_fields() -> None:
    rows = _rows()
    assert rows["BOT_CANCEL_ALL_TIMEOUT_S"][1:3] == ("`10.0`", "number > 0, ≤ 120")
    assert rows["BOT_MODE"][1:3] == ("`paper`", "`paper`, `live`")
    assert rows["BOT_LOG_LEVEL"][2] == "`DEBUG`, `INFO`, `WARNING`, `ERROR`"
    assert rows["BOT_METRICS_PORT"][1:3] == ("*(unset)*", "integer ≥ 0, ≤ 65535 (or unset)")
    assert rows["BOT_SERIES"][1] == "`btc-updown-15m`"
    assert rows["BOT_STARTUP_CANCEL_ALL"][1:3] == ("`true`", "`true`, `false`")
    assert rows["BOT_SIGNATURE_TYPE"][2].startswith("`0` (eoa)")


def test_a_pipe_in_a_description_does_not_break_the_table() -> None:
    for line in gen.generate_table().splitlines()[2:]:
        unescaped = line.replace("\\|", "")
        assert unescaped.count("|") == 5, line


def test_check_fails_on_a_stale_copy_and_passes_after_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# title\n\nbefore\n{gen.START_MARKER}\n| old |\n{gen.END_MARKER}\nafter\n", encoding="utf-8"
    )
    assert gen.main(["--check", "--readme", str(readme)]) == 1
    assert gen.REGENERATE_COMMAND in capsys.readouterr().err
    assert gen.main(["--readme", str(readme)]) == 0
    assert gen.main(["--check", "--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith(f"# title\n\nbefore\n{gen.START_MARKER}\n| variable |")
    assert text.endswith(f" |\n{gen.END_MARKER}\nafter\n")
    assert "| old |" not in text


def test_missing_markers_are_an_error_not_a_silent_append(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n", encoding="utf-8")
    assert gen.main(["--readme", str(readme)]) == 2
    assert readme.read_text(encoding="utf-8") == "# no markers\n"
