"""The ``linalg-transformers`` command: every subcommand, above the library it drives.

One module per group of subcommands, each with one registration function taking the argparse ``subparsers``
object: ``pipelines.py`` (``solve``), ``problems.py`` (``generate``, and the problem options as flags that
``evaluate`` shares), ``evaluate.py`` (``evaluate``) and ``hub.py`` (``publish``, ``publish-metric``,
``install-checkpoints``); ``help.py`` formats their help. A subcommand sets ``func`` (a function of the parsed
namespace returning the exit code) with ``set_defaults``. To add a group, append its registration function to
`COMMAND_GROUPS`. Imports point one way: these modules use the library, and no library module imports them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence

from .evaluate import add_evaluate_command
from .help import HelpFormatter
from .hub import add_hub_commands
from .pipelines import SOLVE_EXAMPLES, add_pipeline_commands
from .problems import add_generate_command

__all__ = ["COMMAND_GROUPS", "build_parser", "main"]

COMMAND_GROUPS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_pipeline_commands,  # solve (pipelines.py)
    add_generate_command,  # generate (problems.py)
    add_evaluate_command,  # evaluate (evaluate.py)
    add_hub_commands,  # publish, publish-metric, install-checkpoints (hub.py)
]
"""Registration functions of the subcommand groups, in the order they appear in ``--help`` (everyday jobs first)."""

EPILOG = f"""\
examples:
  linalg-transformers install-checkpoints                  # released models into the HF cache (offline use)
  {SOLVE_EXAMPLES[0]}
  linalg-transformers generate eigenvalues --size 10000 --output eig.parquet
  linalg-transformers evaluate linalg/eigen-p1000 --size 1000 --ood
  linalg-transformers publish runs/eigen-p1000 linalg/eigen-p1000 --local-dir out/

Training is a script, not a subcommand: accelerate launch training/train.py --config training/configs/NAME.yaml.
Run "linalg-transformers COMMAND --help" for a command's options.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand group registered."""
    parser = argparse.ArgumentParser(
        prog="linalg-transformers",
        description="Seq2seq transformers that do linear algebra on tokenized numbers (Charton, 2022).",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMAND_GROUPS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    A `ValueError` is reported as a one-line error message, exit code 2. Output into a pipe whose reader has gone
    (``linalg-transformers solve ... | head``) ends quietly, exit code 0.
    """
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError, AttributeError):  # stdout may be no file (tests capture it)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # else Python's last flush fails again
        return 0
    except ValueError as err:
        parser.exit(2, f"{parser.prog} {args.command}: error: {err}\n")
    return 0  # pragma: no cover (parser.exit raises SystemExit)
