"""Problems on the command line: problem options as flags, and ``linalg-transformers generate``.

Every option of every registered problem (`BaseProblem.option_defaults`) becomes a flag, ``coeff_range`` as
``--coeff-range``, so a problem registered with `register_problem` before the parser is built gets its own options
too. A value is read as JSON where it parses (``5``, ``0.05``, ``true``, ``[3, 8]``), as a list of numbers where it
is comma-separated numbers (``--dim 3,8``), and as a string otherwise (``--eigen-distribution laplace,positive``);
the problem validates it, and an option the problem does not have is a `ValueError` naming the valid ones.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ..encodings import available_encodings
from ..problems.base import BaseProblem
from ..problems.distributions import available_eigen_distributions
from ..problems.registry import available_problems, get_problem, problem_class
from ..problems.test_sets import DEFAULT_TEST_SEED, dataset_format, test_set, to_dataset, write_dataset
from .help import HelpFormatter

__all__ = [
    "add_generate_command",
    "add_problem_arguments",
    "describe_problem",
    "parse_option_value",
    "problem_from_arguments",
    "problem_option_defaults",
]

OPTION_PREFIX = "problem_option__"
"""Namespace attributes of the problem-option flags: ``problem_option__<option>``."""

NOT_PROBLEM_OPTIONS = ("name", "input_encoding", "output_encoding")
"""Keys of a model's ``config.training_problem`` that are not options of the problem."""

_OPTION_HELP = {
    "dim": "matrix dimension n, or a range MIN,MAX (each example draws its own)",
    "coeff_range": "coefficients lie in [-A, A]",
    "coeff_distribution": "coefficients: uniform or gaussian",
    "noise": "input noise, in units of the coefficients' standard deviation (a training augmentation: fixed test sets "
    "have none)",
    "rectangular": "non-square inputs: the second dimension drawn independently (a bare flag means true)",
    "eigen_distribution": "eigenvalue distribution of the symmetric matrices: {distributions}, or several "
    "comma-separated (a mixture)",
    "tasks": "co-training tasks: comma-separated problem names, or task tokens (default TADMEFI, the paper's seven)",
}


def problem_option_defaults(name: str) -> dict[str, Any] | None:
    """The options of a registered problem and their defaults; `None` for a factory that does not list them."""
    listing = getattr(problem_class(name), "option_defaults", None)
    return dict(listing()) if callable(listing) else None


def parse_option_value(text: str) -> Any:
    """A problem option's value from its command-line text.

    Args:
        text (`str`): e.g. ``"5"``, ``"3,8"``, ``"[3, 8]"``, ``"true"``, ``"0.05"``, ``"laplace"``.

    Returns:
        JSON values as parsed (numbers, booleans, lists), comma-separated numbers as a list, anything else as the
        string itself.
    """
    low = text.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    parts = text.split(",")
    if len(parts) > 1:
        try:
            values = [json.loads(p) for p in parts]
        except json.JSONDecodeError:
            return text
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return values
    return text


def _registered_options() -> dict[str, dict[str, Any]]:
    """Option -> {problem name: default}, over the registered problems that list their options."""
    out: dict[str, dict[str, Any]] = {}
    for name in available_problems():
        for option, default in (problem_option_defaults(name) or {}).items():
            out.setdefault(option, {})[name] = default
    return out


def add_problem_arguments(parser: argparse.ArgumentParser, defaults_note: str = "") -> None:
    """Add one flag per option of the registered problems, in a "problem options" group.

    Flags that would collide with one of the command's own are left out. A flag not given is absent (`None`), so the
    problem's default, or the base of `problem_from_arguments`, applies.

    Args:
        parser (`argparse.ArgumentParser`): The (sub)command's parser.
        defaults_note (`str`, *optional*): Description of the group, e.g. where defaults come from.
    """
    group = parser.add_argument_group("problem options", defaults_note or "Default: the problem's own default.")
    taken = {s for action in parser._actions for s in action.option_strings}
    for option, by_problem in _registered_options().items():
        flag = "--" + option.replace("_", "-")
        if flag in taken:
            continue
        text = _OPTION_HELP.get(option, f"option {option!r}").format(
            distributions=", ".join(available_eigen_distributions())
        )
        problems = sorted(by_problem)
        if len(problems) < len(available_problems()):
            text += f" [{', '.join(problems)}]"
        shown = {_show(v) for v in by_problem.values() if v is not None}  # None: a sub-task's own default
        if len(shown) == 1 and len(next(iter(shown))) <= 20:  # long ones (tasks) are in the text
            text += f" (default {shown.pop()})"
        defaults = list(by_problem.values())
        is_bool = any(isinstance(v, bool) for v in defaults) and all(
            v is None or isinstance(v, bool) for v in defaults
        )
        group.add_argument(
            flag,
            dest=OPTION_PREFIX + option,
            metavar="VALUE",
            nargs="?" if is_bool else None,
            const="true" if is_bool else None,
            help=text.replace("%", "%%"),
        )


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def given_options(args: argparse.Namespace) -> dict[str, Any]:
    """The problem options given on the command line, parsed (`parse_option_value`)."""
    out = {}
    for key, value in vars(args).items():
        if key.startswith(OPTION_PREFIX) and value is not None:
            out[key[len(OPTION_PREFIX) :]] = parse_option_value(value)
    return out


def problem_from_arguments(name: str, args: argparse.Namespace, base: dict[str, Any] | None = None) -> BaseProblem:
    """The problem `name` with the options given on the command line.

    Args:
        name (`str`): A registered problem name (or alias).
        args (`argparse.Namespace`): Parsed arguments of a parser set up by `add_problem_arguments`.
        base (`dict`, *optional*): Starting options, e.g. a model's ``config.training_problem``: those the problem
            has are kept (a model trained on 5x5 eigenvalues is scored on 5x5 eigenvectors by default); the given
            flags override them.

    Raises:
        ValueError: for an unknown problem, an option it does not have, or an invalid value.
    """
    start: dict[str, Any] = {}
    if base:
        known = problem_option_defaults(name)
        start = {
            k: v
            for k, v in base.items()
            if k not in NOT_PROBLEM_OPTIONS and v is not None and (known is None or k in known)
        }
    return get_problem(name, **{**start, **given_options(args)})


def describe_problem(problem: BaseProblem) -> str:
    """A one-line description: ``eigenvalues (dim=5, coeff_range=10, ...)``."""
    opts = ", ".join(f"{k}={_show(v)}" for k, v in problem.options.items() if v is not None)
    return f"{problem.name} ({opts})"


# ------------------------------------------------------------------------------------------------- generate
_GENERATE_EPILOG = """\
examples:
  linalg-transformers generate eigenvalues --size 10000 --seed 0 --dim 5 --output eig.parquet
  linalg-transformers generate eigenvalues --output eig.jsonl --input-encoding FP15 --output-encoding P1000
  linalg-transformers generate eigenvectors --size 1000 --eigen-distribution laplace --output laplace.parquet
  linalg-transformers generate inverse --dim 5 --fixed-test-set --output inverse-test.parquet
  linalg-transformers generate cotraining --tasks TADMEFI --dim 3,8 --size 500 --output mix.jsonl

columns: input, target (nested lists of float64, exact), task (the task token), and with an encoding input_tokens,
target_tokens (space-separated tokens, e.g. "V2 V1 + 314 E-2 - 500 E-3"). A parquet file also records the problem,
seed, encodings and fingerprint in its schema metadata (key "linalg_transformers")."""


def add_generate_command(subparsers: Any) -> None:
    """Register ``generate`` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "generate",
        help="write a dataset of a problem to parquet or JSON lines",
        description="Draw examples of a problem with its seeded generator (problem.generate(size, seed)), or its "
        "fixed test set (--fixed-test-set), and write them to a parquet or JSON-lines file: the matrices as numbers, "
        "and, given an encoding, as token strings.",
        epilog=_GENERATE_EPILOG,
        formatter_class=HelpFormatter,
    )
    p.add_argument("problem", metavar="PROBLEM", help=f"problem name: {', '.join(available_problems())}")
    p.add_argument("--output", "-o", required=True, metavar="FILE", help="file to write, *.parquet or *.jsonl")
    p.add_argument("--format", choices=["parquet", "jsonl"], help="file format (default: from the file's suffix)")
    p.add_argument("--size", "-n", type=int, default=10_000, help="number of examples (default 10,000)")
    p.add_argument(
        "--seed",
        type=int,
        help=f"seed of the generator (default 0), or of the fixed test set (default {DEFAULT_TEST_SEED})",
    )
    p.add_argument(
        "--fixed-test-set",
        action="store_true",
        help="write the problem's fixed test set (the one every reported accuracy uses; no input noise)",
    )
    p.add_argument(
        "--encoding",
        metavar="NAME",
        help=f"also write token strings in this encoding, both sides ({', '.join(available_encodings())})",
    )
    p.add_argument(
        "--input-encoding", metavar="NAME", help="encoding of input_tokens (default: --encoding, else the output's)"
    )
    p.add_argument(
        "--output-encoding", metavar="NAME", help="encoding of target_tokens (default: --encoding, else the input's)"
    )
    p.add_argument("--force", action="store_true", help="overwrite the output file if it exists")
    add_problem_arguments(p, "One flag per option of the registered problems; a problem rejects those it lacks.")
    p.set_defaults(func=_cmd_generate)


def _cmd_generate(args: argparse.Namespace) -> int:
    fmt = dataset_format(args.output, args.format)
    output = Path(args.output)
    if output.exists() and not args.force:
        raise ValueError(f"{output} exists; pass --force to overwrite it")
    if args.size < 0:
        raise ValueError(f"--size must be >= 0; got {args.size}")
    problem = problem_from_arguments(args.problem, args)
    names = (args.encoding, args.input_encoding, args.output_encoding)
    tokens = any(n is not None for n in names)
    encoding = args.encoding or args.input_encoding or args.output_encoding or "P1000"  # P1000: unused (no tokens)

    started = time.perf_counter()
    if args.fixed_test_set:
        seed = DEFAULT_TEST_SEED if args.seed is None else args.seed
        batch = test_set(problem, size=args.size, seed=seed)
        source = f"fixed test set, seed {seed}"
    else:
        seed = 0 if args.seed is None else args.seed
        batch = problem.generate(args.size, seed=seed)
        source = f"generate(size={args.size}, seed={seed})"
    dataset = to_dataset(
        problem,
        encoding=encoding,
        seed=seed,
        input_encoding=args.input_encoding,
        output_encoding=args.output_encoding,
        batch=batch,
        tokens=tokens,
    )
    metadata = {**json.loads(dataset.info.description), "source": "test_set" if args.fixed_test_set else "generate"}
    write_dataset(dataset, output, fmt, metadata=metadata)
    seconds = time.perf_counter() - started
    print(
        f"wrote {len(dataset):,} examples of {describe_problem(problem)} to {output} ({fmt}; {source}; "
        f"{100 * batch.rejection_rate:.2f}% of draws rejected; {seconds:.1f} s)\n"
        f"columns: {', '.join(dataset.column_names)}"
        + (f"; encodings {metadata['input_encoding']} -> {metadata['output_encoding']}" if tokens else "")
    )
    return 0
