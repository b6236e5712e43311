"""`rxflow`: the platform's command line. `rxflow audit <command>` runs the regulator's tools."""

from __future__ import annotations

import sys
from collections.abc import Callable

USAGE = """usage: rxflow <command> [...]

commands:
  audit    verify, replay, report on and export the audit ledger (rxflow audit --help)
"""


def _audit(argv: list[str]) -> int:
    from services.audit.cli import main

    return main(argv)


COMMANDS: dict[str, Callable[[list[str]], int]] = {"audit": _audit}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a command's own parser; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(USAGE, file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
