"""The ``eci-operator`` console script: one sub-command per module in this package.

Each sub-command module exposes ``register(subparsers)``, which adds its parser and sets ``func`` to a
callable taking the parsed namespace and returning the exit code. Exit codes: 0 success, 1 a failed check
or operation, 2 bad input (named in one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from eci_operator import __version__
from eci_operator.cli import bill, check, cluster, profile, resolve, run

Command = Callable[[argparse.Namespace], int]

_MODULES = (run, resolve, profile, bill, check, cluster)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eci-operator",
        description="ASK virtual nodes and a simulated ECI runtime for any Kubernetes cluster.",
    )
    parser.add_argument("--version", action="version", version=f"eci-operator {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Command | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    return func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
