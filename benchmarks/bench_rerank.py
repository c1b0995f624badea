"""How much ``verify_rerank`` raises accuracy: a model on its problem's fixed test set, through its pipeline.

Usage:
    python benchmarks/bench_rerank.py --model runs/inverse [--problem inverse] [--size 1000] [--num-beams 4]

Three rows, each the share of test problems whose answer passes the problem's own check at 5%, 2%, 1% and 0.5%:
greedy decoding (the paper's evaluation), the top beam of a beam search of ``--num-beams``, and ``verify_rerank=True``
(the beam candidate the pipeline ranks best). The pipeline reads the test inputs rounded to the model's input
encoding (what `evaluate_model` checks against), so the greedy row is the model's usual accuracy. The problem and its
options default to the model's ``config.training_problem``.

Reranking helps most where the answer is checked by a property (eigenvectors, inversion, SVD) or compared with a cheap
exact answer: the candidate with the lowest check error is kept. Eigenvalues and singular values have neither, so the
pipeline ranks them by the trace and Frobenius invariants (``consistency``), never by numpy's answer (necessary
conditions, not sufficient ones). Beam search costs ``--num-beams`` times the greedy compute.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from transformers import AutoConfig, pipeline

from linalg_transformers.cli.problems import NOT_PROBLEM_OPTIONS
from linalg_transformers.hub.remote_code import pipeline_tasks_for
from linalg_transformers.pipeline_matrix import DEFAULT_RERANK_BEAMS, PIPELINES
from linalg_transformers.problems import get_problem, test_set
from linalg_transformers.problems.test_sets import round_matrices
from linalg_transformers.scoring import TOLERANCES, accuracy_key, format_accuracy_table, tolerance_label


def task_for(problem_name: str) -> str:
    """The pipeline task serving a problem (the class whose ``problems`` lists it, as `pipeline_tasks_for` finds)."""
    tasks = pipeline_tasks_for(problem_name)
    if not tasks:
        raise ValueError(f"no pipeline serves problem {problem_name!r}")
    return tasks[0]


def accuracy(outputs: list[dict[str, Any]]) -> dict[str, float]:
    """Accuracy at each tolerance and the share well formed, from the pipeline's verification fields."""
    row = {accuracy_key(t): float(np.mean([o["correct_at"][tolerance_label(t)] for o in outputs])) for t in TOLERANCES}
    row["well_formed"] = float(np.mean([o["valid"] for o in outputs]))
    return row


def measure_rerank(
    model: str,
    problem: str | None = None,
    size: int = 1000,
    num_beams: int = DEFAULT_RERANK_BEAMS,
    batch_size: int = 64,
) -> dict[str, dict[str, float]]:
    """Accuracy of a model with greedy decoding, beam search (top beam) and ``verify_rerank``.

    Args:
        model (`str`): Model folder or Hub id.
        problem (`str`, *optional*): Problem name; defaults to the model's training problem. Options (dim,
            coeff_range, ...) come from ``config.training_problem`` when it names the same problem.
        size (`int`, *optional*, defaults to 1000): First problems of the fixed test set.
        num_beams (`int`, *optional*, defaults to `DEFAULT_RERANK_BEAMS`): Beam width and rerank candidates (>= 2).
        batch_size (`int`, *optional*, defaults to 64): Matrices per `generate()` call.

    Returns:
        `dict`: row label -> accuracy dict (``accuracy@0.05`` ... ``accuracy@0.005``, ``well_formed``,
        ``seconds``).
    """
    trained = AutoConfig.from_pretrained(model).training_problem or {}
    name = problem or trained.get("name")
    if name is None:
        raise ValueError(f"{model} records no training problem: pass --problem")
    options = {k: v for k, v in trained.items() if k not in NOT_PROBLEM_OPTIONS}
    prob = get_problem(name, **(options if trained.get("name") == name else {}))
    task = task_for(prob.name)
    solver = pipeline(task, model=model, pipeline_class=PIPELINES[task])
    inputs = list(round_matrices(test_set(prob, size=size).inputs, solver.tokenizer.input_encoding))  # a batch
    runs = {
        "greedy": {},
        f"beam search, top beam (num_beams={num_beams})": {"num_beams": num_beams},
        f"verify_rerank (num_beams={num_beams})": {"num_beams": num_beams, "verify_rerank": True},
    }
    rows = {}
    for label, options in runs.items():
        start = time.perf_counter()
        outputs = solver(inputs, batch_size=batch_size, **options)
        rows[label] = {**accuracy(outputs), "seconds": time.perf_counter() - start}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model folder or Hub id")
    parser.add_argument("--problem", help="problem name (default: the model's training problem)")
    parser.add_argument("--size", type=int, default=1000, help="test problems (default 1000)")
    parser.add_argument("--num-beams", type=int, default=DEFAULT_RERANK_BEAMS, help="beams and rerank candidates")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    rows = measure_rerank(args.model, args.problem, args.size, args.num_beams, args.batch_size)
    print(f"{args.model}: {args.size} test problems\n")
    print(format_accuracy_table(rows))
    for label, row in rows.items():
        print(f"{label}: {row['seconds']:.1f} s")


if __name__ == "__main__":
    main()
