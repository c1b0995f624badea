"""What the number-aware loss costs per training step: cross-entropy alone against cross-entropy plus the term.

Usage:
    python benchmarks/bench_number_loss.py [--steps 20] [--batch 128] [--d-model 256] [--output-encoding P1000]

One training step is forward, backward and an AdamW step of a `MatrixSeq2Seq` model on 5x5 eigenvalue batches (FP15
in; the release's shape by default: 256-d, 4/1 layers), exactly as `Trainer` runs it but without the data pipeline.
The arms (cross-entropy alone, + the Wasserstein term, + the soft-target term) take turns step by step on the same
batches, so that a machine busy with other jobs slows them alike; the table gives the median step time of each and
its overhead over cross-entropy alone, plus the term's own forward and backward time on the step's logits.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from linalg_transformers import MatrixSeq2SeqConfig, MatrixSeq2SeqForConditionalGeneration, MatrixTokenizer
from linalg_transformers.data import MatrixDataCollator, ProblemStream
from linalg_transformers.number_loss import NumberTokenLoss
from linalg_transformers.problems import get_problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per arm (default 20)")
    parser.add_argument("--batch", type=int, default=128, help="examples per step (default 128)")
    parser.add_argument("--d-model", type=int, default=256, help="model width (default 256)")
    parser.add_argument("--encoder-layers", type=int, default=4, help="encoder layers (default 4)")
    parser.add_argument("--output-encoding", default="P1000", help="P10, P1000, B1999 or FP15 (default P1000)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    tok = MatrixTokenizer(input_encoding="FP15", output_encoding=args.output_encoding)
    config = MatrixSeq2SeqConfig(
        vocab_size=tok.vocab_size,
        decoder_vocab_size=tok.output_vocab_size,
        d_model=args.d_model,
        encoder_layers=args.encoder_layers,
        decoder_layers=1,
        normalize_before=True,
        max_position_embeddings=128,
    )
    model = MatrixSeq2SeqForConditionalGeneration(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    stream = iter(ProblemStream(get_problem("eigenvalues", dim=5), tok, seed=0, chunk_size=4096))
    collate = MatrixDataCollator(tok.pad_token_id)
    arms = {
        "cross-entropy": None,
        "+ wasserstein (weight 0.3)": NumberTokenLoss(tok, weight=0.3),
        "+ soft targets (weight 0.3, width 0.02)": NumberTokenLoss(tok, weight=0.3, kind="soft"),
    }
    times: dict[str, list[float]] = {name: [] for name in arms}
    term_times: dict[str, list[float]] = {name: [] for name in arms if arms[name] is not None}
    for step in range(args.steps + 2):  # two warm-up rounds
        batch = collate([next(stream) for _ in range(args.batch)])
        items = int((batch["labels"] != -100).sum())
        for name, number_loss in arms.items():
            started = time.perf_counter()
            out = model(**batch, num_items_in_batch=items)
            loss = out.loss
            if number_loss is not None:
                loss = loss + number_loss(out.logits, batch["labels"], items, step=step)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if step >= 2:
                times[name].append(time.perf_counter() - started)
            if number_loss is not None and step >= 2:  # the term alone, on fresh logits
                logits = out.logits.detach().requires_grad_(True)
                started = time.perf_counter()
                number_loss(logits, batch["labels"], items, step=step).backward()
                term_times[name].append(time.perf_counter() - started)
    base = statistics.median(times["cross-entropy"])
    print(
        f"{args.d_model}-d {args.encoder_layers}/1, batch {args.batch}, FP15 -> {args.output_encoding} "
        f"({tok.output_vocab_size} output tokens), {args.steps} steps per arm, {torch.get_num_threads()} threads\n"
    )
    print("| arm | median step (s) | overhead | the term alone, forward + backward (s) |")
    print("|---|---:|---:|---:|")
    for name, values in times.items():
        step_time = statistics.median(values)
        term = f"{statistics.median(term_times[name]):.4f}" if name in term_times else "-"
        print(f"| {name} | {step_time:.3f} | {100 * (step_time / base - 1):+.1f}% | {term} |")


if __name__ == "__main__":
    main()
