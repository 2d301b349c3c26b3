"""Process exit codes of `python -m bot`, one per way out, and the map from a market's exit reason.

A service manager or a wrapper script reads these: 0 is a clean end, 2 a configuration the operator
must fix, 8 a `doctor` check that failed (bot/doctor.py), 9 a command whose part is not built yet, 130 the shell's code for SIGINT (128 + 2); the
others name the failure that stopped the bot (after its cancel-all).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from statemachines.market import ExitReason

__all__ = [
    "EXIT_ACCOUNT",
    "EXIT_CODE_BY_REASON",
    "EXIT_CONFIG",
    "EXIT_CRASH",
    "EXIT_DOCTOR",
    "EXIT_FATAL_VENUE",
    "EXIT_NOT_BUILT",
    "EXIT_OK",
    "EXIT_RECONCILE",
    "EXIT_SIGNAL",
    "EXIT_STORM",
    "exit_code_for",
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
        ExitReason.SIGNAL: EXIT_SIGNAL,
    }
)

# When several markets stopped for different reasons, the process reports the most severe one:
# a crash hides nothing, a signal only says who asked.
_SEVERITY: Final[tuple[ExitReason, ...]] = (
    ExitReason.CRASH,
    ExitReason.ACCOUNT,
    ExitReason.FATAL_VENUE,
    ExitReason.RECONCILE_MISMATCH,
    ExitReason.STORM,
    ExitReason.SIGNAL,
    ExitReason.OPERATOR,
    ExitReason.MARKET_END,
)


def exit_code_for(reasons: ExitReason | Iterable[ExitReason | None] | None) -> int:
    """The process exit code for one reason, or for several (the most severe wins); 0 for none."""
    if reasons is None:
        return EXIT_OK
    if isinstance(reasons, ExitReason):
        return EXIT_CODE_BY_REASON[reasons]
    present = {reason for reason in reasons if reason is not None}
    for reason in _SEVERITY:
        if reason in present:
            return EXIT_CODE_BY_REASON[reason]
    return EXIT_OK
