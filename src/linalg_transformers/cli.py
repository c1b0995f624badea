"""The ``linalg-transformers`` command.

Each group of subcommands lives next to the code it drives and registers itself on the parser through one function
taking the argparse ``subparsers`` object (e.g. `linalg_transformers.hub.add_hub_commands`). A subcommand sets
``func`` (a function of the parsed namespace returning the exit code) with ``set_defaults``. To add a group, append
its registration function to `COMMAND_GROUPS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .evaluation import add_evaluate_command
from .hub import add_hub_commands
from .pipeline_commands import add_pipeline_commands
from .problems.commands import add_generate_command

__all__ = ["COMMAND_GROUPS", "build_parser", "main"]

COMMAND_GROUPS: list[Callable[[Any], None]] = [
    add_hub_commands,  # publish, publish-metric, install-checkpoints
    add_pipeline_commands,  # solve
    add_generate_command,  # generate (problems/commands.py)
    add_evaluate_command,  # evaluate (evaluation.py)
]
"""Registration functions of the subcommand groups, in the order they appear in ``--help``."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand group registered."""
    parser = argparse.ArgumentParser(
        prog="linalg-transformers",
        description="Seq2seq transformers that do linear algebra on tokenized numbers (Charton, 2022).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMAND_GROUPS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (a `ValueError` is reported as an error message, code 2)."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args) or 0)
    except ValueError as err:
        parser.exit(2, f"{parser.prog} {args.command}: error: {err}\n")
    return 0  # pragma: no cover (parser.exit raises SystemExit)


if __name__ == "__main__":
    sys.exit(main())
