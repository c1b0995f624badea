"""Throughput of problem generation and checking, on one core; optionally rounding ceilings and rejection rates.

Usage:
    python benchmarks/bench_problems.py                  # generation + encoding, checking (a few seconds)
    python benchmarks/bench_problems.py --ceilings       # + rounding ceilings on the 10,000-example test sets (~1 min)
    python benchmarks/bench_problems.py --rejections     # + rejection rates over 100,000 draws (~20 s)

Generation: `problem.generate(n, seed)` then the input and output encodings' `encode_batch` (matrices -> symbol ids,
per shape group), in examples per second. Checking: `problem.relative_errors` on 10,000 predictions given as a list
of arrays (what decoding returns). BLAS and OpenMP are limited to one thread, so figures are per core.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

from linalg_transformers.encodings import get_encoding  # noqa: E402
from linalg_transformers.problems import available_problems, get_problem, rounding_ceiling  # noqa: E402
from linalg_transformers.scoring import TOLERANCES, tolerance_label  # noqa: E402
from linalg_transformers.verification import shape_groups  # noqa: E402


def encode_all(matrices, encoding) -> int:
    """Encode a batch (array or list) to symbol ids, one `encode_batch` per shape; returns the symbol count."""
    return sum(int(encoding.encode_batch(x).lengths.sum()) for _, _, x in shape_groups(matrices))


def throughput(args: argparse.Namespace) -> None:
    enc_in, enc_out = get_encoding(args.input_encoding), get_encoding(args.output_encoding)
    print(f"Generation + encoding ({args.input_encoding} -> {args.output_encoding}) and checking, one core\n")
    print(
        "| problem | dim | generate (ex/s) | generate + encode to ids (ex/s) | rejected | check 10k predictions (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name in available_problems():
        for dim in (5, 10):
            problem = get_problem(name, dim=dim)
            n = args.examples if dim == 5 else args.examples // 4
            problem.generate(64, seed=0)  # warm-up
            start = time.perf_counter()
            batch = problem.generate(n, seed=[0, 0, 0, 1])
            generated = time.perf_counter()
            encode_all(batch.inputs, enc_in)
            encode_all(batch.targets, enc_out)
            encoded = time.perf_counter()
            k = min(10_000, n)
            inputs = batch.inputs[:k]
            predictions = list(batch.targets[:k])
            tasks = batch.tasks[:k] if batch.tasks else None
            start_check = time.perf_counter()
            errors = problem.score(inputs, predictions, tasks=tasks).errors
            checked = time.perf_counter() - start_check
            assert (errors < TOLERANCES[-1]).all()
            cells = [
                f"{n / (generated - start):,.0f}",
                f"{n / (encoded - start):,.0f}",
                f"{100 * batch.rejection_rate:.3f}%",
                f"{checked * 10_000 / k:.3f}",
            ]
            print(f"| {name} | {dim}x{dim} | " + " | ".join(cells) + " |")


def ceilings(args: argparse.Namespace) -> None:
    print(f"\nRounding ceilings: exact solution in {args.output_encoding} vs input in {args.input_encoding},")
    print("10,000-example test sets; accuracy (%) at each tolerance\n")
    print("| problem | dim | " + " | ".join(tolerance_label(t) for t in TOLERANCES) + " |")
    print("|---|---:|" + "---:|" * len(TOLERANCES))
    for name in available_problems():
        for dim in (5, 10):
            acc = rounding_ceiling(get_problem(name, dim=dim), args.input_encoding, args.output_encoding).accuracy
            cells = [f"{100 * acc[t]:.2f}" for t in TOLERANCES]
            print(f"| {name} | {dim}x{dim} | " + " | ".join(cells) + " |")


def rejections() -> None:
    cases = [("inverse", {"dim": d}) for d in (2, 5, 10)]
    cases += [("sym_inverse", {"dim": 5, "eigen_distribution": d}) for d in ("semicircle", "positive", "marcenko")]
    cases += [("sym_inverse", {"dim": 10, "eigen_distribution": "marcenko"})]
    cases += [(n, {"dim": 5}) for n in ("eigenvalues", "eigenvectors", "svd", "matmul")]
    cases += [("matmul", {"dim": 5, "coeff_range": 2e4})]
    print("\nRejection rates over 100,000 draws (seed 1)\n")
    print("| problem | options | rejected |")
    print("|---|---|---:|")
    for name, opts in cases:
        batch = get_problem(name, **opts).generate(100_000, seed=1)
        print(f"| {name} | {opts} | {batch.rejected} ({100 * batch.rejection_rate:.3f}%) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000, help="5x5 examples generated (a quarter at 10x10)")
    parser.add_argument("--input-encoding", default="FP15")
    parser.add_argument("--output-encoding", default="P1000")
    parser.add_argument("--ceilings", action="store_true", help="also measure rounding ceilings")
    parser.add_argument("--rejections", action="store_true", help="also measure rejection rates")
    args = parser.parse_args()
    throughput(args)
    if args.ceilings:
        ceilings(args)
    if args.rejections:
        rejections()


if __name__ == "__main__":
    main()
