"""The ``evaluate`` subcommand: a model's accuracy on the fixed test sets of a problem, printed as a table.

```
linalg-transformers evaluate MODEL [--problem NAME] [--size N] [--ood | --distributions A,B] [problem options]
```

The problem is by default the model's training problem (``config.training_problem``); problem flags override its
options. The numbers come from `linalg_transformers.evaluation.evaluate_test_sets`, the evaluation path of training
and of the model cards.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from ..data import sequence_lengths
from ..evaluation import distribution_names, distribution_variants, evaluate_test_sets, json_safe, load_model
from ..hardware import cpu_bf16_is_faster, default_mixed_precision
from ..problems.distributions import available_eigen_distributions
from ..problems.test_sets import DEFAULT_TEST_SEED
from ..regression_decoding import DECODINGS, DEFAULT_NUM_CANDIDATES, GENERATE_DECODINGS, check_decoding
from ..scoring import format_accuracy_table
from .help import HelpFormatter
from .problems import add_problem_arguments, describe_problem, problem_from_arguments

__all__ = ["add_evaluate_command"]

_EVALUATE_EPILOG = f"""\
examples:
  linalg-transformers evaluate linalg/eigen-p1000
  linalg-transformers evaluate checkpoints/linalg/eigen-p1000 --size 500 --ood --json eigen-ood.json
  linalg-transformers evaluate runs/eigen --distributions laplace,positive --num-beams 4
  linalg-transformers evaluate runs/eigen --eigen-distribution laplace --coeff-range 20
  linalg-transformers evaluate checkpoints/linalg/eigen-p1000 --size 1000 --decoding median

The table gives the share of test problems answered within each tolerance (relative error, the problem's own check
on the input as the model saw it) and the share of well-formed answers. The fixed test sets are those of every
accuracy this project reports ({DEFAULT_TEST_SEED} is the default seed); --ood adds one row per other eigenvalue
distribution ({", ".join(available_eigen_distributions())})."""


def add_evaluate_command(subparsers: Any) -> None:
    """Register ``evaluate`` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "evaluate",
        help="accuracy of a model on a problem's fixed test set, at 5/2/1/0.5%% tolerance",
        description="Evaluate a model (a folder or a Hub id) on the fixed test set of a problem, by default the one "
        "it was trained on: accuracy at 5%, 2%, 1% and 0.5% tolerance and the share of well-formed answers, "
        "optionally on the same problem under other eigenvalue distributions (out of distribution).",
        epilog=_EVALUATE_EPILOG,
        formatter_class=HelpFormatter,
    )
    p.add_argument("model", help="model folder, or Hub id such as linalg/eigen-p1000")
    p.add_argument("--problem", help="problem to evaluate on (default: the model's, config.training_problem)")
    p.add_argument("--size", "-n", type=int, default=10_000, help="examples per test set (default 10,000)")
    p.add_argument("--seed", type=int, help=f"seed of the fixed test sets (default {DEFAULT_TEST_SEED})")
    p.add_argument("--batch-size", type=int, default=256, help="problems per generate() call (default 256)")
    p.add_argument("--num-beams", type=int, default=1, help="beam size; 1 is greedy, the paper's setting (default 1)")
    p.add_argument(
        "--decoding",
        choices=DECODINGS,
        default="greedy",
        help="greedy (the most likely tokens, the paper's), grammar (the most likely tokens that continue a "
        "well-formed answer of the problem's shape; with --num-beams, beam search within it), or median / mean: each "
        "number is that statistic of the model's distribution over its value, number by number (regression-aware "
        "decoding; default greedy)",
    )
    p.add_argument(
        "--candidates",
        type=int,
        default=DEFAULT_NUM_CANDIDATES,
        help=f"complete numbers per value distribution, for --decoding median/mean (default {DEFAULT_NUM_CANDIDATES})",
    )
    ood = p.add_mutually_exclusive_group()
    ood.add_argument(
        "--ood", action="store_true", help="also a test set per other eigenvalue distribution (symmetric problems)"
    )
    ood.add_argument("--distributions", metavar="A,B", help="also test sets with these eigenvalue distributions")
    p.add_argument("--json", metavar="OUT", help="also write the results (every metric) to this JSON file")
    p.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        default="fp32",
        help="fp32 (the default: as models load, and as training's final evaluation and the model cards score them), "
        "bf16 autocast (faster on some hardware, a little less accurate at tight tolerances), or auto: bf16 on CUDA "
        "with bf16 and on CPUs where it measured faster",
    )
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda if available, else cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_problem_arguments(
        p, "Default: the options of the model's training problem that the problem has, else the problem's own."
    )
    p.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    for flag, value in (
        ("--size", args.size),
        ("--batch-size", args.batch_size),
        ("--num-beams", args.num_beams),
        ("--candidates", args.candidates),
    ):
        if value < 1:
            raise ValueError(f"{flag} must be >= 1; got {value}")
    check_decoding(args.decoding, args.num_beams)
    device = _device(args.device)
    precision = _precision(args.precision, device)
    if args.no_progress:
        import transformers

        transformers.utils.logging.disable_progress_bar()  # "Loading weights"
    model, tokenizer = load_model(args.model, device)
    trained_on = getattr(model.config, "training_problem", None) or {}
    name = args.problem or trained_on.get("name")
    if name is None:
        raise ValueError(f"model {args.model!r} records no training problem (config.training_problem); pass --problem")
    problem = problem_from_arguments(name, args, base=trained_on)
    max_input, max_label = sequence_lengths(problem, tokenizer)
    longest = max(max_input, max_label + 1)  # the decoder also reads its start token
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions is not None and longest > positions:
        raise ValueError(
            f"{describe_problem(problem)} needs sequences of up to {longest} tokens with "
            f"{tokenizer.input_encoding} -> {tokenizer.output_encoding}; the model has {positions} positions "
            f"(trained on {trained_on.get('name', 'an unrecorded problem')}, dim={trained_on.get('dim', '?')})"
        )
    sets = {"test": problem}
    if args.ood:  # the variant equal to the test set (its own distribution) would repeat the "test" row
        variants = distribution_variants(problem, available_eigen_distributions())
        sets |= {name: variant for name, variant in variants.items() if variant != problem}
    elif args.distributions:
        sets |= distribution_variants(problem, distribution_names(args.distributions))
    seed = DEFAULT_TEST_SEED if args.seed is None else args.seed
    decoding = "greedy decoding" if args.num_beams == 1 else f"beam search ({args.num_beams} beams)"
    if args.decoding == "grammar":
        decoding += " within the output grammar"
    elif args.decoding != "greedy":
        decoding = f"regression-aware decoding ({args.decoding} of {args.candidates} candidates per number)"
    print(
        f"model: {args.model} ({tokenizer.input_encoding} -> {tokenizer.output_encoding}, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters)\n"
        f"problem: {describe_problem(problem)}\n"
        f"fixed test sets: {args.size:,} examples each, seed {seed}; {decoding}; {precision} on {device}",
        flush=True,
    )
    started = time.perf_counter()
    rows = evaluate_test_sets(
        model,
        tokenizer,
        sets,
        size=args.size,
        seed=seed,
        batch_size=args.batch_size,
        num_beams=args.num_beams,
        autocast_dtype=torch.bfloat16 if precision == "bf16" else None,
        progress=not args.no_progress,
        decoding=args.decoding,
        num_candidates=args.candidates,
    )
    seconds = time.perf_counter() - started
    print(f"\n{format_accuracy_table(rows)}\n\n({seconds:.1f} s)")
    if args.json:
        results = {
            "model": args.model,
            "problem": problem.config_dict(),
            "encodings": [tokenizer.input_encoding, tokenizer.output_encoding],
            "test_size": args.size,
            "test_seed": seed,
            "num_beams": args.num_beams,
            "decoding": args.decoding,
            "num_candidates": None if args.decoding in GENERATE_DECODINGS else args.candidates,
            "precision": precision,
            "device": str(device),
            "seconds": round(seconds, 1),
            "test_sets": rows,
        }
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(json_safe(results), indent=2) + "\n")
        print(f"results written to {out}")
    return 0


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; e.g. cpu, cuda, cuda:1") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available here")
    return device


def _precision(name: str, device: torch.device) -> str:
    """``"bf16"`` or ``"fp32"``; ``"auto"`` is bf16 where `hardware` finds it fast (CUDA with bf16, or measured)."""
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if default_mixed_precision() == "bf16" else "fp32"
    return "bf16" if device.type == "cpu" and cpu_bf16_is_faster() else "fp32"
