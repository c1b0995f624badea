"""The recipe A/B: arms of `training/train.py` at equal example budgets, and the table and plot of their results.

Usage:
    python benchmarks/recipe_arms.py list                       # the arms and their commands
    python benchmarks/recipe_arms.py run base [--seed 1]        # train one arm into runs/recipe/<arm>[-s<seed>]
    python benchmarks/recipe_arms.py table [--out docs/recipe-arms.md] [--plot docs/recipe-arms.png]
    python benchmarks/recipe_arms.py project runs/eigen-p1000-v3 [--target-loss 0.6]   # examples to a test loss
    python benchmarks/recipe_arms.py project-accuracy MODEL MODEL ... [--size 10000] [--plot P]   # ... to a target

Protocol (docs/recipes.md): 5x5 eigenvalues of Wigner matrices, FP15 in, P1000 out, from scratch, every arm at the
same budget of `BUDGET` examples with the same seed and the same fixed test set. Each arm logs its loss per target
token, is scored greedily on the first `EVAL_SIZE` fixed test problems every `EVAL_EVERY` examples and at the end,
and records its throughput and the CPU. An arm is the base command plus its overrides; `run` prints the command it
runs, and `table` prints the same command next to the figures, so every row can be rerun as shown.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from linalg_transformers.record import lineage_examples, read_metrics
from linalg_transformers.scoring import TOLERANCES, accuracy_key, tolerance_label

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs" / "recipe"
BUDGET = 307_200
"""Examples per arm: 2,400 steps of 128 (the issue's protocol asks for at least 300,000)."""
EVAL_EVERY = 102_400
"""Examples between two evaluations (and the points of the loss table: about 100k, 200k and 300k)."""
EVAL_SIZE = 1_000
"""Fixed test problems scored at each evaluation and at the end."""
WARMUP_EXAMPLES = 38_400
"""Warmup, in examples (300 steps of 128), the same for every batch size."""

TABLE_TOLERANCES = TOLERANCES[:3]
"""The tolerances of the accuracies in the table (5%, 2% and 1%)."""

BASE_CONFIG = "training/configs/cpu-eigen-p1000-v1.yaml"
BASE_OVERRIDES: dict[str, str] = {
    "normalize_before": "true",
    "learning_rate": "1e-3",
    "per_device_train_batch_size": "128",
    "lr_scheduler_type": "cosine_with_min_lr",
    "extra_test_distributions": "",
    "save_steps": "400",
    "save_total_limit": "1",
}
"""Today's best recipe (run D of the eigen-p1000 model card): pre-LN, lr 1e-3, batch 128, cosine to 2e-5."""


@dataclass(frozen=True)
class Arm:
    """One arm: what it changes from the base recipe and why.

    Attributes:
        name (`str`): Short name; the output folder is ``runs/recipe/<name>``.
        lever (`str`): The lever this arm measures, in words.
        overrides (`dict[str, str]`): `training/train.py` arguments changed from `BASE_OVERRIDES`.
        config (`str`): The YAML config the overrides apply to: `BASE_CONFIG` (the eigenvalue protocol), or another
            problem's config for the arms that test whether a lever generalizes.
    """

    name: str
    lever: str
    overrides: dict[str, str] = field(default_factory=dict)
    config: str = BASE_CONFIG

    @property
    def batch_size(self) -> int:
        """Examples per step."""
        return int({**BASE_OVERRIDES, **self.overrides}["per_device_train_batch_size"])

    def command(self, seed: int = 0) -> list[str]:
        """The `training/train.py` command line of this arm (budget, evaluations and warmup in steps of its batch)."""
        batch = self.batch_size
        args = {
            **BASE_OVERRIDES,
            "max_steps": str(BUDGET // batch),
            "warmup_steps": str(WARMUP_EXAMPLES // batch),
            "eval_steps": str(EVAL_EVERY // batch),
            "logging_steps": str(max(1, 6_400 // batch)),
            "eval_size": str(EVAL_SIZE),
            "final_eval_size": str(EVAL_SIZE),
            "seed": str(seed),
            **self.overrides,
            "output_dir": str(Path("runs/recipe") / run_name(self, seed)),
        }
        cmd = ["python", "training/train.py", "--config", self.config]
        for key, value in args.items():
            cmd += [f"--{key}", value]
        return cmd


_BATCH64 = {"per_device_train_batch_size": "64", "learning_rate": "7e-4"}
_BATCH32 = {"per_device_train_batch_size": "32", "learning_rate": "5e-4"}
_REPEAT10K = {"repeat_pool_size": "10000", "repeat_prob": "0.25"}
_MATVEC = {"lr_scheduler_kwargs": '{"min_lr": 2e-05}'}
"""The matvec config (2/2 layers, warmup-stable-decay) under the protocol's cosine to 2e-5."""
MATVEC_CONFIG = "training/configs/cpu-matvec-p1000.yaml"
_DEEP_NARROW = {
    "d_model": "128",
    "encoder_layers": "8",
    "encoder_attention_heads": "4",
    "decoder_attention_heads": "4",
}
ARMS: dict[str, Arm] = {
    arm.name: arm
    for arm in (
        Arm("base", "today's best: pre-LN, lr 1e-3, batch 128, cosine"),
        Arm("batch64", "more updates per example: batch 64 (lr 7e-4)", _BATCH64),
        Arm("batch32", "more updates per example: batch 32 (lr 5e-4)", _BATCH32),
        Arm("constant", "a constant rate after warmup", {"lr_scheduler_type": "constant_with_warmup"}),
        Arm("ntl", "number-aware loss (Wasserstein-1 over mantissas), weight 0.3", {"number_loss_weight": "0.3"}),
        Arm("repeat10k", "repeated examples: a pool of 10,000, p = 0.25", _REPEAT10K),
        Arm(
            "repeat50k",
            "repeated examples: a pool of 50,000, p = 0.25",
            {"repeat_pool_size": "50000", "repeat_prob": "0.25"},
        ),
        Arm("paper-shape", "the paper's shape: 512-d, 6/1 layers, 8 heads", {"d_model": "512", "encoder_layers": "6"}),
        Arm("deep-narrow", "deeper and narrower: 128-d, 8/1 layers, 4 heads", _DEEP_NARROW),
        Arm("batch64-repeat10k", "the two best levers: batch 64 and repeated examples", _BATCH64 | _REPEAT10K),
        Arm("matvec-base", "5x5 matrix-vector products (256-d 2/2), today's best recipe", _MATVEC, MATVEC_CONFIG),
        Arm("matvec-batch32", "5x5 matrix-vector products, the best arm: batch 32", _MATVEC | _BATCH32, MATVEC_CONFIG),
    )
}
"""The arms, by name: the issue's list, the best combination, and the second problem's pair."""


def run_name(arm: Arm, seed: int) -> str:
    """Output folder name of an arm and seed (``<arm>`` for seed 0, ``<arm>-s<seed>`` otherwise)."""
    return arm.name if seed == 0 else f"{arm.name}-s{seed}"


def loss_key(rows: list[dict]) -> str:
    """The logged cross-entropy: ``ce_loss`` where the number-aware term is on (``loss`` then includes it)."""
    return "ce_loss" if any("ce_loss" in r for r in rows) else "loss"


def loss_at(rows: list[dict], examples: int, window: int = 6) -> float:
    """Mean training loss (cross-entropy per target token) of the `window` logged rows ending at `examples`."""
    key = loss_key(rows)
    train = [r for r in rows if key in r and r["examples"] <= examples]
    if not train or train[-1]["examples"] < 0.95 * examples:
        return math.nan
    return sum(r[key] for r in train[-window:]) / len(train[-window:])


@dataclass(frozen=True)
class ArmResult:
    """What one finished (or partly finished) arm measured.

    Attributes:
        arm (`Arm`): The arm.
        seed (`int`): Its seed.
        examples (`int`): Examples trained so far.
        losses (`dict[int, float]`): Training loss per target token at each evaluation point (NaN where not reached).
            With repeated examples it is biased low (the pool's examples are seen several times).
        test_losses (`dict[int, float]`): Cross-entropy per target token on the fixed evaluation problems (teacher
            forced) at each evaluation point, NaN where not reached: the loss to compare arms by.
        accuracy (`dict[str, float] | None`): Final accuracy by tolerance label on `EVAL_SIZE` test problems.
        examples_per_second (`float`): Training throughput over the run (evaluations excluded).
        hardware (`str`): The CPU, from the run's record.
    """

    arm: Arm
    seed: int
    examples: int
    losses: dict[int, float]
    test_losses: dict[int, float]
    accuracy: dict[str, float] | None
    examples_per_second: float
    hardware: str


def collect(arm: Arm, seed: int) -> ArmResult | None:
    """Read an arm's run folder; `None` when it has not started."""
    run_dir = RUNS / run_name(arm, seed)
    rows = read_metrics(run_dir)
    if not rows:
        return None
    points = range(EVAL_EVERY, BUDGET + 1, EVAL_EVERY)
    results_path = run_dir / "results.json"
    accuracy, hardware = None, ""
    if results_path.is_file():
        record = json.loads(results_path.read_text())
        accuracy = record["test_sets"]["test"]
        hardware = record.get("hardware", "")
    train = [r for r in rows if "train_runtime" in r]
    examples = max(r["examples"] for r in rows)
    speed = train[-1]["train_samples_per_second"] if train else math.nan
    test = {r["examples"]: r["eval_loss"] for r in rows if "eval_loss" in r}
    losses = {p: loss_at(rows, p) for p in points}
    return ArmResult(
        arm, seed, examples, losses, {p: test.get(p, math.nan) for p in points}, accuracy, speed, hardware
    )


def format_table(results: list[ArmResult]) -> str:
    """The Markdown table of the arms: test losses at the evaluation points, final accuracy, speed and command."""
    points = list(range(EVAL_EVERY, BUDGET + 1, EVAL_EVERY))
    head = ["arm", "seed", "examples"] + [f"test loss @{p // 1000}k" for p in points]
    head += [tolerance_label(t) for t in TABLE_TOLERANCES] + ["median rel. error", "examples/s", "command"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        acc = r.accuracy or {}
        cells = [r.arm.name, str(r.seed), f"{r.examples:,}"]
        cells += ["" if math.isnan(r.test_losses[p]) else f"{r.test_losses[p]:.3f}" for p in points]
        cells += [f"{100 * acc[k]:.1f}" if k in acc else "" for k in map(accuracy_key, TABLE_TOLERANCES)]
        median = acc.get("median_relative_error")
        cells += ["" if median is None else f"{median:.3f}"]
        cells += ["" if math.isnan(r.examples_per_second) else f"{r.examples_per_second:.0f}"]
        cells += ["`" + shlex.join(r.arm.command(r.seed)) + "`"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: list[ArmResult], out: Path) -> None:
    """Training loss against examples for every arm with data, one line each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for r in results:
        rows = read_metrics(RUNS / run_name(r.arm, r.seed))
        key = loss_key(rows)
        train = [e for e in rows if key in e]
        ax.plot([e["examples"] for e in train], [e[key] for e in train], label=run_name(r.arm, r.seed), lw=1)
    ax.set(xlabel="examples seen", ylabel="training cross-entropy per target token", title="recipe arms")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


TARGET_LOSS = 0.6
"""Test loss per target token that 99% at 5% needs on 5x5 eigenvalues, P1000 out (an estimate, docs/recipes.md).

A 5% error on the L1 norm of five eigenvalues of typical size 10 allows about 0.5 per eigenvalue, about 5 units
of the last mantissa digit; a mantissa distribution that narrow has an entropy of about 2 nats, and the five
mantissas are 5 of the 18 target tokens, the other 13 (sign, exponent, framing) costing almost nothing.
"""


@dataclass(frozen=True)
class Projection:
    """Where a run's test loss is heading.

    Attributes:
        points (`list[tuple[int, float]]`): (examples, test loss) measured.
        log_slope (`float`): Loss change per e-fold of examples, fitted (least squares on ln examples).
        log_examples (`float`): Examples at which the log fit reaches the target loss.
        linear_slope (`float`): Loss change per 100,000 examples between the last two points.
        linear_examples (`float`): Examples at which that straight line reaches the target loss.
    """

    points: list[tuple[int, float]]
    log_slope: float
    log_examples: float
    linear_slope: float
    linear_examples: float


def project(run_dir: Path, target_loss: float = TARGET_LOSS, skip: int = 1) -> Projection:
    """Extrapolate a run's test loss (``eval_loss`` rows of ``metrics.jsonl``) to `target_loss`, two ways.

    The log fit (loss linear in ln examples) is the pessimistic bound, the straight line through the last two points
    the optimistic one; neither is a law, and both are only as good as the points they rest on.

    Args:
        run_dir (`Path`): A training output folder.
        target_loss (`float`, *optional*): The loss to reach.
        skip (`int`, *optional*, defaults to 1): Early points left out of the log fit (the first plateau).

    Returns:
        `Projection`.
    """
    rows = read_metrics(run_dir)
    points = sorted({(r["examples"], r["eval_loss"]) for r in rows if "eval_loss" in r})
    if len(points) < skip + 2:
        raise ValueError(f"{run_dir}: need at least {skip + 2} evaluations to project, found {len(points)}")
    fit = points[skip:]
    xs = [math.log(n) for n, _ in fit]
    ys = [loss for _, loss in fit]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    log_examples = math.exp(mx + (target_loss - my) / slope) if slope < 0 else math.inf
    (n1, l1), (n2, l2) = points[-2:]
    per_example = (l2 - l1) / (n2 - n1)
    linear_examples = n2 + (target_loss - l2) / per_example if per_example < 0 else math.inf
    return Projection(points, slope, log_examples, per_example * 100_000, linear_examples)


ACCURACY_TARGETS: tuple[tuple[float, float], ...] = ((0.05, 0.99), (0.01, 0.90))
"""The eigenvalue release targets, (tolerance, share of test problems within it): 99% at 5% and 90% at 1%."""


@dataclass(frozen=True)
class ErrorPoint:
    """One decayed model of a lineage, measured on the fixed test set.

    Attributes:
        model (`str`): Its folder.
        examples (`int`): Examples its lineage had seen (`record.lineage_examples` of its ``results.json``).
        quantiles (`dict[float, float]`): share -> the relative error that share of the test problems is within
            (the empirical quantile; infinite where more than ``1 - share`` are malformed): the accuracy at a
            tolerance reaches the share exactly when the quantile is below the tolerance.
        accuracy (`dict[float, float]`): tolerance -> share of the test problems within it.
    """

    model: str
    examples: int
    quantiles: dict[float, float]
    accuracy: dict[float, float]


@dataclass(frozen=True)
class TargetProjection:
    """Where a target is reached if an error quantile keeps falling as a power of the examples.

    Attributes:
        tolerance (`float`): The target's tolerance.
        share (`float`): The share of test problems that must be within it.
        slope (`float`): d ln(quantile error) / d ln(examples), least squares over the points given.
        examples (`float`): Examples at which that fit reaches `tolerance` (`math.inf` if it does not fall; an
            already-met target gives the smallest measured examples that meet it, here and below).
        recent_slope (`float`): The same slope through the last two points only.
        recent_examples (`float`): Examples at which the line through the last two points reaches `tolerance`.
    """

    tolerance: float
    share: float
    slope: float
    examples: float
    recent_slope: float
    recent_examples: float


def error_quantile(errors: np.ndarray, share: float) -> float:
    """The relative error that `share` of the problems are within: the smallest e with mean(errors <= e) >= share.

    Args:
        errors (`np.ndarray` of shape `(n,)`): Relative errors, infinite where malformed.
        share (`float`): In (0, 1].

    Returns:
        `float`: That error (infinite when more than ``1 - share`` of the answers are malformed).

    Raises:
        ValueError: if `share` is outside (0, 1] or `errors` is empty.
    """
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share must be in (0, 1]; got {share!r}")
    if len(errors) == 0:
        raise ValueError("no errors to take a quantile of")
    ordered = np.sort(np.asarray(errors, dtype=float))
    return float(ordered[max(math.ceil(share * len(ordered)) - 1, 0)])


def project_target(points: list[tuple[int, float]], tolerance: float, share: float) -> TargetProjection:
    """Fit ln(quantile error) linear in ln(examples) and solve for the examples where it reaches `tolerance`.

    Two estimates, as `project` gives for the loss: the least-squares fit over all points, and the line through the
    last two. Where the curve bends (a second drop early in the lineage), the two disagree, and the later points
    are the better guide to what comes next.

    Args:
        points (`list[tuple[int, float]]`): (examples, the `share` quantile of the relative error), at least two, of
            models trained the same way (decayed copies of one lineage: a constant-rate checkpoint sits higher).
        tolerance (`float`): The target tolerance.
        share (`float`): The target share (recorded in the result).

    Returns:
        `TargetProjection`.

    Raises:
        ValueError: with fewer than two points of finite, positive quantile at distinct example counts.
    """
    finite = sorted(dict((n, q) for n, q in points if math.isfinite(q) and q > 0).items())  # one per example count
    if len(finite) < 2:
        raise ValueError(
            f"need at least two points with a finite error quantile (at distinct examples) to fit; got {points!r}"
        )
    met = [n for n, q in finite if q < tolerance]  # strictly, as `scoring.is_correct`

    def fit(pts: list[tuple[int, float]]) -> tuple[float, float]:
        xs = [math.log(n) for n, _ in pts]
        ys = [math.log(q) for _, q in pts]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        if met:
            return slope, float(min(met))
        return slope, math.exp(mx + (math.log(tolerance) - my) / slope) if slope < 0 else math.inf

    slope, examples = fit(finite)
    recent_slope, recent_examples = fit(finite[-2:])  # finite is sorted by examples
    return TargetProjection(tolerance, share, slope, examples, recent_slope, recent_examples)


def measure_errors(model: str, size: int = 10_000, batch_size: int = 500, decoding: str = "greedy") -> ErrorPoint:
    """Relative errors of a model folder on the first `size` problems of its problem's fixed test set.

    The model runs in float32 on the CPU, as `AutoModel` loads it and as training's final evaluation scores it.

    Args:
        model (`str`): A trained model folder (a run's output or a published folder) with ``results.json``.
        size (`int`, *optional*, defaults to 10,000): Fixed test problems (seed 2022).
        batch_size (`int`, *optional*, defaults to 500): Problems per `generate()` call.
        decoding (`str`, *optional*, defaults to `"greedy"`): Any of `evaluation.evaluate_model`'s, e.g.
            ``"grammar"`` (greedy within the output grammar, where no answer is malformed).

    Returns:
        `ErrorPoint`.

    Raises:
        ValueError: if the folder has no ``results.json``, its lineage's examples are not recorded, or its config
            records no training problem.
    """
    import torch

    from linalg_transformers.cli.problems import NOT_PROBLEM_OPTIONS
    from linalg_transformers.evaluation import evaluate_model, load_model
    from linalg_transformers.problems import get_problem, test_set

    results_path = Path(model) / "results.json"
    if not results_path.is_file():
        raise ValueError(f"{model} has no results.json: give a trained model folder (its examples are read there)")
    results = json.loads(results_path.read_text())
    examples = lineage_examples(results)
    if examples is None:
        raise ValueError(
            f"{model} started from {results['init_from'].get('model')!r}, whose examples are not recorded in its "
            "results.json: give the published folder (linalg-transformers publish counts the whole lineage)"
        )
    net, tok = load_model(model)
    trained = net.config.training_problem or {}
    if "name" not in trained:
        raise ValueError(f"{model} records no training problem (config.training_problem)")
    problem = get_problem(trained["name"], **{k: v for k, v in trained.items() if k not in NOT_PROBLEM_OPTIONS})
    with torch.inference_mode():
        inputs = test_set(problem, size=size).inputs
        result = evaluate_model(net, tok, problem, inputs, batch_size=batch_size, decoding=decoding)
    shares = sorted({share for _, share in ACCURACY_TARGETS} | {0.5})
    return ErrorPoint(
        model=str(model),
        examples=examples,
        quantiles={share: error_quantile(result.errors, share) for share in shares},
        accuracy={t: float(result.score.accuracy[t]) for t in TOLERANCES},
    )


def plot_targets(points: list[ErrorPoint], projections: list[TargetProjection], out: Path) -> None:
    """Error quantiles against examples (log-log), each with its fits extended to its target.

    Args:
        points (`list[ErrorPoint]`): The measured models.
        projections (`list[TargetProjection]`): One per target, from `project_target` on those points.
        out (`Path`): The PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for proj in projections:
        shown = [p for p in points if math.isfinite(p.quantiles[proj.share])]
        xs, ys = [p.examples for p in shown], [p.quantiles[proj.share] for p in shown]
        label = f"error within which {proj.share:.0%} of problems fall (target {tolerance_label(proj.tolerance)})"
        (line,) = ax.plot(xs, ys, "o", label=label)
        fits = ((proj.examples, proj.slope, xs[0], ":"), (proj.recent_examples, proj.recent_slope, xs[-2], "--"))
        for examples, slope, start, style in fits:
            if math.isfinite(examples) and examples > max(xs):  # the power law through (examples, tolerance)
                grid = np.geomspace(start, examples, 50)
                ax.plot(grid, proj.tolerance * (grid / examples) ** slope, style, color=line.get_color(), lw=1)
                ax.plot([examples], [proj.tolerance], "*", color=line.get_color(), ms=9)
        ax.axhline(proj.tolerance, color=line.get_color(), lw=0.5, ls=":")
    ax.set(xscale="log", yscale="log", xlabel="examples seen", ylabel="relative error (d1)")
    ax.set_title(
        "decayed models of one lineage; to each target (star), the power law\n"
        "through the last two points (dashed) and fitted to all (dotted)",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``list``, ``run ARM``, ``table``, ``project RUN`` or ``project-accuracy MODEL ...``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    run = sub.add_parser("run")
    run.add_argument("arm", choices=sorted(ARMS))
    run.add_argument("--seed", type=int, default=0)
    table = sub.add_parser("table")
    table.add_argument("--out", type=Path)
    table.add_argument("--plot", type=Path)
    proj = sub.add_parser("project")
    proj.add_argument("run_dir", type=Path)
    proj.add_argument("--target-loss", type=float, default=TARGET_LOSS)
    acc = sub.add_parser("project-accuracy")
    acc.add_argument("models", nargs="+", help="decayed model folders of one lineage, in any order")
    acc.add_argument("--size", type=int, default=10_000, help="fixed test problems (default 10,000)")
    acc.add_argument("--plot", type=Path)
    acc.add_argument("--decoding", default="greedy", help="greedy (default), grammar, median or mean")
    args = parser.parse_args(argv)
    if args.command == "project-accuracy":
        points = [measure_errors(m, args.size, decoding=args.decoding) for m in args.models]
        points.sort(key=lambda p: p.examples)
        for p in points:
            accuracy = ", ".join(f"{tolerance_label(t)} {p.accuracy[t]:.2%}" for t in TOLERANCES)
            quantiles = ", ".join(f"{s:.0%} within {q:.4f}" for s, q in p.quantiles.items())
            print(f"{p.model}: {p.examples:,} examples; {accuracy}; {quantiles}")
        projections = []
        for tolerance, share in ACCURACY_TARGETS:
            proj = project_target([(p.examples, p.quantiles[share]) for p in points], tolerance, share)
            projections.append(proj)
            print(
                f"{share:.0%} at {tolerance_label(tolerance)}: fit over all points {proj.slope:+.2f} per e-fold of "
                f"examples -> {proj.examples:,.0f} examples; last two points {proj.recent_slope:+.2f} -> "
                f"{proj.recent_examples:,.0f}"
            )
        if args.plot:
            plot_targets(points, projections, args.plot)
        return 0
    if args.command == "list":
        for arm in ARMS.values():
            print(f"{arm.name}: {arm.lever}\n    {shlex.join(arm.command())}")
        return 0
    if args.command == "project":
        p = project(args.run_dir, args.target_loss)
        print("examples, test loss: " + ", ".join(f"{n:,}: {loss:.3f}" for n, loss in p.points))
        print(f"log fit: {p.log_slope:+.3f} per e-fold of examples -> {args.target_loss} at {p.log_examples:,.0f}")
        print(f"last two points: {p.linear_slope:+.4f} per 100k -> {args.target_loss} at {p.linear_examples:,.0f}")
        return 0
    if args.command == "run":
        cmd = ARMS[args.arm].command(args.seed)
        print(shlex.join(cmd), flush=True)
        return subprocess.call([sys.executable, *cmd[1:]], cwd=ROOT)
    seeds = sorted({int(p.name.rsplit("-s", 1)[1]) for p in RUNS.glob("*-s*") if p.name.rsplit("-s", 1)[1].isdigit()})
    results = [r for arm in ARMS.values() for s in [0, *seeds] if (r := collect(arm, s)) is not None]
    text = format_table(results)
    print(text)
    if args.out:
        header = (
            "# The recipe arms: every measured arm and its command\n\n"
            "Written by `python benchmarks/recipe_arms.py table --out docs/recipe-arms.md`; the protocol, the machine "
            "and what the\narms say are in [recipes.md](recipes.md#the-ab-arms-measured-so-far).\n\n"
        )
        args.out.write_text(header + text + "\n")
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
