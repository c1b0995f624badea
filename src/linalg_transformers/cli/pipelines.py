"""The ``solve`` subcommand: one matrix (or a batch) through a pipeline, printed as the pipeline's JSON output.

```
linalg-transformers solve --task matrix-eigen [--model ID_OR_DIR] [MATRIX | --file X.npy | -]
```

MATRIX is a JSON nested list (``'[[2, 1], [1, 2]]'``), ``-`` reads that JSON from stdin, and ``--file`` reads a
``.npy`` file (a 2-D array is one matrix, a 3-D array a batch). A JSON list of matrices is a batch too. The output is
the answer alone: transformers' messages and loading bars (and the pipeline's progress bar) only with ``--verbose``.
Kept apart from `linalg_transformers.pipeline_matrix` so that the module shipped with models as remote code holds no
command-line code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..pipeline_matrix import DEFAULT_DECODING, DEFAULT_MODELS, DEFAULT_RERANK_BEAMS, PIPELINES
from ..regression_decoding import DECODINGS
from .help import HelpFormatter

__all__ = ["SOLVE_EXAMPLES", "add_pipeline_commands", "read_matrix", "solve"]

_EIGEN_EXAMPLE = (
    "[[-9.2, 6.4, -6.4, 0.0, 3.7], [6.4, 2.9, -2.2, -6.1, -9.2], [-6.4, -2.2, 10.0, 0.4, -4.1], "
    "[0.0, -6.1, 0.4, -3.7, 3.3], [3.7, -9.2, -4.1, 3.3, 8.9]]"
)
SOLVE_EXAMPLES = (
    f"linalg-transformers solve --task matrix-eigen '{_EIGEN_EXAMPLE}'",
    "linalg-transformers solve --task matrix-eigen --file matrices.npy --batch-size 256   # a (batch, 5, 5) array",
    "linalg-transformers solve --task matrix-inverse --model runs/inverse-2x2 '[[2, 1], [1, 3]]'",
)
"""The examples of ``solve --help`` (and of ``linalg-transformers --help``): each fits its model, the default model
(5x5 symmetric matrices with entries in [-10, 10] for ``matrix-eigen``) or the one it names."""


def add_pipeline_commands(subparsers: Any) -> None:
    """Register ``solve`` on an argparse subparsers object."""
    defaults = ", ".join(f"{task}: {model}" for task, model in DEFAULT_MODELS.items())
    examples = "\n".join(f"  {e}" for e in SOLVE_EXAMPLES)
    p = subparsers.add_parser(
        "solve",
        help="solve a matrix with a pipeline (matrix-eigen, ...) and print the verified answer as JSON",
        description="Run a matrix through a pipeline and print its JSON output: the answer, whether it is well "
        "formed, the problem's own check (relative error, pass/fail at 5/2/1/0.5%) and the generated tokens. "
        f"Default models: {defaults}; the other tasks need --model. Set HF_HUB_OFFLINE=1 to load Hub ids from the "
        "local cache (see install-checkpoints).",
        epilog=f"examples:\n{examples}",
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "matrix", nargs="?", help="the matrix as a JSON nested list, e.g. '[[2, 1], [1, 2]]'; '-' reads stdin"
    )
    p.add_argument("--file", help="read the matrix (2-D) or a batch (3-D) from a .npy file")
    p.add_argument(
        "--task", required=True, choices=list(PIPELINES), metavar="TASK", help=f"one of {', '.join(PIPELINES)}"
    )
    p.add_argument("--model", help="model folder or Hub id (default: the task's default model)")
    p.add_argument("--num-beams", type=int, help="beam search width (default 1: greedy)")
    p.add_argument("--max-new-tokens", type=int, help="generation budget (default: the length of the answer)")
    p.add_argument(
        "--verify-rerank",
        action="store_true",
        help=f"decode --num-beams candidates (default {DEFAULT_RERANK_BEAMS}) and keep the one the check likes best",
    )
    p.add_argument(
        "--decoding",
        choices=DECODINGS,
        default=None,
        help=f"{DEFAULT_DECODING} (the default: greedy within the output grammar, every answer a matrix), greedy "
        "(plain generate(), the paper's), or median / mean (regression-aware decoding)",
    )
    p.add_argument("--batch-size", type=int, default=None, help="matrices per generate() call for a batch")
    p.add_argument(
        "--verbose",
        action="store_true",
        help="show transformers' messages and loading bars, and a progress bar for long batches",
    )
    p.set_defaults(func=_cmd_solve)


def read_matrix(matrix: str | None, file: str | None) -> Any:
    """The input of ``solve``: a JSON nested list (``"-"``: from stdin) or a ``.npy`` file.

    Raises:
        ValueError: if both or neither are given, the file cannot be read as a ``.npy`` array, or the text is not
            JSON.
    """
    if (matrix is None) == (file is None):
        raise ValueError("give the matrix either as JSON (MATRIX, or '-' for stdin) or with --file X.npy")
    if file is not None:
        try:
            return np.load(file, allow_pickle=False)
        except (OSError, ValueError) as err:  # missing, unreadable, or not a .npy file (numpy's pickle fallback)
            raise ValueError(f"cannot read {file!r} as a .npy array: {err}") from None
    text = sys.stdin.read() if matrix == "-" else matrix
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"the matrix is not JSON ({err}); write it as a nested list, e.g. '[[2, 1], [1, 2]]'"
        ) from None


def solve(task: str, inputs: Any, model: str | None = None, verbose: bool = False, **options: Any) -> Any:
    """Build the task's pipeline (the package's own class, even for a model shipping remote code) and run it.

    Args:
        task (`str`): A key of `PIPELINES`.
        inputs: One matrix or a batch (see `MatrixPipeline.__call__`).
        model (`str`, *optional*): Model folder or Hub id; by default the task's default model (`DEFAULT_MODELS`).
        verbose (`bool`, *optional*, defaults to `False`): Let transformers log and show its loading bars while the
            model loads, and show the pipeline's progress bar on long batches; by default neither.
        **options: ``num_beams``, ``max_new_tokens``, ``verify_rerank``, ``decoding``, ``batch_size``.

    Returns:
        The pipeline's output: a `dict`, or a `list[dict]` for a batch.

    Raises:
        ValueError: for a task without a default model and no `model`, a model that cannot be loaded, or bad input.
    """
    from transformers import pipeline

    cls = PIPELINES[task]
    if model is None:
        if task not in DEFAULT_MODELS:
            raise ValueError(f"{task} has no default model; pass --model (a folder or a Hub id)")
        model = DEFAULT_MODELS[task]  # named here, so transformers has no "No model was supplied" to say
    with contextlib.nullcontext() if verbose else _quiet_transformers():
        try:
            solver = pipeline(task, model=model, pipeline_class=cls)
        except OSError as err:  # a missing folder, an id not in the cache offline, no network, ...
            folder = Path(model).expanduser()
            if (folder.is_absolute() or model.startswith((".", "~"))) and not folder.exists():
                reason = f"there is no folder {str(folder)!r}"
            else:
                reason = " ".join(str(err).split())  # one line
            if model in DEFAULT_MODELS.values():
                reason += "; to load a released model offline, run linalg-transformers install-checkpoints first"
            raise ValueError(f"cannot load a model from {model!r} (a model folder or a Hub id): {reason}") from None
    options = {k: v for k, v in options.items() if v is not None}
    return solver(inputs, progress=None if verbose else False, **options)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Turn the warnings and progress bars of transformers and huggingface_hub off, then back to what they were."""
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from transformers.utils import logging as hf_logging

    verbosity, hub_bars_off = hf_logging.get_verbosity(), are_progress_bars_disabled()
    transformers_bars_on = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    disable_progress_bars()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if transformers_bars_on:
            hf_logging.enable_progress_bar()
        if not hub_bars_off:
            enable_progress_bars()


def _cmd_solve(args: argparse.Namespace) -> int:
    result = solve(
        args.task,
        read_matrix(args.matrix, args.file),
        model=args.model,
        num_beams=args.num_beams,
        max_new_tokens=args.max_new_tokens,
        verify_rerank=True if args.verify_rerank else None,
        decoding=args.decoding,
        batch_size=args.batch_size,
        verbose=args.verbose,
    )
    print(json.dumps(result, indent=2))
    sys.stdout.flush()  # a closed pipe (solve ... | head) is then seen here, where the command line handles it
    return 0
