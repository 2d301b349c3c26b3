"""Process exit codes of `python -m bot`, one per way out, and the map from a market's exit reason.

A service manager or a wrapper script reads these. Every code, and what it means:

| code | name | meaning |
|---|---|---|
| 0 | `EXIT_OK` | clean end: every market ended, `--markets N` traded, `--duration` elapsed, or an operator stop |
| 2 | `EXIT_CONFIG` | a configuration (or command line) the operator must fix; nothing was traded |
| 3 | `EXIT_CRASH` | a task crashed (a market's, or the supervisor's); every market ran its cancel-all |
| 4 | `EXIT_STORM` | an unknown-order storm stopped a market |
| 5 | `EXIT_FATAL_VENUE` | a venue error no retry can fix |
| 6 | `EXIT_RECONCILE` | the venue's open orders disagreed with ours and `reconcile_action=exit` |
| 7 | `EXIT_ACCOUNT` | the account's trouble: heartbeat lapse, auth refused, balance exhausted |
| 8 | `EXIT_DOCTOR` | `python -m bot doctor`: a check failed (each failure is printed with its fix) |
| 9 | `EXIT_NOT_BUILT` | a command whose part is not built yet |
| 10 | `EXIT_JOURNAL` | a journal write failed mid-run (ENOSPC, EFBIG, EIO); quoting stopped, cancel-all ran |
| 11 | `EXIT_CANCEL_UNVERIFIED` | a cancel-all could not verify by its deadline: the venue heartbeat was stopped on purpose so the venue's dead-man switch clears the key's orders; check the venue |
| 12 | `EXIT_ORDERS_ELSEWHERE` | `cancel-all --market …` only: its scope is verified empty, but the key still has open orders in other markets (`--others-expected` accepts them) |
| 130 | `EXIT_SIGNAL` | SIGINT/SIGTERM (the shell's code for SIGINT, 128 + 2); every market ran its cancel-all |

When several reasons apply (markets stopped for different reasons, a signal after a crash), the process
reports the most severe one (`most_severe`): a failure anywhere outranks a signal, an operator stop or
`--duration`, so the exit code never hides a crash. The summary's `exit_reason` is the same reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from statemachines.market import ExitReason

__all__ = [
    "EXIT_ACCOUNT",
    "EXIT_CANCEL_UNVERIFIED",
    "EXIT_CODE_BY_REASON",
    "EXIT_CONFIG",
    "EXIT_CRASH",
    "EXIT_DOCTOR",
    "EXIT_FATAL_VENUE",
    "EXIT_JOURNAL",
    "EXIT_NOT_BUILT",
    "EXIT_OK",
    "EXIT_ORDERS_ELSEWHERE",
    "EXIT_RECONCILE",
    "EXIT_SIGNAL",
    "EXIT_STORM",
    "SEVERITY",
    "exit_code_for",
    "most_severe",
]

EXIT_OK: Final = 0
EXIT_CONFIG: Final = 2  # also argparse's code for a bad command line
EXIT_CRASH: Final = 3
EXIT_STORM: Final = 4
EXIT_FATAL_VENUE: Final = 5
EXIT_RECONCILE: Final = 6
EXIT_ACCOUNT: Final = 7  # heartbeat lapse, auth refused, balance exhausted
EXIT_DOCTOR: Final = 8  # `doctor`: a check failed, trading cannot start yet
EXIT_NOT_BUILT: Final = 9
EXIT_JOURNAL: Final = 10
EXIT_CANCEL_UNVERIFIED: Final = 11
EXIT_ORDERS_ELSEWHERE: Final = 12  # `cancel-all --market`: scope clear, other orders of the key remain
EXIT_SIGNAL: Final = 130

EXIT_CODE_BY_REASON: Final[Mapping[ExitReason, int]] = MappingProxyType(
    {
        ExitReason.MARKET_END: EXIT_OK,
        ExitReason.OPERATOR: EXIT_OK,  # --duration elapsed, or an operator's stop
        ExitReason.CRASH: EXIT_CRASH,
        ExitReason.STORM: EXIT_STORM,
        ExitReason.FATAL_VENUE: EXIT_FATAL_VENUE,
        ExitReason.RECONCILE_MISMATCH: EXIT_RECONCILE,
        ExitReason.ACCOUNT: EXIT_ACCOUNT,
        ExitReason.JOURNAL: EXIT_JOURNAL,
        ExitReason.CANCEL_UNVERIFIED: EXIT_CANCEL_UNVERIFIED,
        ExitReason.SIGNAL: EXIT_SIGNAL,
    }
)

# Most severe first. An unverified cancel-all leads: orders of ours may still be on the venue, which is
# the one thing the operator must look at. Then the failures of the bot itself and of its account and
# venue; then who asked for the stop (a signal, an operator, `--duration`); a market ending on its own
# says nothing at all. Every ExitReason appears exactly once (a test walks the enum).
SEVERITY: Final[tuple[ExitReason, ...]] = (
    ExitReason.CANCEL_UNVERIFIED,
    ExitReason.JOURNAL,
    ExitReason.CRASH,
    ExitReason.ACCOUNT,
    ExitReason.FATAL_VENUE,
    ExitReason.RECONCILE_MISMATCH,
    ExitReason.STORM,
    ExitReason.SIGNAL,
    ExitReason.OPERATOR,
    ExitReason.MARKET_END,
)
_RANK: Final[Mapping[ExitReason, int]] = MappingProxyType({reason: rank for rank, reason in enumerate(SEVERITY)})


def most_severe(reasons: Iterable[ExitReason | None]) -> ExitReason:
    """The most severe of `reasons` (Nones ignored); MARKET_END when there is none."""
    present = [reason for reason in reasons if reason is not None]
    return min(present, key=_RANK.__getitem__, default=ExitReason.MARKET_END)


def exit_code_for(reasons: ExitReason | Iterable[ExitReason | None] | None) -> int:
    """The process exit code for one reason, or for several (the most severe wins); 0 for none."""
    if reasons is None:
        return EXIT_OK
    if isinstance(reasons, ExitReason):
        return EXIT_CODE_BY_REASON[reasons]
    return EXIT_CODE_BY_REASON[most_severe(reasons)]
