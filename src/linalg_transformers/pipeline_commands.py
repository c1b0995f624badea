"""The ``solve`` subcommand: one matrix (or a batch) through a pipeline, printed as the pipeline's JSON output.

```
linalg-transformers solve --task matrix-eigen [--model ID_OR_DIR] [MATRIX | --file X.npy | -]
```

MATRIX is a JSON nested list (``'[[2, 1], [1, 2]]'``), ``-`` reads that JSON from stdin, and ``--file`` reads a
``.npy`` file (a 2-D array is one matrix, a 3-D array a batch). A JSON list of matrices is a batch too. Kept apart from
`pipeline_matrix` so that the module shipped with models as remote code holds no command-line code.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from .pipeline_matrix import DEFAULT_RERANK_BEAMS, PIPELINES

__all__ = ["add_pipeline_commands", "read_matrix", "solve"]


def add_pipeline_commands(subparsers: Any) -> None:
    """Register ``solve`` on an argparse subparsers object."""
    defaults = ", ".join(f"{task}: {cls.default_model[0]}" for task, cls in PIPELINES.items() if cls.default_model)
    p = subparsers.add_parser(
        "solve",
        help="solve a matrix with a pipeline (matrix-eigen, ...) and print the verified answer as JSON",
        description="Run a matrix through a pipeline and print its JSON output: the answer, whether it is well "
        "formed, the problem's own check (relative error, pass/fail at 5/2/1/0.5%) and the generated tokens. "
        f"Default models: {defaults}. Set HF_HUB_OFFLINE=1 to load Hub ids from the local cache "
        "(see install-checkpoints).",
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
    p.add_argument("--batch-size", type=int, default=None, help="matrices per generate() call for a batch")
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


def solve(task: str, inputs: Any, model: str | None = None, **options: Any) -> Any:
    """Build the task's pipeline (the package's own class, even for a model shipping remote code) and run it.

    Args:
        task (`str`): A key of `PIPELINES`.
        inputs: One matrix or a batch (see `MatrixPipeline.__call__`).
        model (`str`, *optional*): Model folder or Hub id; by default the task's default model.
        **options: ``num_beams``, ``max_new_tokens``, ``verify_rerank``, ``batch_size``.

    Returns:
        The pipeline's output: a `dict`, or a `list[dict]` for a batch.
    """
    from transformers import pipeline

    cls = PIPELINES[task]
    if model is None and cls.default_model is None:
        raise ValueError(f"{task} has no default model; pass --model (a folder or a Hub id)")
    solver = pipeline(task, model=model, pipeline_class=cls)
    return solver(inputs, **{k: v for k, v in options.items() if v is not None})


def _cmd_solve(args: argparse.Namespace) -> int:
    result = solve(
        args.task,
        read_matrix(args.matrix, args.file),
        model=args.model,
        num_beams=args.num_beams,
        max_new_tokens=args.max_new_tokens,
        verify_rerank=True if args.verify_rerank else None,
        batch_size=args.batch_size,
    )
    print(json.dumps(result, indent=2))
    return 0
