"""Which output entries a model gets right: the share of each entry within a tolerance, by position in the output.

Usage: python scripts/entry_accuracy.py MODEL [--size 200] [--tolerance 0.05]

The paper's check scores whole matrices, so a model that gets 77% of the entries right scores 0%. For problems
whose target is compared entry by entry (transposition, addition, products), this greedy-decodes the first
``--size`` problems of the model's fixed test set (seed 2022; the problem is the one recorded in the model's
``config.training_problem``) and prints, for each entry of the target (row-major, as the output writes them), the
share of problems where the predicted entry is within ``tolerance`` of the exact one (relative to that entry), and the
share of whole matrices that are. An answer of the wrong shape counts every entry wrong. Used for the few-shot
retraining report of ``linalg/transpose-p1000`` (its card).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

from linalg_transformers.evaluation import generate_matrices, load_model
from linalg_transformers.problems import get_problem, test_set


@dataclass(frozen=True)
class EntryAccuracy:
    """Entry-by-entry correctness of a model's answers.

    Attributes:
        per_entry (`np.ndarray` of shape `(rows, cols)`): Share of problems with that target entry within tolerance.
        whole (`float`): Share of problems with every entry within tolerance.
    """

    per_entry: np.ndarray
    whole: float


def entry_accuracy(predictions: list[np.ndarray | None], targets: np.ndarray, tolerance: float) -> EntryAccuracy:
    """Score predictions entry by entry against exact targets.

    Args:
        predictions (`list[np.ndarray | None]`): One decoded answer per problem (`None`: not well formed).
        targets (`np.ndarray` of shape `(n, rows, cols)`): The exact solutions.
        tolerance (`float`): Relative tolerance per entry (``|p - t| <= tolerance * |t|``).

    Returns:
        `EntryAccuracy`: per-entry and whole-matrix shares.
    """
    if targets.ndim != 3 or len(predictions) != len(targets):
        raise ValueError(
            f"need one prediction per target of shape (n, rows, cols); got {len(predictions)} and {targets.shape}"
        )
    ok = np.zeros(targets.shape, dtype=bool)
    for i, (p, t) in enumerate(zip(predictions, targets)):
        if p is not None and p.shape == t.shape:
            ok[i] = np.abs(p - t) <= tolerance * np.abs(t)
    return EntryAccuracy(per_entry=ok.mean(axis=0), whole=float(ok.all(axis=(1, 2)).mean()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a model folder or Hub id")
    parser.add_argument("--size", type=int, default=200, help="test problems (the first of the fixed test set)")
    parser.add_argument("--tolerance", type=float, default=0.05, help="relative tolerance per entry")
    args = parser.parse_args(argv)
    if args.size < 1 or not args.tolerance > 0:
        print("entry_accuracy: --size must be >= 1 and --tolerance > 0", file=sys.stderr)
        return 2
    model, tokenizer = load_model(args.model)
    spec = getattr(model.config, "training_problem", None)
    if not spec:
        print(f"entry_accuracy: {args.model} records no training_problem in its config", file=sys.stderr)
        return 2
    problem = get_problem({k: v for k, v in spec.items() if k not in ("input_encoding", "output_encoding")})
    data = test_set(problem, size=args.size)
    targets = np.asarray(data.targets)
    if targets.dtype == object or targets.ndim != 3:
        print(f"entry_accuracy: {problem.name} targets differ in shape; give a problem of one size", file=sys.stderr)
        return 2
    predictions = [answers[0] for answers in generate_matrices(model, tokenizer, data.inputs, tasks=data.tasks)]
    result = entry_accuracy(predictions, targets, args.tolerance)
    flat = result.per_entry.ravel()
    print(f"{args.model}: {problem.name}, {args.size} test problems, tolerance {args.tolerance:g} per entry")
    print(np.array2string(result.per_entry, precision=2, floatmode="fixed", max_line_width=200))
    print(f"entries within tolerance: {flat.mean():.3f}; whole matrices: {result.whole:.3f}")
    quarter = max(1, flat.size // 4)
    print(f"first {quarter} entries written: {flat[:quarter].mean():.3f}; the rest: {flat[quarter:].mean():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
