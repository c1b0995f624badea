"""The cost of decoding within the output grammar, with and without beams, on a released model.

Usage: python benchmarks/bench_grammar.py [--model linalg/eigen-p1000] [--n 512] [--beams 1,4] [--repeats 2]

`MatrixGrammarLogitsProcessor` (`linalg_transformers.grammar`) runs once per generated token: it carries each row's
automaton state from the previous step (beam search reorders rows, so it finds each row's parent by its prefix) and
masks the logits with one lookup in a table of masks. This script times `evaluate_model` on `--n` problems of the
model's own distribution (drawn with seed 0, 5x5 Wigner matrices for eigen-p1000) with ``decoding="greedy"`` and
``decoding="grammar"`` at each beam size of `--beams`, batch 256, float32, and prints matrices/s, the grammar's
cost as a ratio to greedy at the same beam size, and both decodings' accuracy at 5% and share of well-formed
answers. The fastest of `--repeats` timed runs counts (`hardware.best_time`), after one untimed run.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import partial

import torch

from linalg_transformers.cli.problems import NOT_PROBLEM_OPTIONS
from linalg_transformers.evaluation import evaluate_model, load_model
from linalg_transformers.hardware import best_time, cpu_name, tune_malloc
from linalg_transformers.problems import get_problem


@dataclass(frozen=True)
class Way:
    """One timed way of decoding.

    Attributes:
        num_beams (`int`): Beam size.
        decoding (`str`): ``"greedy"`` or ``"grammar"``.
        matrices_per_s (`float`): Problems solved per second (the fastest run).
        accuracy_at_5 (`float`): Share of answers within 5%.
        well_formed (`float`): Share of well-formed answers.
    """

    num_beams: int
    decoding: str
    matrices_per_s: float
    accuracy_at_5: float
    well_formed: float


def measure_grammar(model_name: str, n: int, beams: list[int], repeats: int, batch_size: int = 256) -> list[Way]:
    """Time greedy and grammar decoding of `n` problems of the model's training distribution at each beam size.

    Args:
        model_name (`str`): A model folder or Hub id; its config must record its training problem.
        n (`int`): Problems (drawn with seed 0).
        beams (`list[int]`): Beam sizes.
        repeats (`int`): Timed runs per way, after one untimed; the fastest counts.
        batch_size (`int`, *optional*, defaults to 256): Problems per `generate()` call.

    Returns:
        `list[Way]`: greedy then grammar, for each beam size in order.

    Raises:
        ValueError: for a non-positive count or beam size, or a model that records no training problem.
    """
    if n < 1 or repeats < 1 or not beams or min(beams) < 1:
        raise ValueError("the problem count, the repeats and every beam size must be positive integers")
    model, tokenizer = load_model(model_name)
    trained_on = getattr(model.config, "training_problem", None)
    if not trained_on:
        raise ValueError(f"model {model_name!r} records no training problem (config.training_problem)")
    problem = get_problem(trained_on["name"], **{k: v for k, v in trained_on.items() if k not in NOT_PROBLEM_OPTIONS})
    inputs = problem.generate(n, seed=0).inputs
    ways = []
    for num_beams in beams:
        for decoding in ("greedy", "grammar"):
            run = partial(
                evaluate_model, model, tokenizer, problem, inputs, batch_size=batch_size, num_beams=num_beams,
                decoding=decoding,
            )  # fmt: skip
            metrics = run().metrics
            seconds = best_time(run, repeats=repeats, warmup=0)
            ways.append(Way(num_beams, decoding, n / seconds, metrics["accuracy@0.05"], metrics["well_formed"]))
    return ways


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="linalg/eigen-p1000", help="a model folder or Hub id (eigenvalues)")
    parser.add_argument("--n", type=int, default=512, help="problems per run")
    parser.add_argument("--beams", default="1,4", help="comma-separated beam sizes")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per way (the fastest counts)")
    args = parser.parse_args()
    tune_malloc()
    beams = [int(b) for b in args.beams.split(",") if b.strip()]
    print(f"CPU: {cpu_name()}; torch threads: {torch.get_num_threads()}; model {args.model}")
    print(f"{args.n} problems (seed 0), batch 256, float32, fastest of {args.repeats} runs after one untimed\n")
    print("| beams | decoding | matrices/s | grammar / greedy time | accuracy at 5% | well formed |")
    print("|---:|---|---:|---:|---:|---:|")
    greedy: dict[int, float] = {}
    for way in measure_grammar(args.model, args.n, beams, args.repeats):
        if way.decoding == "greedy":
            greedy[way.num_beams] = way.matrices_per_s
        ratio = f"{greedy[way.num_beams] / way.matrices_per_s:.2f}x" if way.decoding == "grammar" else ""
        print(
            f"| {way.num_beams} | {way.decoding} | {way.matrices_per_s:.1f} | {ratio} "
            f"| {100 * way.accuracy_at_5:.2f}% | {100 * way.well_formed:.2f}% |",
            flush=True,
        )


if __name__ == "__main__":
    main()
