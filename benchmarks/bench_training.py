"""Training throughput with the real data pipeline, and the gain of the package's training step over a plain loop.

Usage: python benchmarks/bench_training.py [--steps 8] [--quick] [--no-trainer] [--phases]
       python benchmarks/bench_training.py --drift N [--flush-denormal]

For three configurations (the paper's 5x5 eigenvalue model: FP15 in and out, 512-d, 6/1 layers, batch 64; the
eigen-p1000 release model: FP15 in, P1000 out, 256-d, 4/1 layers, batch 64; the main job's demo model: 5x5
transposition, P1000, 128-d, 1/1 layers, batch 64), runs optimizer steps on batches from `ProblemStream` through a
`DataLoader` and `MatrixDataCollator`, exactly as `training/train.py` feeds them, in several ways:

* **plain**: what a plain eager PyTorch loop gets by default: fp32, torch's fused attention kernel (SDPA), and
  `torch.optim.AdamW` with its CPU default (one tensor at a time);
* **fp32 / bf16 x sdpa / eager**, with the fused AdamW `training/train.py` uses (the Trainer's ``adamw_torch_fused``);
* **bf16 weights**: the model itself in bf16 with float32 master copies in the optimizer (`MasterWeights`), instead
  of bf16 autocast over float32 weights; measured, not adopted;
* **package**: the precision and attention kernel `training/train.py` chooses on this machine (``mixed_precision:
  auto`` and ``attention: auto``, `linalg_transformers.hardware`).

It prints examples/s, tokens/s, achieved FLOP/s as a share of this CPU's measured 2048^3 bf16 and fp32 matmul
peaks (512^3 where a dtype is emulated and the large product would take minutes: `hardware.matmul_peak`), the
share of each step spent waiting for data, and the ratios: package / plain, and for the paper's configuration
package / the reference trainer (LAWT's own `train.py` on the same configuration: 37 to 47 examples/s in fp32,
measured on a two-core Xeon with AMX, 2026-12-01; docs/training.md#throughput). Unless ``--no-trainer``, it also
runs `training/train.py` itself on the demo config for 150 steps and prints the Trainer's examples/s next to the plain
loop's, so that the whole training path (Trainer, callbacks, logging) is measured, not only the step.

``--phases`` instead times the parts of the package way's step (`PHASES`: forward, the float32 cross-entropy and its
backward, the model's backward, the optimizer) in milliseconds per step, to show where a step's time goes.
``--drift N`` instead times each 200 steps of N steps of the release model at batch 32 in one process (with
``--flush-denormal``, subnormal floats flushed to zero first, as `training/train.py` does by default), to show whether
a long run keeps its speed.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

import linalg_transformers  # noqa: F401
from linalg_transformers import MatrixSeq2SeqConfig, MatrixSeq2SeqForConditionalGeneration, MatrixTokenizer
from linalg_transformers.data import MatrixDataCollator, ProblemStream
from linalg_transformers.hardware import (
    cpu_name,
    default_attention,
    default_mixed_precision,
    flush_denormals,
    matmul_peak,
    tune_malloc,
)
from linalg_transformers.problems import get_problem
from linalg_transformers.record import read_metrics

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_EXAMPLES_PER_S = (37.0, 47.0)
"""LAWT's own trainer on the paper's eigenvalue configuration, fp32, two cores of a Xeon with AMX (2026-12-01)."""


@dataclass(frozen=True)
class Setup:
    """One benchmarked model and batch.

    Attributes:
        name (`str`): Row label.
        problem (`str`): Problem name (5x5).
        input_encoding (`str`), output_encoding (`str`): The tokenizer's encodings.
        d_model (`int`), encoder_layers (`int`), decoder_layers (`int`), heads (`int`): The model's shape.
        batch (`int`): Examples per step.
    """

    name: str
    problem: str
    input_encoding: str
    output_encoding: str
    d_model: int
    encoder_layers: int
    decoder_layers: int
    heads: int
    batch: int


SETUPS = (
    Setup("paper eigenvalues (FP15->FP15, 512-d 6/1, batch 64)", "eigenvalues", "FP15", "FP15", 512, 6, 1, 8, 64),
    Setup("release eigen-p1000 (FP15->P1000, 256-d 4/1, batch 64)", "eigenvalues", "FP15", "P1000", 256, 4, 1, 8, 64),
    Setup("demo transposition (P1000, 128-d 1/1, batch 64)", "transpose", "P1000", "P1000", 128, 1, 1, 4, 64),
)

WAYS = {
    "plain": ("no", "sdpa", "default"),
    "fp32 sdpa": ("no", "sdpa", "fused"),
    "fp32 eager": ("no", "eager", "fused"),
    "bf16 sdpa": ("bf16", "sdpa", "fused"),
    "bf16 eager": ("bf16", "eager", "fused"),
    "bf16 weights": ("bf16 weights", "eager", "fused"),
}
"""Way name -> (precision, attention kernel, AdamW variant). "bf16 weights" keeps the model itself in bf16 (no
autocast) and float32 master copies in the optimizer (`MasterWeights`): measured, not adopted
(docs/training.md#throughput)."""


def flops_per_example(model: MatrixSeq2SeqForConditionalGeneration, in_len: int, out_len: int) -> float:
    """6 x (non-embedding parameters used per token) x tokens, plus the output layer on the decoder side."""
    cfg = model.config
    enc = sum(p.numel() for n, p in model.named_parameters() if ".encoder.layers" in n)
    dec = sum(p.numel() for n, p in model.named_parameters() if ".decoder.layers" in n)
    head = cfg.decoder_vocab_size * cfg.decoder_d_model
    return 6.0 * (enc * in_len + (dec + head) * out_len)


class MasterWeights:
    """bf16 weights in the model, float32 master copies of them in a fused AdamW: the step of the "bf16 weights" way.

    The model computes in bf16 without autocast (no per-step casts of the weights in its forward); after the backward
    the bf16 gradients are copied into float32 buffers on the master copies, clipped, the masters updated, and the
    model's weights overwritten with them rounded to bf16.

    Args:
        model (`MatrixSeq2SeqForConditionalGeneration`): The float32 model; converted to bf16 in place.
        lr (`float`): AdamW's learning rate.

    Attributes:
        params (`list[torch.nn.Parameter]`): The model's parameters (each once, tied ones included), bf16.
        masters (`list[torch.Tensor]`): Their float32 copies, each of its parameter's shape, what AdamW updates.
        optimizer (`torch.optim.AdamW`): The fused AdamW over `masters`.
    """

    def __init__(self, model: MatrixSeq2SeqForConditionalGeneration, lr: float) -> None:
        self.params = list(model.parameters())
        self.masters = [p.detach().float().clone() for p in self.params]
        self._grads = [torch.empty_like(m) for m in self.masters]
        model.to(torch.bfloat16)  # keeps each Parameter object, so `params` stays the model's
        self.optimizer = torch.optim.AdamW(self.masters, lr=lr, fused=True)

    def step(self) -> None:
        """Gradients to float32, clip to norm 1 (as `_step` does), update the masters, copy them into the model.

        A parameter without a gradient (unused, frozen) leaves its master without one, which AdamW skips.
        """
        for master, param, grad in zip(self.masters, self.params, self._grads, strict=True):
            if param.grad is None:
                master.grad = None
                continue
            master.grad = grad.copy_(param.grad)
            param.grad = None
        torch.nn.utils.clip_grad_norm_(self.masters, 1.0)
        self.optimizer.step()
        with torch.no_grad():
            torch._foreach_copy_(self.params, self.masters)


def _build(
    setup: Setup, attention: str, adamw: str
) -> tuple[MatrixSeq2SeqForConditionalGeneration, torch.optim.Optimizer, Iterator[dict[str, torch.Tensor]]]:
    """The model of `setup` (seed 0) with the `attention` kernel, its AdamW and an iterator over training batches.

    Args:
        setup (`Setup`): The model and batch.
        attention (`str`): "eager" or "sdpa".
        adamw (`str`): "fused" (the Trainer's ``adamw_torch_fused``) or "default" (`torch.optim.AdamW` as is).

    Returns:
        `tuple`: the model in training mode (float32), its optimizer, and batches from `ProblemStream` through the
        collator (`input_ids`, `attention_mask`, `labels`, each of shape `(batch, length)`).
    """
    tok = MatrixTokenizer(input_encoding=setup.input_encoding, output_encoding=setup.output_encoding)
    problem = get_problem(setup.problem, dim=5)
    config = MatrixSeq2SeqConfig(
        vocab_size=tok.vocab_size,
        decoder_vocab_size=tok.output_vocab_size,
        d_model=setup.d_model,
        encoder_layers=setup.encoder_layers,
        decoder_layers=setup.decoder_layers,
        encoder_attention_heads=setup.heads,
        decoder_attention_heads=setup.heads,
        normalize_before=True,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    model = MatrixSeq2SeqForConditionalGeneration(config).train()
    model.set_attn_implementation(attention)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, **({"fused": True} if adamw == "fused" else {}))
    loader = DataLoader(
        ProblemStream(problem, tok, seed=0, chunk_size=4096), batch_size=setup.batch, collate_fn=MatrixDataCollator(2)
    )
    return model, optimizer, iter(loader)


def _step(
    model: MatrixSeq2SeqForConditionalGeneration,
    optimizer: torch.optim.Optimizer | MasterWeights,
    data: dict[str, torch.Tensor],
    precision: str,
) -> None:
    """One optimizer step: forward and loss (under bf16 autocast if `precision` is "bf16"), backward, clip, update.

    Args:
        model (`MatrixSeq2SeqForConditionalGeneration`): The model, in training mode.
        optimizer (`torch.optim.Optimizer` or `MasterWeights`): Its optimizer (`MasterWeights` for "bf16 weights").
        data (`dict[str, torch.Tensor]`): A collated batch, each tensor of shape `(batch, length)`.
        precision (`str`): "bf16" (autocast), "bf16 weights" (a bf16 model, `MasterWeights`) or "no".
    """
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = model(**data).loss
    loss.backward()
    if (precision == "bf16 weights") != isinstance(optimizer, MasterWeights):
        raise ValueError(f"precision {precision!r} needs a MasterWeights optimizer, and only it does")
    if isinstance(optimizer, MasterWeights):  # clips and updates the float32 copies
        optimizer.step()
        return
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def run(setup: Setup, precision: str, attention: str, adamw: str, steps: int) -> dict[str, float]:
    """Examples/s, tokens/s, FLOP/s and data-wait share of `steps` optimizer steps (after two warm-up steps)."""
    model, optimizer, it = _build(setup, attention, adamw)
    if precision == "bf16 weights":
        optimizer = MasterWeights(model, lr=optimizer.param_groups[0]["lr"])
    wait = compute = 0.0
    tokens = 0
    for step in range(steps + 2):
        t0 = time.perf_counter()
        data = next(it)
        t1 = time.perf_counter()
        _step(model, optimizer, data, precision)
        t2 = time.perf_counter()
        if step >= 2:  # warm-up steps excluded
            wait, compute = wait + (t1 - t0), compute + (t2 - t1)
            tokens += int(data["attention_mask"].sum()) + int((data["labels"] != -100).sum())
    total = wait + compute
    in_len, out_len = data["input_ids"].shape[1], data["labels"].shape[1]
    return {
        "examples/s": steps * setup.batch / total,
        "tokens/s": tokens / total,
        "flop/s": flops_per_example(model, in_len, out_len) * steps * setup.batch / total,
        "data wait": wait / total,
    }


PHASES = ("forward", "loss forward", "loss backward", "model backward", "optimizer")
"""The parts of a training step `phase_times` times: the model to its logits (under the precision's autocast), the
float32 cross-entropy from the logits (`loss_from_logits`, as the model computes it), its backward to the logits,
the backward from the logits through the model, and gradient clipping with the optimizer step."""


def phase_times(setup: Setup, precision: str, attention: str, steps: int) -> dict[str, float]:
    """Milliseconds per step spent in each of `PHASES`, over `steps` steps after two warm-up steps (fused AdamW).

    Args:
        setup (`Setup`): The model and batch.
        precision (`str`): "bf16" (autocast) or "no".
        attention (`str`): The attention kernel, "eager" or "sdpa".
        steps (`int`): Timed steps.

    Returns:
        `dict[str, float]`: phase name (`PHASES`) -> mean milliseconds per step.
    """
    model, optimizer, it = _build(setup, attention, "fused")
    totals = dict.fromkeys(PHASES, 0.0)
    for step in range(steps + 2):
        data = next(it)
        decoder_input_ids = model.prepare_decoder_input_ids_from_labels(data["labels"])
        marks = [time.perf_counter()]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = model(
                input_ids=data["input_ids"], attention_mask=data["attention_mask"], decoder_input_ids=decoder_input_ids
            ).logits
        marks.append(time.perf_counter())
        loss = model.loss_from_logits(logits, data["labels"])
        marks.append(time.perf_counter())
        (grad_logits,) = torch.autograd.grad(loss, logits)
        marks.append(time.perf_counter())
        logits.backward(grad_logits)
        marks.append(time.perf_counter())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        marks.append(time.perf_counter())
        if step >= 2:  # warm-up steps excluded
            for name, start, end in zip(PHASES, marks[:-1], marks[1:], strict=True):
                totals[name] += (end - start) * 1000 / steps
    return totals


def interval_times(setup: Setup, precision: str, attention: str, steps: int, every: int = 200) -> list[float]:
    """Seconds taken by each run of `every` optimizer steps, over `steps` steps in this one process (fused AdamW).

    A flat list means the process keeps its speed; a rising one, that something slows it down as training goes on
    (subnormal floats did, until `hardware.flush_denormals`).

    Args:
        setup (`Setup`): The model and batch.
        precision (`str`): "bf16" (autocast) or "no".
        attention (`str`): The attention kernel, "eager" or "sdpa".
        steps (`int`): Optimizer steps in all.
        every (`int`): Steps per timed interval.

    Returns:
        `list[float]`: `steps // every` wall-clock durations in seconds, in order.
    """
    model, optimizer, it = _build(setup, attention, "fused")
    times, start = [], time.perf_counter()
    for step in range(1, steps + 1):
        _step(model, optimizer, next(it), precision)
        if step % every == 0:
            now = time.perf_counter()
            times.append(now - start)
            start = now
    return times


def trainer_examples_per_second(steps: int = 150) -> float:
    """`training/train.py` on the demo config for `steps` steps (no evaluation, no checkpoints): the Trainer's rate."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, str(ROOT / "training" / "train.py"), "--config", "training/configs/demo.yaml"]
        cmd += ["--max_steps", str(steps), "--eval_strategy", "no", "--save_strategy", "no", "--output_dir", out]
        cmd += ["--final_eval_size", "100", "--logging_steps", str(steps)]
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        rows = read_metrics(out)
    return next(r["train_samples_per_second"] for r in rows if "train_samples_per_second" in r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="the release configuration only, 4 steps, no trainer")
    parser.add_argument("--no-trainer", action="store_true", help="skip the training/train.py run of the demo")
    parser.add_argument(
        "--phases", action="store_true", help="only the milliseconds per step in each phase, the package way"
    )
    parser.add_argument(
        "--drift",
        type=int,
        metavar="STEPS",
        help="only the seconds per 200 of STEPS steps (release, batch 32)",
    )
    parser.add_argument("--flush-denormal", action="store_true", help="with --drift: flush subnormals to zero")
    args = parser.parse_args()
    steps = 4 if args.quick else args.steps
    tuned = tune_malloc()  # as training/train.py does
    precision = default_mixed_precision()
    attention = default_attention(precision)
    if args.drift:
        flushed = args.flush_denormal and flush_denormals()
        print(f"CPU: {cpu_name()}; precision {precision}, attention {attention}; subnormals flushed: {flushed}")
        setup = dataclasses.replace(SETUPS[1], name="release eigen-p1000, batch 32", batch=32)
        times = interval_times(setup, precision, attention, args.drift)
        print("seconds per 200 steps: " + ", ".join(f"{t:.2f}" for t in times))
        return
    if args.phases:
        threads = torch.get_num_threads()
        print(f"CPU: {cpu_name()}; torch threads: {threads}; precision {precision}, attention {attention}\n")
        print("| configuration | " + " | ".join(PHASES) + " | step | examples/s |")
        print("|---|" + "---:|" * (len(PHASES) + 2))
        for setup in SETUPS[1:2] if args.quick else SETUPS:
            ms = phase_times(setup, precision, attention, steps)
            step = sum(ms.values())
            cells = " | ".join(f"{ms[name]:.1f}" for name in PHASES)
            print(f"| {setup.name} | {cells} | {step:.1f} | {1000 * setup.batch / step:.0f} |", flush=True)
        return
    bf16, fp32 = matmul_peak(torch.bfloat16), matmul_peak(torch.float32)  # each within about 20 s
    bf16_peak, fp32_peak = bf16.flops, fp32.flops
    print(f"CPU: {cpu_name()}; torch threads: {torch.get_num_threads()}, malloc tuning {'on' if tuned else 'off'}")
    print(
        f"measured matmul peak: bf16 {bf16_peak / 1e12:.3f} TFLOP/s ({bf16.label}), "
        f"fp32 {fp32_peak / 1e12:.3f} TFLOP/s ({fp32.label})"
    )
    print(f"package choice here: precision {precision}, attention {attention}\n")
    print("| configuration | way | examples/s | tokens/s | TFLOP/s | % bf16 peak | % fp32 peak | data wait |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    setups = SETUPS[1:2] if args.quick else SETUPS
    package_way = f"{'bf16' if precision == 'bf16' else 'fp32'} {attention}"
    ratios = []
    plain_demo = None
    fast_bf16 = bf16_peak >= fp32_peak
    ways = dict(WAYS)
    if not fast_bf16:  # no fast bf16 here (emulated: minutes a step for the paper's model): fp32 ways only
        ways = {way: spec for way, spec in WAYS.items() if not spec[0].startswith("bf16")}
        print("bf16 matmuls are slower than fp32 on this CPU: the bf16 ways are skipped, and so is the bf16 peak\n")
    for setup in setups:
        speeds = {}
        for way, (prec, attn, adamw) in ways.items():
            r = run(setup, prec, attn, adamw, steps)
            speeds[way] = r["examples/s"]
            label = f"{way} (package)" if way == package_way else way
            of_bf16 = f"{100 * r['flop/s'] / bf16_peak:.0f}%" if fast_bf16 else "–"
            print(
                f"| {setup.name} | {label} | {r['examples/s']:.0f} | {r['tokens/s']:,.0f} | {r['flop/s'] / 1e12:.3f} "
                f"| {of_bf16} | {100 * r['flop/s'] / fp32_peak:.0f}% | {100 * r['data wait']:.1f}% |",
                flush=True,
            )
        ratio = f"{setup.name}: package / plain = {speeds[package_way] / speeds['plain']:.2f}x"
        if setup.problem == "eigenvalues" and setup.output_encoding == "FP15":
            low, high = REFERENCE_EXAMPLES_PER_S
            ours = speeds[package_way]
            ratio += f"; package / reference trainer = {ours / high:.2f}x to {ours / low:.2f}x"
        ratios.append(ratio)
        if setup.problem == "transpose":
            plain_demo = speeds["plain"]
    print("\n" + "\n".join(ratios))
    if plain_demo is not None and not args.no_trainer:
        trainer = trainer_examples_per_second()
        print(
            f"training/train.py on the demo config (150 steps, Trainer and all, warm-up included): {trainer:.0f} "
            f"examples/s = {trainer / plain_demo:.2f}x the plain loop"
        )


if __name__ == "__main__":
    main()
