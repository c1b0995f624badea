"""Model throughput on this machine: inference (matrices/s) and training steps (examples/s, FLOP/s).

Usage: `python benchmarks/bench_model.py [--quick] [--threads N] [--no-malloc-tuning]`

What it measures, with random weights (speed does not depend on them):

1. Matmul peak: a 2048^3 matmul in bf16 and in fp32 (`hardware.matmul_peak`: 512^3 where the dtype is emulated),
   the yardsticks for "fraction of peak".
2. Inference for 5x5 eigenvalues shapes: FP15 input (27 tokens incl. the header, +1 EOS), P1000 output (17 tokens +
   EOS, forced to full length), vocabulary ~30.4k with the decoder's ~1.3k output tokens first. Two sizes: the paper's
   eigenvalue model (512-d, 6/1 layers, 8 heads) and a CPU-sized one (256-d, 4/1). Greedy `generate()`, batch 1 and
   256, fp32 and bf16 autocast, with and without the KV cache; next to numpy `eigvalsh` on as many matrices.
3. Training steps (forward, backward, fused Adam) for the paper's eigenvalue configuration (FP15 in and out,
   vocabulary ~29.1k on both sides, 512-d, 6/1 layers, batch 64) in fp32 and bf16 autocast, and for the CPU-sized
   P1000-output model at batch 256. Achieved FLOP/s counts the matmul FLOPs of forward and backward (3x forward).

`--no-malloc-tuning` keeps glibc's default allocator settings. By default the script raises glibc's mmap and trim
thresholds (see `tune_malloc`): without it, every large activation or gradient is a fresh mmap whose first touch
page-faults, which costs a large share of a CPU training step.
"""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial

import numpy as np
import torch

from linalg_transformers.configuration_matrix_seq2seq import MatrixSeq2SeqConfig
from linalg_transformers.hardware import best_time, matmul_peak, tune_malloc
from linalg_transformers.modeling_matrix_seq2seq import MatrixSeq2SeqForConditionalGeneration

SRC_LEN = 28  # 5x5 FP15 input: V5 V5 + 25 numbers, plus EOS
OUT_TOKENS = 18  # 5 eigenvalues in P1000 (V5 V1 + 5 x 3 tokens), plus EOS
FP15_TGT_LEN = 8  # 5 eigenvalues in FP15 (V5 V1 + 5 tokens), plus EOS
VOCAB_INPUT = 30_420  # FP15 input + P1000 output vocabulary
VOCAB_OUTPUT_P1000 = 1_320
VOCAB_FP15 = 29_130  # FP15 in and out (the paper's eigenvalue runs)


def forward_flops(config: MatrixSeq2SeqConfig, src_len: int, tgt_len: int) -> float:
    """Matmul FLOPs of one forward pass of one example (projections, attention, output layer)."""
    d, dd = config.d_model, config.decoder_d_model
    enc_layer = src_len * 2 * (4 * d * d + 2 * d * config.encoder_ffn_dim) + 4 * src_len * src_len * d
    dec_layer = tgt_len * 2 * (6 * dd * dd + 2 * dd * config.decoder_ffn_dim) + 4 * tgt_len * (tgt_len + src_len) * dd
    cross_kv = src_len * 2 * d * 2 * dd  # once per decoder layer, shared by the loops
    head = tgt_len * 2 * dd * config.decoder_vocab_size
    return (
        enc_layer * config.encoder_layers * config.encoder_loops
        + dec_layer * config.decoder_layers * config.decoder_loops
        + cross_kv * config.decoder_layers
        + head
    )


def make_model(config: MatrixSeq2SeqConfig) -> MatrixSeq2SeqForConditionalGeneration:
    torch.manual_seed(0)
    return MatrixSeq2SeqForConditionalGeneration(config)


def generate_once(
    model: MatrixSeq2SeqForConditionalGeneration, input_ids: torch.Tensor, dtype: str, use_cache: bool
) -> torch.Tensor:
    """Greedy decoding of OUT_TOKENS tokens (forced: random weights would stop at a random EOS)."""
    with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=dtype == "bf16"):
        return model.generate(
            input_ids,
            max_new_tokens=OUT_TOKENS,
            min_new_tokens=OUT_TOKENS,
            use_cache=use_cache,
            do_sample=False,
            num_beams=1,
        )


def train_step(
    model: MatrixSeq2SeqForConditionalGeneration,
    optimizer: torch.optim.Optimizer,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    dtype: str,
) -> None:
    with torch.autocast("cpu", torch.bfloat16, enabled=dtype == "bf16"):
        loss = model(input_ids=input_ids, labels=labels).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def inference_rows(quick: bool) -> list[tuple]:
    sizes = {
        "paper 512-d 6/1": {"d_model": 512, "encoder_layers": 6, "decoder_layers": 1},
        "cpu 256-d 4/1": {"d_model": 256, "encoder_layers": 4, "decoder_layers": 1},
    }
    rows = []
    rng = np.random.default_rng(0)
    for name, size in sizes.items():
        config = MatrixSeq2SeqConfig(
            vocab_size=VOCAB_INPUT, decoder_vocab_size=VOCAB_OUTPUT_P1000, max_position_embeddings=256, **size
        )
        model = make_model(config).eval()
        for batch in (1, 256):
            input_ids = torch.randint(3, VOCAB_INPUT, (batch, SRC_LEN))
            matrices = rng.standard_normal((batch, 5, 5))
            matrices = matrices + matrices.transpose(0, 2, 1)
            numpy_input = matrices[0] if batch == 1 else matrices
            numpy_time = best_time(partial(np.linalg.eigvalsh, numpy_input), 200 if batch == 1 else 20)
            for dtype in ("fp32", "bf16"):
                for use_cache in (True, False):
                    if quick and batch == 256 and not use_cache:
                        continue
                    run = partial(generate_once, model, input_ids, dtype, use_cache)
                    assert run().shape == (batch, OUT_TOKENS + 1)
                    seconds = best_time(run, repeats=1 if quick else (3 if batch == 1 else 2), warmup=0)
                    rows.append(
                        (name, batch, dtype, "yes" if use_cache else "no", batch / seconds, batch / numpy_time)
                    )
                    print(f"  {name:<16} batch {batch:>3} {dtype} cache={rows[-1][3]:<3} {batch / seconds:>9.1f} "
                          "matrices/s", flush=True)  # fmt: skip
    return rows


def training_rows(quick: bool, peaks: dict[str, float]) -> list[tuple]:
    paper = MatrixSeq2SeqConfig(
        vocab_size=VOCAB_FP15, d_model=512, encoder_layers=6, decoder_layers=1, max_position_embeddings=256
    )
    cpu = MatrixSeq2SeqConfig(
        vocab_size=VOCAB_INPUT,
        decoder_vocab_size=VOCAB_OUTPUT_P1000,
        d_model=256,
        encoder_layers=4,
        decoder_layers=1,
        max_position_embeddings=256,
    )
    setups = {
        "paper eigen FP15/FP15 512-d 6/1 b64": (paper, 64, FP15_TGT_LEN),
        "cpu eigen FP15/P1000 256-d 4/1 b256": (cpu, 256, OUT_TOKENS),
    }
    rows = []
    for name, (config, batch, tgt_len) in setups.items():
        model = make_model(config).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
        input_ids = torch.randint(3, config.vocab_size, (batch, SRC_LEN))
        labels = torch.randint(3, config.decoder_vocab_size, (batch, tgt_len))
        flops = 3 * forward_flops(config, SRC_LEN, tgt_len) * batch
        for dtype in ("fp32", "bf16"):
            step = partial(train_step, model, optimizer, input_ids, labels, dtype)
            seconds = best_time(step, repeats=2 if quick else 5, warmup=2)
            achieved = flops / seconds / 1e12
            rows.append((name, dtype, batch / seconds, achieved, achieved / peaks["bf16"], achieved / peaks["fp32"]))
            print(f"  {name:<36} {dtype} {batch / seconds:>7.1f} examples/s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats; skip uncached batch-256 decoding")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-malloc-tuning", action="store_true", help="keep glibc's default allocator settings")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tuned = False if args.no_malloc_tuning else tune_malloc()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, malloc tuning {'on' if tuned else 'off'}"
    )

    measured = {"bf16": matmul_peak(torch.bfloat16), "fp32": matmul_peak(torch.float32)}  # each within about 20 s
    peaks = {name: peak.flops / 1e12 for name, peak in measured.items()}  # TFLOP/s
    print(", ".join(f"matmul {name} {peaks[name]:.2f} TFLOP/s ({p.label})" for name, p in measured.items()) + "\n")

    print("inference (greedy generate, 5x5 eigenvalues shapes):")
    inference = inference_rows(args.quick)
    print("\ntraining steps (forward + backward + fused Adam):")
    training = training_rows(args.quick, peaks)

    print("\n| model | batch | dtype | KV cache | matrices/s | numpy eigvalsh matrices/s |")
    print("|---|---:|---|---|---:|---:|")
    for name, batch, dtype, cache, rate, numpy_rate in inference:
        print(f"| {name} | {batch} | {dtype} | {cache} | {rate:,.1f} | {numpy_rate:,.0f} |")
    print(f"\n| training setup | dtype | examples/s | TFLOP/s | of bf16 peak ({peaks['bf16']:.2f}) | "
          f"of fp32 peak ({peaks['fp32']:.2f}) |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|")
    for name, dtype, rate, achieved, of_bf16, of_fp32 in training:
        print(f"| {name} | {dtype} | {rate:,.1f} | {achieved:.3f} | {of_bf16:.0%} | {of_fp32:.0%} |")
    print(
        "\nreference trainer (LAWT), paper eigenvalue setup, fp32, a Xeon with AMX: 47 examples/s"
        " (docs/training.md#throughput)"
    )


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
