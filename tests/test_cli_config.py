"""`python -m bot`: check-config output and errors (as a real process), commands and their lazy handlers."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import cli, exit_codes
from bot.exit_codes import (
    EXIT_CANCEL_UNVERIFIED,
    EXIT_CODE_BY_REASON,
    EXIT_CONFIG,
    EXIT_CRASH,
    EXIT_JOURNAL,
    EXIT_NOT_BUILT,
    EXIT_OK,
    EXIT_SIGNAL,
    EXIT_STORM,
    SEVERITY,
    exit_code_for,
    most_severe,
)
from settings import BotSettings
from statemachines.market import ExitReason

REPO_ROOT = Path(__file__).resolve().parents[1]
PRIVATE_KEY = "0x" + "7e" * 32
KEY_BODY = "7e" * 32


def run_bot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` in an empty directory (no stray .env) with only the given BOT_* variables."""
    clean = {name: value for name, value in os.environ.items() if not name.upper().startswith("BOT_")}
    # The working tree first, whatever the installed copy says.
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_never_shown(done: subprocess.CompletedProcess[str], secret_body: str) -> None:
    for stream in (done.stdout, done.stderr):
        assert secret_body not in stream.lower()


@pytest.mark.slow
def test_check_config_prints_the_effective_configuration(tmp_path: Path) -> None:
    done = run_bot(tmp_path, "check-config")
    assert (done.returncode, done.stderr) == (EXIT_OK, "")
    lines = done.stdout.splitlines()
    assert 'mode = "paper"' in lines and "ladder_levels = 3" in lines and "quote_cutoff_s = 60.0" in lines
    assert 'series = ["btc-updown-15m"]' in lines and "# private_key = (unset)" in lines


@pytest.mark.slow
def test_check_config_masks_a_private_key_from_the_environment(tmp_path: Path) -> None:
    done = run_bot(
        tmp_path, "check-config", BOT_MODE="live", BOT_PRIVATE_KEY=PRIVATE_KEY.upper().replace("0X", "0x")
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert 'private_key = "**********"' in done.stdout.splitlines()
    assert 'mode = "live"' in done.stdout.splitlines()
    assert_never_shown(done, KEY_BODY)


@pytest.mark.slow
def test_invalid_settings_exit_2_with_one_line_per_bad_field_and_no_key(tmp_path: Path) -> None:
    bad_key = "0x" + "7e" * 31 + "zz"
    done = run_bot(tmp_path, "check-config", BOT_PRIVATE_KEY=bad_key, BOT_LADDER_LEVELS="0")
    assert (done.returncode, done.stdout) == (EXIT_CONFIG, "")
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    assert all(line.startswith("invalid setting ") for line in lines)
    assert any("(BOT_PRIVATE_KEY)" in line for line in lines)
    assert any("(BOT_LADDER_LEVELS)" in line for line in lines)
    assert "Traceback" not in done.stderr
    assert_never_shown(done, "7e" * 31)


@pytest.mark.slow
def test_config_file_is_accepted_before_or_after_the_command(tmp_path: Path) -> None:
    (tmp_path / "bot.toml").write_text("ladder_levels = 7\n", encoding="utf-8")
    for args in (("--config", "bot.toml", "check-config"), ("check-config", "--config", "bot.toml")):
        done = run_bot(tmp_path, *args)
        assert done.returncode == EXIT_OK, done.stderr
        assert "ladder_levels = 7" in done.stdout.splitlines()


@pytest.mark.slow
def test_bad_config_files_are_one_line_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("ladder_levels = \n", encoding="utf-8")
    for name in ("broken.toml", "absent.toml"):
        done = run_bot(tmp_path, "check-config", "--config", name)
        assert (done.returncode, done.stdout) == (EXIT_CONFIG, "")
        assert len(done.stderr.splitlines()) == 1 and name in done.stderr
        assert "Traceback" not in done.stderr


# --- in-process: parsing, help, lazy handlers -------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.upper().startswith("BOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for name in ("run", "sim", "orders", "cancel-all", "journal", "check-config", "diagrams"):
        assert f"    {name}" in out


@pytest.mark.parametrize(
    "name", ["run", "sim", "orders", "cancel-all", "journal", "check-config", "diagrams"]
)
def test_each_command_has_its_own_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([name, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m bot {name} ")


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(cli._with_default_command(list(argv)))


def test_run_is_the_default_command_and_takes_its_options() -> None:
    args = parse("--config", "x.toml", "--duration", "30", "--markets", "2", "--dry-run")
    assert (args.command, args.config, args.duration, args.markets, args.dry_run) == (
        "run",
        Path("x.toml"),
        30.0,
        2,
        True,
    )
    assert parse().command == "run"


def test_sim_and_cancel_all_and_journal_options_are_parsed() -> None:
    sim = parse("sim", "--port", "8080", "--window-s", "150", "--seed", "3", "--faults", "f.json")
    assert (sim.host, sim.port, sim.window_s, sim.seed, sim.faults) == (
        "127.0.0.1",
        8080,
        150.0,
        3,
        Path("f.json"),
    )
    assert parse("cancel-all", "--all").all is True
    assert parse("journal", "j.jsonl").file == Path("j.jsonl")
    assert parse("--config", "a.toml", "orders").config == Path("a.toml")


@pytest.mark.parametrize(
    "argv", [["run", "--duration", "0"], ["run", "--markets", "0"], ["sim", "--port", "70000"]]
)
def test_bad_option_values_are_refused_by_the_parser(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == EXIT_CONFIG


def point(monkeypatch: pytest.MonkeyPatch, command: str, target: str, needs_settings: bool = True) -> None:
    monkeypatch.setitem(
        cli.COMMAND_TARGETS, command, cli.CommandTarget(target, "the test part", needs_settings)
    )


def test_a_command_whose_module_is_not_built_says_so_and_exits_9(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clean_env: Path
) -> None:
    point(monkeypatch, "run", "bot.no_such_module_yet:cli_run")
    assert cli.main(["--duration", "5"]) == EXIT_NOT_BUILT
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "python -m bot run: the test part is not built yet (bot.no_such_module_yet:cli_run does not exist)\n"
    )


def test_a_module_without_the_handler_is_not_built_either(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clean_env: Path
) -> None:
    point(monkeypatch, "orders", "bot.exit_codes:cli_orders")
    assert cli.main(["orders"]) == EXIT_NOT_BUILT
    assert "not built yet" in capsys.readouterr().err


def write_handlers(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Importable handler modules in `directory`, freshly imported by each test."""
    (directory / "fake_handlers.py").write_text(
        "import trio\n"
        "CALLS = []\n"
        "def cli_sync(args, settings):\n"
        "    CALLS.append((args, settings))\n"
        "    return 4\n"
        "async def cli_async(args, settings):\n"
        "    await trio.sleep(0)\n"
        "    CALLS.append((args, settings))\n"
        "def cli_none(args, settings):\n"
        "    CALLS.append((args, settings))\n",
        encoding="utf-8",
    )
    (directory / "broken_handlers.py").write_text(
        "import a_dependency_that_is_missing_xyz\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(directory))
    for name in ("fake_handlers", "broken_handlers"):
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_handlers_get_the_namespace_and_the_loaded_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clean_env: Path
) -> None:
    write_handlers(tmp_path, monkeypatch)
    (tmp_path / "bot.toml").write_text("ladder_levels = 5\n", encoding="utf-8")
    point(monkeypatch, "run", "fake_handlers:cli_sync")
    assert cli.main(["run", "--duration", "9", "--config", "bot.toml"]) == 4
    import fake_handlers  # type: ignore[import-not-found]

    args, settings = fake_handlers.CALLS[-1]
    assert (args.command, args.duration, args.dry_run) == ("run", 9.0, False)
    assert isinstance(settings, BotSettings) and settings.ladder_levels == 5

    point(monkeypatch, "sim", "fake_handlers:cli_async")
    assert cli.main(["sim", "--seed", "11"]) == EXIT_OK
    args, settings = fake_handlers.CALLS[-1]
    assert (args.command, args.seed, isinstance(settings, BotSettings)) == ("sim", 11, True)

    point(monkeypatch, "journal", "fake_handlers:cli_none", needs_settings=False)
    assert cli.main(["journal", "j.jsonl"]) == EXIT_OK
    args, settings = fake_handlers.CALLS[-1]
    assert (args.file, settings) == (Path("j.jsonl"), None)


def test_invalid_settings_stop_a_command_before_its_handler(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_handlers(tmp_path, monkeypatch)
    point(monkeypatch, "run", "fake_handlers:cli_sync")
    monkeypatch.setenv("BOT_LADDER_LEVELS", "99")
    import fake_handlers  # type: ignore[import-not-found]

    assert cli.main(["run"]) == EXIT_CONFIG
    assert fake_handlers.CALLS == []
    assert capsys.readouterr().err.startswith("invalid setting ladder_levels (BOT_LADDER_LEVELS)")


def test_a_handler_module_that_fails_to_import_is_a_real_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clean_env: Path
) -> None:
    write_handlers(tmp_path, monkeypatch)
    point(monkeypatch, "orders", "broken_handlers:cli_orders")
    with pytest.raises(ModuleNotFoundError, match="a_dependency_that_is_missing_xyz"):
        cli.main(["orders"])


def test_every_exit_reason_has_a_code_and_the_most_severe_wins() -> None:
    assert set(EXIT_CODE_BY_REASON) == set(ExitReason)
    assert EXIT_CODE_BY_REASON[ExitReason.SIGNAL] == EXIT_SIGNAL == 130
    assert exit_code_for(ExitReason.MARKET_END) == EXIT_OK
    assert exit_code_for([ExitReason.MARKET_END, None, ExitReason.STORM]) == EXIT_STORM
    assert exit_code_for([ExitReason.SIGNAL, ExitReason.CRASH]) == EXIT_CRASH
    assert exit_code_for([]) == exit_code_for(None) == EXIT_OK


def test_failures_anywhere_outrank_who_asked_for_the_stop() -> None:
    assert sorted(SEVERITY) == sorted(ExitReason) and len(SEVERITY) == len(set(SEVERITY))
    failures = [ExitReason.CANCEL_UNVERIFIED, ExitReason.JOURNAL, ExitReason.CRASH, ExitReason.STORM]
    for failure in failures:
        for stop in (ExitReason.SIGNAL, ExitReason.OPERATOR, ExitReason.MARKET_END):
            assert most_severe([stop, failure]) is most_severe([failure, stop]) is failure
    assert exit_code_for([ExitReason.JOURNAL]) == EXIT_JOURNAL == 10
    assert exit_code_for([ExitReason.CRASH, ExitReason.CANCEL_UNVERIFIED]) == EXIT_CANCEL_UNVERIFIED == 11
    assert most_severe([None]) is most_severe([]) is ExitReason.MARKET_END
    # Every code is documented in the module docstring and in the README's list.
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for code in {*EXIT_CODE_BY_REASON.values(), EXIT_CONFIG, EXIT_NOT_BUILT}:
        assert f"| {code} |" in (exit_codes.__doc__ or "")
        assert f"| {code} |" in readme, code


@pytest.mark.slow
def test_check_config_prints_the_derived_deposit_wallet_and_a_differing_funder(tmp_path: Path) -> None:
    from bot.protocol.signing import OrderSigner
    from bot.protocol.wallets import deposit_wallet_address

    derived = deposit_wallet_address(OrderSigner(PRIVATE_KEY).address)
    done = run_bot(tmp_path, "check-config", BOT_PRIVATE_KEY=PRIVATE_KEY, BOT_SIGNATURE_TYPE="3")
    assert done.returncode == EXIT_OK, done.stderr
    assert f'funder_address = "{derived}"' in done.stdout.splitlines()
    assert "derived (CREATE2), not configured" in done.stdout and "differs" not in done.stdout
    other = "0x1234567890AbcdEF1234567890aBcdef12345678"
    done = run_bot(
        tmp_path, "check-config", BOT_PRIVATE_KEY=PRIVATE_KEY, BOT_SIGNATURE_TYPE="3", BOT_FUNDER_ADDRESS=other
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert f'funder_address = "{other}"' in done.stdout.splitlines()
    assert f"differs from the wallet derived from this key ({derived})" in done.stdout
    assert_never_shown(done, KEY_BODY)


@pytest.mark.slow
def test_check_config_refuses_an_eoa_with_a_foreign_funder_with_exit_2(tmp_path: Path) -> None:
    done = run_bot(
        tmp_path, "check-config", BOT_PRIVATE_KEY=PRIVATE_KEY, BOT_SIGNATURE_TYPE="0",
        BOT_FUNDER_ADDRESS="0x1234567890abcdef1234567890abcdef12345678",
    )
    assert (done.returncode, done.stdout) == (EXIT_CONFIG, "")
    assert done.stderr.startswith("invalid setting funder_address (BOT_FUNDER_ADDRESS): signature_type 0")
    assert_never_shown(done, KEY_BODY)


# --- issue 17: a misspelt environment variable, and the live header ------------------------------------


def test_a_misspelt_bot_variable_is_an_error_in_check_config_with_the_nearest_name(tmp_path: Path) -> None:
    done = run_bot(tmp_path, "check-config", BOT_LADDER_LEVLES="5")
    assert done.returncode == EXIT_CONFIG
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "invalid setting: unknown environment variable BOT_LADDER_LEVLES: ignored; did you mean BOT_LADDER_LEVELS?"
    ]


def test_a_misspelt_bot_variable_warns_at_start_of_other_commands(tmp_path: Path) -> None:
    done = run_bot(tmp_path, "orders", BOT_LADDER_LEVLES="5", BOT_ZZZZ_QQQQ="1")
    assert done.returncode == EXIT_CONFIG  # paper mode without a venue URL: no venue to query
    lines = done.stderr.splitlines()
    assert "warning: unknown environment variable BOT_LADDER_LEVLES: ignored; did you mean BOT_LADDER_LEVELS?" in lines
    assert "warning: unknown environment variable BOT_ZZZZ_QQQQ: ignored; no setting has a similar name" in lines


def test_a_misspelt_toml_key_names_the_nearest_setting(tmp_path: Path) -> None:
    (tmp_path / "bot.toml").write_text("ladder_levls = 4\n", encoding="utf-8")
    done = run_bot(tmp_path, "check-config", "--config", "bot.toml")
    assert done.returncode == EXIT_CONFIG
    assert "did you mean ladder_levels (BOT_LADDER_LEVELS)?" in done.stderr


def test_check_config_in_live_mode_does_not_call_the_venue_urls_the_simulators(tmp_path: Path) -> None:
    done = run_bot(tmp_path, "check-config", BOT_MODE="live", BOT_PRIVATE_KEY=PRIVATE_KEY)
    assert done.returncode == EXIT_OK, done.stderr
    assert "# endpoints in effect (live mode)" in done.stdout
    assert "simulator" not in done.stdout
    paper = run_bot(tmp_path, "check-config")
    assert "# endpoints in effect (paper mode: the embedded simulator's, on loopback)" in paper.stdout


def test_the_readme_lists_every_exit_code_and_every_option_of_each_command() -> None:
    """The README's command table and exit-code list are complete (issue 17: the journal's synopsis and
    the exit codes were not)."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for name, value in vars(exit_codes).items():
        if name.startswith("EXIT_") and isinstance(value, int):
            assert f"| {value} |" in readme, name
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    rows = {line.split("`")[1].split()[0]: line for line in readme.splitlines() if line.startswith("| `")}
    for command in ("run", "sim", "orders", "cancel-all", "journal"):
        row = rows[command]
        for action in commands.choices[command]._actions:
            for option in action.option_strings:
                if option.startswith("--") and option not in ("--help", "--config"):
                    assert option in row, f"README's row for {command} lacks {option}"
