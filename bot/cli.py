"""`python -m bot`: the command line. Parses, loads settings once, and hands off to each command.

Commands other than `check-config` and `diagrams` live in other modules and are resolved lazily
from `COMMAND_TARGETS` (edit that table to point a command elsewhere). A handler is called as
``handler(args, settings)`` with the parsed `argparse.Namespace` and the loaded `BotSettings` (None
for commands that need none) and returns an exit code (None means 0); an ``async def`` handler is
run under `trio.run`. A command whose module does not exist yet prints one line saying so and exits
with `EXIT_NOT_BUILT`: there is no stand-in trading loop.

No command prints a secret: settings are shown through `BotSettings.masked()` and settings errors
through `SettingsError.lines`, which never carry secret values.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from bot.exit_codes import EXIT_CONFIG, EXIT_NOT_BUILT, EXIT_OK, EXIT_SIGNAL
from bot.replay.commands import add_replay_commands
from settings import BotMode, BotSettings, SettingsError, load_settings, unknown_env_settings

__all__ = [
    "COMMAND_TARGETS",
    "DEFAULT_COMMAND",
    "CommandTarget",
    "build_parser",
    "format_settings",
    "main",
]

PROG: Final = "python -m bot"
DEFAULT_COMMAND: Final = "run"


@dataclass(frozen=True)
class CommandTarget:
    """Where a command's handler lives (``"package.module:function"``) and what it needs."""

    target: str
    part: str  # what the operator is told is missing when the module does not exist yet
    needs_settings: bool = True


# The lazily resolved commands. Handler signature: (args: Namespace, settings: BotSettings | None) -> int | None.
COMMAND_TARGETS: Final[dict[str, CommandTarget]] = {
    "run": CommandTarget("bot.main_job:cli_run", "the trading engine"),
    "sim": CommandTarget("bot.sim.server:cli_sim", "the exchange simulator server"),
    "orders": CommandTarget("bot.ops_commands:cli_orders", "the open-orders listing"),
    "cancel-all": CommandTarget("bot.ops_cancel_all:cli_cancel_all", "the cancel-all command"),
    "journal": CommandTarget("bot.ops_commands:cli_journal", "the journal reader", needs_settings=False),
    "doctor": CommandTarget("bot.doctor:cli_doctor", "the set-up doctor"),
    "record": CommandTarget("bot.record:cli_record", "the market-data recorder"),
    "backtest": CommandTarget("bot.replay.cli:cli_backtest", "the replay backtester"),
    "sweep": CommandTarget("bot.replay.cli:cli_sweep", "the backtest parameter sweep"),
}

_BUILTIN_COMMANDS: Final = ("check-config", "diagrams")


# --- argument parsing -------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be within 0..65535, got {text}")
    return value


def _add_config_option(parser: argparse.ArgumentParser, *, default: Any) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        default=default,
        help="TOML file of settings (lower priority than BOT_* environment variables and .env)",
    )


def _add_venue_options(parser: argparse.ArgumentParser, *, all_help: str) -> None:
    """Which markets (default every order of the key; `--market`, repeatable, narrows) and which venue."""
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--market",
        action="append",
        metavar="M",
        help="narrow to a market: a condition id, a slug, or `auto` (the bot's current series windows); "
        "repeatable. Default: every order of the key",
    )
    scope.add_argument("--all", action="store_true", help=all_help)
    parser.add_argument("--clob-url", metavar="URL", help="CLOB REST base URL (default: BOT_CLOB_URL, live venue)")
    parser.add_argument(
        "--gamma-url", metavar="URL", help="Gamma base URL (default: BOT_GAMMA_URL; paper: CLOB URL + /gamma)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser: global options, then one subparser per command (each with its own --help).

    `--config` is accepted before or after the command: the subcommands declare it with a
    suppressed default so that an absent option there does not overwrite one given before.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Trio market maker for the Polymarket CLOB V2. Without a command: run.",
    )
    _add_config_option(parser, default=None)
    after_command = argparse.ArgumentParser(add_help=False)
    _add_config_option(after_command, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text, parents=[after_command])

    run = command(
        "run", "trade: paper mode on the embedded simulator by default, BOT_MODE=live for the venue"
    )
    run.add_argument(
        "--duration", type=_positive_float, metavar="S", help="stop (with cancel-all) after S seconds"
    )
    run.add_argument(
        "--markets", type=_positive_int, metavar="N",
        help="stop after N markets have been traded (paper default: 2, rollover included)",
    )
    run.add_argument(
        "--forever", action="store_true",
        help="no end of its own (the live default): run until a signal; paper mode too",
    )
    run.add_argument("--dry-run", action="store_true", help="compute and show quotes, send no order")
    run.add_argument(
        "--journal", type=Path, metavar="PATH",
        help="journal file (default: BOT_JOURNAL_PATH; live mode without it: "
        "$STATE_DIRECTORY, else ~/.local/state/polymarket-maker, /journal.jsonl)",
    )

    sim = command("sim", "serve the local exchange simulator (REST, WebSocket, discovery) on loopback")
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sim.add_argument("--port", type=_port, metavar="PORT", help="REST and Gamma port (default: any free port)")
    sim.add_argument("--ws-port", type=_port, metavar="PORT", default=0,
                     help="WebSocket port (default: any free port)")
    sim.add_argument("--window-s", type=_positive_float, metavar="S",
                     help="length of each series window (default 150; a bot in live mode against it needs "
                     "BOT_SERIES_WINDOW_S=S)")
    sim.add_argument("--seed", type=int, help="seed of the synthetic market flow")
    sim.add_argument("--faults", type=Path, metavar="FILE", help="JSON file of faults to inject")

    orders = command("orders", "list the key's open orders on the venue (every market unless --market)")
    _add_venue_options(orders, all_help="every open order of the key, grouped by market (the default)")
    orders.add_argument("--json", action="store_true", help="one JSON document instead of the table")
    cancel_all = command(
        "cancel-all",
        "the kill switch: cancel every open order of the key (or only --market ones), then verify with a "
        "fresh listing that none is left; reports the key's orders outside a narrowed scope",
    )
    _add_venue_options(cancel_all, all_help="every open order of the key, DELETE /cancel-all (the default)")
    cancel_all.add_argument(
        "--others-expected",
        action="store_true",
        help="with --market: open orders of the key in other markets are intended (exit 0, not 12)",
    )

    journal = command("journal", "read a journal file (JSON lines) and summarise it")
    journal.add_argument("file", type=Path, metavar="FILE", help="journal file")
    journal.add_argument("--kind", action="append", metavar="K", help="only records of this kind (repeatable)")
    journal.add_argument(
        "--market", metavar="M",
        help="only records of this market: a condition id prefix, or a slug as its market_start record names it",
    )
    journal.add_argument("--order", metavar="ID", help="only records naming this order (id prefix)")
    journal.add_argument("--since", metavar="T", help="from this time on: unix seconds or ISO 8601 (UTC if no zone)")
    journal.add_argument("--until", metavar="T", help="up to this time: unix seconds or ISO 8601 (UTC if no zone)")
    journal.add_argument("--tail", type=_positive_int, metavar="N", help="only the last N matching records")
    journal.add_argument("--json", action="store_true", help="print the matching lines as they are in the file")

    doctor = command("doctor", "check that this account can trade (key, wallet, clock, credentials, balance, "
                     "allowances, markets, journal); a fix for each failure; exit 0 only when ready")
    doctor.add_argument("--market", action="append", metavar="CID", help="a condition id or slug instead of BOT_MARKET (repeatable)")
    doctor.add_argument("--clob-url", metavar="URL", help="CLOB REST base URL (default: BOT_CLOB_URL, live venue)")
    doctor.add_argument("--gamma-url", metavar="URL", help="Gamma base URL (default: BOT_GAMMA_URL; paper: CLOB URL + /gamma)")
    doctor.add_argument("--geoblock-url", metavar="URL", help="geoblock check URL (live: polymarket.com/api/geoblock)")
    doctor.add_argument("--max-skew-s", type=_positive_float, metavar="S", help="largest clock skew accepted (default 10)")
    doctor.add_argument("--test-order", action="store_true",
                        help="also place one post-only BUY at the lowest price and cancel it")
    add_replay_commands(command)
    command("check-config", "validate the settings and print the effective configuration, secrets masked")

    diagrams = command("diagrams", "write the state-machine diagrams generated from the transition tables")
    diagrams.add_argument(
        "--format",
        choices=("mermaid", "dot", "all"),
        default="all",
        help="diagram format (default: all, i.e. both)",
    )
    diagrams.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write into")
    return parser


def _with_default_command(argv: Sequence[str]) -> list[str]:
    """`argv` with `run` put first when it names no command.

    `python -m bot --duration 5` means `run --duration 5`; `python -m bot --help` is the top-level
    help; a first word that is no command is left for argparse to report.
    """
    args = list(argv)
    names = set(COMMAND_TARGETS) | set(_BUILTIN_COMMANDS)
    saw_command_option = False
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--config":
            index += 2  # the global option and its value
            continue
        if token.startswith("-"):
            if token in ("-h", "--help") and not saw_command_option:
                return args
            if not token.startswith("--config="):
                saw_command_option = True
            index += 1
            continue
        if token in names or not saw_command_option:
            return args
        index += 1  # the value of a command option such as --duration
    return [DEFAULT_COMMAND, *args]


# --- built-in commands ------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    # JSON's string escapes (\\, \", \n, \uXXXX) are all valid in a TOML basic string.
    return json.dumps(str(value), ensure_ascii=False)


def format_settings(settings: BotSettings) -> str:
    """The effective configuration as TOML-style lines, secrets masked, unset values commented out."""
    lines = ["# effective configuration (secrets masked)"]
    wallet = settings.wallet() if settings.private_key is not None else None
    for name, value in settings.masked().items():
        if name == "funder_address" and wallet is not None:
            value = wallet.funder  # the effective maker: derived for a deposit wallet when unset
        if value is None:
            lines.append(f"# {name} = (unset)")
        else:
            lines.append(f"{name} = {_toml_value(value)}")
    derived = {
        "clob_url": settings.effective_clob_url,
        "ws_market_url": settings.effective_ws_market_url,
        "ws_user_url": settings.effective_ws_user_url,
        "gamma_url": settings.effective_gamma_url,
    }
    if wallet is not None:
        lines.extend(_wallet_lines(wallet))
    if settings.mode is BotMode.PAPER:
        lines.append("# endpoints in effect (paper mode: the embedded simulator's, on loopback)")
    else:
        lines.append("# endpoints in effect (live mode)")
    for name, value in derived.items():
        lines.append(f"#   {name}: {value if value is not None else 'embedded simulator'}")
    return "\n".join(lines) + "\n"


def _wallet_lines(wallet: Any) -> list[str]:
    """Comment lines naming the wallet kind and the addresses orders carry (bot.protocol.wallets)."""
    lines = [
        f"# wallet: {wallet.rules.name} (signature_type {int(wallet.rules.signature_type)})",
        f"#   key address (API key, POLY_ADDRESS): {wallet.key_address}",
        f"#   order maker: {wallet.maker}   order signer: {wallet.signer}",
        f"#   pUSD that counts: held by {wallet.buying_power_address}",
    ]
    if wallet.derived_funder is not None:
        source = "configured" if wallet.configured_funder is not None else "derived (CREATE2), not configured"
        lines.append(f"#   deposit wallet {wallet.funder}: {source}")
    if wallet.funder_differs_from_derived:
        lines.append(
            f"#   NOTE: the configured funder_address differs from the wallet derived from this key "
            f"({wallet.derived_funder}); right only if this key is an approved session signer of that wallet"
        )
    return lines


def _load(args: argparse.Namespace, stderr: TextIO, *, strict: bool = False) -> BotSettings | None:
    """Settings, or None after printing one line per bad field (never a traceback, never a secret).

    A `BOT_*` environment variable that names no setting is an error when `strict` (check-config) and a
    warning otherwise, each with the nearest valid name.
    """
    unknown = unknown_env_settings(os.environ)
    for line in unknown:
        print(("invalid setting: " if strict else "warning: ") + line, file=stderr)
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        for line in exc.lines:
            print(line, file=stderr)
        return None
    return None if strict and unknown else settings


def _check_config(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    settings = _load(args, stderr, strict=True)
    if settings is None:
        return EXIT_CONFIG
    stdout.write(format_settings(settings))
    return EXIT_OK


def _diagrams(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from statemachines.diagrams import DIAGRAM_FORMATS, export

    formats = DIAGRAM_FORMATS if args.format == "all" else (args.format,)
    out_dir: Path = args.out
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for diagram_format in formats:
            for file_name, text in export(diagram_format).items():
                path = out_dir / file_name
                # Fixed newline so the committed copies compare byte for byte on any platform.
                path.write_text(text, encoding="utf-8", newline="\n")
                print(f"wrote {path}", file=stdout)
    except OSError as exc:
        where = exc.filename or out_dir
        print(f"diagrams: cannot write {where}: {exc.strerror or exc} (give --out a writable directory)",
              file=stderr)
        return EXIT_CONFIG
    return EXIT_OK


# --- lazily resolved commands -----------------------------------------------------------------


class _NotBuilt(Exception):
    pass


def _resolve(target: str) -> Callable[..., Any]:
    """Import ``module:function``; `_NotBuilt` when the module (or the function in it) does not exist.

    A module that exists but fails to import for another reason (a missing dependency, a bug) is
    not "not built": that error propagates.
    """
    module_name, _, function_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module_name or module_name.startswith(missing + "."):
            raise _NotBuilt from None
        raise
    handler = getattr(module, function_name, None)
    if handler is None or not callable(handler):
        raise _NotBuilt
    return handler


def _run_target(name: str, spec: CommandTarget, args: argparse.Namespace, stderr: TextIO) -> int:
    try:
        handler = _resolve(spec.target)
    except _NotBuilt:
        print(f"{PROG} {name}: {spec.part} is not built yet ({spec.target} does not exist)", file=stderr)
        return EXIT_NOT_BUILT
    settings: BotSettings | None = None
    if spec.needs_settings:
        settings = _load(args, stderr)
        if settings is None:
            return EXIT_CONFIG
    if inspect.iscoroutinefunction(handler):
        import trio

        result = trio.run(handler, args, settings)
    else:
        result = handler(args, settings)
    return EXIT_OK if result is None else int(result)


# --- entry point ------------------------------------------------------------------------------


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run one command and return its exit code (argparse itself exits 2 on a bad command line)."""
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    parser = build_parser()
    args = parser.parse_args(_with_default_command(sys.argv[1:] if argv is None else argv))
    if getattr(args, "forever", False) and (args.duration is not None or args.markets is not None):
        parser.error("--forever cannot be combined with --duration or --markets")
    try:
        if args.command == "check-config":
            return _check_config(args, out, err)
        if args.command == "diagrams":
            return _diagrams(args, out, err)
        return _run_target(args.command, COMMAND_TARGETS[args.command], args, err)
    except KeyboardInterrupt:
        # Handlers own their signal handling (cancel-all first); this is only the last word.
        print(f"{PROG}: interrupted", file=err)
        return EXIT_SIGNAL
