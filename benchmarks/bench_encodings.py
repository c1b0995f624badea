"""Encode and decode throughput of every number encoding (numbers per second), batched and vectorized.

Usage: python benchmarks/bench_encodings.py [--batch 10000] [--dim 5]

Encodes `batch` random dim x dim matrices (coefficients uniform in [-10, 10], the paper's default) to symbol ids
with `encode_batch`, decodes them back with `decode_batch`, and the same through the tokenizer (`encode_matrices`,
`decode_matrices`: matrices to vocabulary ids and back). Prints the best of 3 runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from linalg_transformers.encodings import get_encoding
from linalg_transformers.tokenization_matrix import MatrixTokenizer


def best_of(fn, *args, repeats: int = 3, **kwargs) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=5)
    args = parser.parse_args()
    x = np.random.default_rng(0).uniform(-10, 10, (args.batch, args.dim, args.dim))
    n = x.size
    print(f"{args.batch:,} matrices of {args.dim}x{args.dim} ({n:,} numbers), best of 3\n")
    print(
        "| encoding | encode (numbers/s) | decode (numbers/s) "
        "| tokenizer encode (matrices/s) | tokenizer decode (matrices/s) |"
    )
    print("|---|---:|---:|---:|---:|")
    for name in ["P10", "P1000", "B1999", "FP15"]:
        enc = get_encoding(name)
        encoded = enc.encode_batch(x)
        t_enc = best_of(enc.encode_batch, x)
        t_dec = best_of(enc.decode_batch, encoded.symbols, encoded.lengths)
        tok = MatrixTokenizer(input_encoding=name, output_encoding=name)
        ids, _ = tok.encode_matrices(x, side="output")
        t_tenc = best_of(tok.encode_matrices, x, side="output")
        t_tdec = best_of(tok.decode_matrices, ids)
        cells = [n / t_enc, n / t_dec, args.batch / t_tenc, args.batch / t_tdec]
        print(f"| {name} | " + " | ".join(f"{c:,.0f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
