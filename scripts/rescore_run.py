"""Redo a finished run's final evaluation in float32, keeping the rest of its record.

Usage:
    python scripts/rescore_run.py runs/eigen-p1000-v5

`training/train.py` evaluates the fixed test sets in float32 at the end of training (``FINAL_EVAL_PRECISION``);
runs that finished before it did so evaluated under the training's bf16 autocast, which scores lower at the tight
tolerances than the model as `AutoModel` loads it. This rewrites such a run's ``results.json`` and ``results.md``
with the same test sets (the run's problem, ``extra_test_distributions``, ``final_eval_size`` and ``test_seed``) and
everything else of ``results.json`` unchanged, plus ``eval_precision``. Publish afterwards as usual.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from linalg_transformers.evaluation import load_model
from linalg_transformers.problems import get_problem
from linalg_transformers.record import TrainingOutput

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
import train  # noqa: E402


def rescore(run_dir: str | Path) -> str:
    """Re-evaluate `run_dir` in float32 on the CPU and rewrite its results.

    Args:
        run_dir (`str` or `Path`): A finished training output directory.

    Returns:
        `str`: The accuracy table (Markdown), as written to ``results.md``.

    Raises:
        ValueError: if `run_dir` is not a finished training output.
    """
    output = TrainingOutput.load(run_dir)
    args, results = output.training_args, output.results
    model, tokenizer = load_model(output.path)  # float32, unwrapped
    rows = train.final_test_rows(
        model,
        tokenizer,
        get_problem(results["problem"]),
        args.get("extra_test_distributions"),
        size=int(results["test_size"]),
        seed=args.get("test_seed"),
        batch_size=int(args.get("per_device_eval_batch_size") or 256),
    )
    info = {k: v for k, v in results.items() if k != "test_sets"}
    info["eval_precision"] = train.FINAL_EVAL_PRECISION
    return train.write_results(output.path, rows, info)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``rescore_run.py RUN_DIR``; a bad folder is a one-line error with exit code 2."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a finished training output directory (training/train.py's output_dir)")
    args = parser.parse_args(argv)
    try:
        table = rescore(args.run_dir)
    except ValueError as err:
        parser.error(str(err))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
