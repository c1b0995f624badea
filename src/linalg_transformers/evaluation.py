"""Evaluate a model on a problem: batched generation, batched decoding, and the problem's own check.

This is the one evaluation path of the package: training (`training/train.py`), the command line
(``linalg-transformers evaluate``) and the release numbers in the model cards all call `evaluate_model`.
The check is applied to the input *as the model saw it* (rounded by the input encoding), as in the reference code
(docs/problems.md, "The check"), but with no teacher-forced exact-match shortcut (docs/reference-code.md, item 8):
every prediction is decoded and checked numerically. `evaluate_test_sets` scores a model on the fixed test sets of
several problems (e.g. the training problem and its variants over eigenvalue distributions, `distribution_variants`),
as the final report of a training run and ``linalg-transformers evaluate`` do. Every function takes ``decoding``:
``"greedy"`` (the paper's, `generate`), or ``"median"`` / ``"mean"``, regression-aware decoding
(`linalg_transformers.regression_decoding`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .data import sequence_lengths
from .hardware import cpu_bf16_is_faster, default_mixed_precision
from .problems.base import TOLERANCES
from .problems.distributions import available_eigen_distributions
from .problems.registry import get_problem
from .problems.test_sets import DEFAULT_TEST_SEED, round_matrices, test_set
from .regression_decoding import DECODINGS, DEFAULT_NUM_CANDIDATES, regression_generate

__all__ = [
    "TOLERANCES",
    "EvaluationResult",
    "add_evaluate_command",
    "distribution_variants",
    "evaluate_model",
    "evaluate_test_sets",
    "format_accuracy_table",
    "generate_matrices",
    "json_safe",
    "load_model",
]


@dataclass
class EvaluationResult:
    """Accuracy of a model on a set of problems.

    Attributes:
        metrics (`dict[str, float]`): The problem's accuracy dict (accuracy at each tolerance, share well formed,
            mean relative error), as returned by `problem.accuracy`.
        predictions (`list[np.ndarray | None]`): The decoded predictions (`None` where malformed).
        errors (`np.ndarray`): Relative error of each prediction (inf where malformed).
        num_examples (`int`): Number of problems evaluated.
    """

    metrics: dict[str, float]
    predictions: list[np.ndarray | None] = field(repr=False)
    errors: np.ndarray = field(repr=False)
    num_examples: int = 0


def _autocast(model: torch.nn.Module, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    device_type = next(model.parameters()).device.type
    return torch.autocast(device_type, dtype=dtype)


@torch.inference_mode()
def generate_matrices(
    model: Any,
    tokenizer: Any,
    inputs: np.ndarray | Sequence[np.ndarray],
    tasks: Sequence[str] | None = None,
    max_new_tokens: int | None = None,
    batch_size: int = 256,
    num_beams: int = 1,
    num_return_sequences: int = 1,
    autocast_dtype: torch.dtype | None = None,
    progress: bool = False,
    desc: str = "generate",
    decoding: str = "greedy",
    num_candidates: int = DEFAULT_NUM_CANDIDATES,
) -> list[list[np.ndarray | None]]:
    """Solve problems with a model: encode, `generate()` in batches, decode.

    Args:
        model: A `MatrixSeq2SeqForConditionalGeneration` (or any seq2seq model over the tokenizer's vocabulary).
        tokenizer (`MatrixTokenizer`): The model's tokenizer.
        inputs (`np.ndarray` of shape `(n, rows, cols)`, or a list of 2-D arrays): The problems.
        tasks (`Sequence[str]`, *optional*): Task tokens (co-training models).
        max_new_tokens (`int`, *optional*): Generation budget; by default the model's generation config.
        batch_size (`int`, *optional*, defaults to 256): Problems per `generate()` call.
        num_beams (`int`, *optional*, defaults to 1): 1 is greedy decoding (the paper's evaluation).
        num_return_sequences (`int`, *optional*, defaults to 1): Candidates per problem (at most `num_beams`).
        autocast_dtype (`torch.dtype`, *optional*): e.g. `torch.bfloat16` for bf16 autocast inference.
        progress (`bool`, *optional*, defaults to `False`): Show a progress bar.
        desc (`str`, *optional*, defaults to `"generate"`): Its label.
        decoding (`str`, *optional*, defaults to `"greedy"`): ``"greedy"`` (`generate`, with `num_beams`), or
            ``"median"`` / ``"mean"``: each number is that statistic of the model's distribution over its value
            (`regression_generate`; one candidate per problem, no beams).
        num_candidates (`int`, *optional*, defaults to `DEFAULT_NUM_CANDIDATES`): Complete numbers whose values form
            each number's distribution (regression-aware decoding only).

    Returns:
        `list[list[np.ndarray | None]]`: for each problem, its `num_return_sequences` decoded candidates.

    Raises:
        ValueError: for an unknown `decoding`, or beams or task tokens with regression-aware decoding.
    """
    _check_decoding(decoding, num_beams, num_return_sequences)
    if decoding != "greedy" and tasks is not None:
        raise ValueError(
            f"decoding={decoding!r} writes no task token: co-training models (tasks) decode with decoding='greedy'"
        )
    device = next(model.parameters()).device
    n = len(inputs)
    out: list[list[np.ndarray | None]] = []
    with_task = tasks is not None
    steps = range(0, n, batch_size)
    for start in tqdm(steps, desc=desc, disable=not progress, total=len(steps)):
        chunk = inputs[start : start + batch_size]
        chunk_tasks = None if tasks is None else list(tasks[start : start + batch_size])
        enc = tokenizer.prepare_batch(chunk, tasks=chunk_tasks, return_tensors="pt")
        kwargs: dict[str, Any] = {"num_beams": num_beams, "num_return_sequences": num_return_sequences}
        if num_beams == 1:
            kwargs["do_sample"] = False
        if max_new_tokens is not None:  # as max_length (decoder start included), the generation config's own key
            kwargs["max_length"] = max_new_tokens + 1
        input_ids, attention_mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
        with _autocast(model, autocast_dtype):
            if decoding == "greedy":
                generated = model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
            else:
                generated = regression_generate(
                    model,
                    tokenizer,
                    input_ids,
                    attention_mask,
                    statistic=decoding,
                    num_candidates=num_candidates,
                    max_new_tokens=max_new_tokens,
                )
        decoded = tokenizer.decode_matrices(generated.cpu(), with_task=with_task)
        for i in range(len(chunk)):
            cands = decoded.matrices[i * num_return_sequences : (i + 1) * num_return_sequences]
            if with_task:  # a co-training answer must carry the task it was asked
                got = decoded.tasks[i * num_return_sequences : (i + 1) * num_return_sequences]
                cands = [m if t == chunk_tasks[i] else None for m, t in zip(cands, got)]
            out.append(list(cands))
    return out


def _check_decoding(decoding: str, num_beams: int, num_return_sequences: int = 1) -> None:
    """Raise `ValueError` for an unknown decoding, or beams asked of regression-aware decoding."""
    if decoding not in DECODINGS:
        raise ValueError(f"unknown decoding {decoding!r}; valid: {', '.join(DECODINGS)}")
    if decoding != "greedy" and (num_beams != 1 or num_return_sequences != 1):
        raise ValueError(
            f"decoding={decoding!r} writes one answer per problem; it does not combine with num_beams={num_beams} "
            f"or num_return_sequences={num_return_sequences}"
        )


def evaluate_model(
    model: Any,
    tokenizer: Any,
    problem: Any,
    inputs: np.ndarray | Sequence[np.ndarray],
    tasks: Sequence[str] | None = None,
    batch_size: int = 256,
    num_beams: int = 1,
    autocast_dtype: torch.dtype | None = None,
    tolerances: Sequence[float] = TOLERANCES,
    progress: bool = False,
    desc: str = "generate",
    decoding: str = "greedy",
    num_candidates: int = DEFAULT_NUM_CANDIDATES,
) -> EvaluationResult:
    """Accuracy of `model` on `problem` for the given inputs, at every tolerance.

    Args:
        model: The model.
        tokenizer (`MatrixTokenizer`): Its tokenizer.
        problem: The problem (its `accuracy` and `relative_errors` score the predictions).
        inputs (`np.ndarray` of shape `(n, rows, cols)` or a list of 2-D arrays): The problems, e.g. a fixed test set.
        tasks (`Sequence[str]`, *optional*): Task tokens for co-training problems.
        batch_size (`int`, *optional*, defaults to 256): Generation batch size.
        num_beams (`int`, *optional*, defaults to 1): Beam size (1 = greedy, the paper's setting).
        autocast_dtype (`torch.dtype`, *optional*): Autocast dtype for generation.
        tolerances (`Sequence[float]`, *optional*): Defaults to 5%, 2%, 1% and 0.5%.
        progress (`bool`, *optional*, defaults to `False`): Show a progress bar.
        desc (`str`, *optional*, defaults to `"generate"`): Its label.
        decoding (`str`, *optional*, defaults to `"greedy"`): ``"greedy"``, ``"median"`` or ``"mean"`` (see
            `generate_matrices`).
        num_candidates (`int`, *optional*, defaults to `DEFAULT_NUM_CANDIDATES`): For regression-aware decoding.

    Returns:
        `EvaluationResult`.
    """
    _, max_label = sequence_lengths(problem, tokenizer)
    candidates = generate_matrices(
        model,
        tokenizer,
        inputs,
        tasks=tasks,
        max_new_tokens=max_label + 1,
        batch_size=batch_size,
        num_beams=num_beams,
        autocast_dtype=autocast_dtype,
        progress=progress,
        desc=desc,
        decoding=decoding,
        num_candidates=num_candidates,
    )
    predictions = [c[0] for c in candidates]
    seen = round_matrices(inputs, tokenizer.input_encoding)  # what the model saw
    metrics = problem.accuracy(seen, predictions, tolerances=tuple(tolerances), tasks=tasks)
    errors = problem.relative_errors(seen, predictions, tasks=tasks)
    return EvaluationResult(metrics=metrics, predictions=predictions, errors=errors, num_examples=len(predictions))


def distribution_variants(problem: Any, distributions: Sequence[str]) -> dict[str, Any]:
    """The problem with each eigenvalue distribution in turn: out-of-distribution test sets (docs/problems.md).

    Args:
        problem: A problem with an ``eigen_distribution`` option (eigenvalues, eigenvectors, sym_inverse, ...).
        distributions (`Sequence[str]`): Distribution names (see `available_eigen_distributions()`).

    Returns:
        `dict[str, problem]`: distribution name -> the problem with that distribution, other options unchanged.

    Raises:
        ValueError: for a problem without the option, or an unknown distribution (the message lists the valid ones).
    """
    if "eigen_distribution" not in problem.options:
        raise ValueError(
            f"problem {problem.name!r} has no eigen_distribution option; test sets over eigenvalue distributions "
            "apply to the problems of symmetric matrices (eigenvalues, eigenvectors, sym_inverse, cotraining)"
        )
    config = problem.config_dict()
    return {str(d).strip(): get_problem({**config, "eigen_distribution": str(d).strip()}) for d in distributions}


def evaluate_test_sets(
    model: Any,
    tokenizer: Any,
    problems: dict[str, Any],
    size: int = 10_000,
    seed: int | None = None,
    batch_size: int = 256,
    num_beams: int = 1,
    autocast_dtype: torch.dtype | None = None,
    tolerances: Sequence[float] = TOLERANCES,
    progress: bool = False,
    decoding: str = "greedy",
    num_candidates: int = DEFAULT_NUM_CANDIDATES,
) -> dict[str, dict[str, float]]:
    """Accuracy of `model` on the fixed test set (`test_set`) of each problem; a problem listed twice is run once.

    Args:
        model: The model.
        tokenizer (`MatrixTokenizer`): Its tokenizer.
        problems (`dict[str, problem]`): Test-set name -> problem, e.g. ``{"test": problem}`` plus
            `distribution_variants`.
        size (`int`, *optional*, defaults to 10,000): Examples per test set.
        seed (`int`, *optional*): Test-set seed (default `DEFAULT_TEST_SEED`).
        batch_size (`int`, *optional*, defaults to 256): Generation batch size.
        num_beams (`int`, *optional*, defaults to 1): Beam size (1 = greedy, the paper's setting).
        autocast_dtype (`torch.dtype`, *optional*): Autocast dtype for generation.
        tolerances (`Sequence[float]`, *optional*): Defaults to 5%, 2%, 1% and 0.5%.
        progress (`bool`, *optional*, defaults to `False`): A progress bar per test set.
        decoding (`str`, *optional*, defaults to `"greedy"`): ``"greedy"``, ``"median"`` or ``"mean"`` (see
            `generate_matrices`).
        num_candidates (`int`, *optional*, defaults to `DEFAULT_NUM_CANDIDATES`): For regression-aware decoding.

    Returns:
        `dict[str, dict[str, float]]`: test-set name -> metrics (`EvaluationResult.metrics`), the rows of
        `format_accuracy_table`.
    """
    rows: dict[str, dict[str, float]] = {}
    done: dict[str, dict[str, float]] = {}
    for name, problem in problems.items():
        key = json.dumps(problem.config_dict(), sort_keys=True)
        if key not in done:
            data = test_set(problem, size=size, seed=seed)
            done[key] = evaluate_model(
                model,
                tokenizer,
                problem,
                data.inputs,
                tasks=data.tasks,
                batch_size=batch_size,
                num_beams=num_beams,
                autocast_dtype=autocast_dtype,
                tolerances=tolerances,
                progress=progress,
                desc=name,
                decoding=decoding,
                num_candidates=num_candidates,
            ).metrics
        rows[name] = dict(done[key])
    return rows


def format_accuracy_table(rows: dict[str, dict[str, float]], tolerances: Sequence[float] = TOLERANCES) -> str:
    """A Markdown table: one row per test set, accuracy (%) at each tolerance, and the share well formed.

    Args:
        rows (`dict[str, dict[str, float]]`): Test-set name -> metrics dict (as in `EvaluationResult.metrics`).
        tolerances (`Sequence[float]`, *optional*): Columns to show.
    """
    head = "| test set | " + " | ".join(f"{_pct(t)} tol." for t in tolerances) + " | well formed |"
    sep = "|---|" + "---:|" * (len(tolerances) + 1)
    lines = [head, sep]
    for name, m in rows.items():
        cells = [f"{100 * m[f'accuracy@{t:g}']:.2f}%" for t in tolerances]
        cells.append(f"{100 * m.get('well_formed', math.nan):.2f}%")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pct(t: float) -> str:
    return f"{100 * t:g}%"


# ------------------------------------------------------------------------------------------------ command line
def load_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> tuple[Any, Any]:
    """A model and its tokenizer from a folder or a Hub id, in float32, in eval mode, on `device`.

    Raises:
        ValueError: if nothing loadable is found there.
    """
    from .modeling_matrix_seq2seq import MatrixSeq2SeqForConditionalGeneration
    from .tokenization_matrix import MatrixTokenizer

    try:
        model = MatrixSeq2SeqForConditionalGeneration.from_pretrained(name_or_path, dtype=torch.float32)
        tokenizer = MatrixTokenizer.from_pretrained(name_or_path)
    except OSError as err:
        raise ValueError(f"cannot load a model from {name_or_path!r} (a model folder or a Hub id): {err}") from None
    return model.to(device).eval(), tokenizer


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


def json_safe(value: Any) -> Any:
    """NaN (e.g. the mean error when nothing is well formed) as `None`, infinity as ``"inf"``: strict JSON."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    return value


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
    from .cli_help import HelpFormatter
    from .problems.commands import add_problem_arguments

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
        help="greedy (the most likely tokens), or median / mean: each number is that statistic of the model's "
        "distribution over its value, number by number (regression-aware decoding; default greedy)",
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
        default="auto",
        help="bf16 autocast or fp32; auto: bf16 on CUDA with bf16 and on CPUs where it measured faster (default auto)",
    )
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda if available, else cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_problem_arguments(
        p, "Default: the options of the model's training problem that the problem has, else the problem's own."
    )
    p.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .problems.commands import describe_problem, problem_from_arguments

    for flag, value in (
        ("--size", args.size),
        ("--batch-size", args.batch_size),
        ("--num-beams", args.num_beams),
        ("--candidates", args.candidates),
    ):
        if value < 1:
            raise ValueError(f"{flag} must be >= 1; got {value}")
    _check_decoding(args.decoding, args.num_beams)
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
        sets |= distribution_variants(problem, [d for d in args.distributions.split(",") if d.strip()])
    seed = DEFAULT_TEST_SEED if args.seed is None else args.seed
    decoding = "greedy decoding" if args.num_beams == 1 else f"beam search ({args.num_beams} beams)"
    if args.decoding != "greedy":
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
            "num_candidates": args.candidates if args.decoding != "greedy" else None,
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
