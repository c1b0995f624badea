"""Evaluate a model on a problem: batched generation, batched decoding, and the problem's own check.

This is the one evaluation path of the package: training (`training/train.py`), the command line
(``linalg-transformers evaluate``) and the release numbers in the model cards all call `evaluate_model`.
The check is applied to the input *as the model saw it* (rounded by the input encoding), as in the reference code
(PAPER.md section 3), but with no teacher-forced exact-match shortcut (bug 8 of section 11): every prediction is
decoded and checked numerically.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .data import sequence_lengths
from .problems.base import TOLERANCES
from .problems.test_sets import round_matrices

__all__ = [
    "TOLERANCES",
    "EvaluationResult",
    "evaluate_model",
    "format_accuracy_table",
    "generate_matrices",
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

    Returns:
        `list[list[np.ndarray | None]]`: for each problem, its `num_return_sequences` decoded candidates.
    """
    device = next(model.parameters()).device
    n = len(inputs)
    out: list[list[np.ndarray | None]] = []
    with_task = tasks is not None
    steps = range(0, n, batch_size)
    for start in tqdm(steps, desc="generate", disable=not progress, total=len(steps)):
        chunk = inputs[start : start + batch_size]
        chunk_tasks = None if tasks is None else list(tasks[start : start + batch_size])
        enc = tokenizer.prepare_batch(chunk, tasks=chunk_tasks, return_tensors="pt")
        kwargs: dict[str, Any] = {"num_beams": num_beams, "num_return_sequences": num_return_sequences}
        if num_beams == 1:
            kwargs["do_sample"] = False
        if max_new_tokens is not None:  # as max_length (decoder start included), the generation config's own key
            kwargs["max_length"] = max_new_tokens + 1
        with _autocast(model, autocast_dtype):
            generated = model.generate(
                input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device), **kwargs
            )
        decoded = tokenizer.decode_matrices(generated.cpu(), with_task=with_task)
        for i in range(len(chunk)):
            cands = decoded.matrices[i * num_return_sequences : (i + 1) * num_return_sequences]
            if with_task:  # a co-training answer must carry the task it was asked
                got = decoded.tasks[i * num_return_sequences : (i + 1) * num_return_sequences]
                cands = [m if t == chunk_tasks[i] else None for m, t in zip(cands, got)]
            out.append(list(cands))
    return out


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
    )
    predictions = [c[0] for c in candidates]
    seen = round_matrices(inputs, tokenizer.input_encoding)  # what the model saw
    metrics = problem.accuracy(seen, predictions, tolerances=tuple(tolerances), tasks=tasks)
    errors = problem.relative_errors(seen, predictions, tasks=tasks)
    return EvaluationResult(metrics=metrics, predictions=predictions, errors=errors, num_examples=len(predictions))


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
