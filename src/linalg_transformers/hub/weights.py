"""The released weights: their storage dtype, and the check that they answer as the trained ones."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedModel

from ..evaluation import evaluate_model
from ..modeling_matrix_seq2seq import MatrixSeq2SeqForConditionalGeneration
from ..problems import get_problem, test_set
from ..scoring import MAIN_TOLERANCE
from ..tokenization_matrix import MatrixTokenizer

__all__ = [
    "DEFAULT_RELEASE_DTYPE",
    "LOAD_DTYPE",
    "RELEASE_DTYPES",
    "WeightsCheck",
    "compare_published_weights",
    "save_stored_weights",
]

RELEASE_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
"""Storage dtypes of ``model.safetensors`` in a published repository."""

DEFAULT_RELEASE_DTYPE = "float16"
"""Storage dtype of published weights by default. Measured on linalg/eigen-p1000 (2026-12-01): float16 weights gave
the trained model's greedy answer on 95.8% of the first 1,000 test problems, bfloat16 on 69% of the first 256 (its
7-bit mantissa moves the logits of neighbouring mantissa tokens past each other); both halve the file."""

LOAD_DTYPE = "float32"
"""``dtype`` written into a published config.json: what ``from_pretrained`` computes in by default. bf16 and fp16 are
emulated (slow) on most CPUs, so released weights are stored small and loaded as float32 unless the user passes
``dtype=torch.bfloat16`` (GPU)."""


def save_stored_weights(model: PreTrainedModel, out_dir: Path, dtype: torch.dtype) -> None:
    """Save a copy of ``model`` with its weights stored in ``dtype``, to load back as `LOAD_DTYPE`.

    ``config.json`` gets ``dtype`` = `LOAD_DTYPE`, so that ``from_pretrained`` computes in float32 by default.

    Args:
        model (`PreTrainedModel`): The trained model (left as it is).
        out_dir (`Path`): The folder (created if needed).
        dtype (`torch.dtype`): The storage dtype, one of `RELEASE_DTYPES`' values.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    copy.deepcopy(model).to(dtype).save_pretrained(out_dir)  # weights, config, generation config, modeling code
    config_path = out_dir / "config.json"
    config = json.loads(config_path.read_text())
    config["dtype"] = LOAD_DTYPE
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


@dataclass(frozen=True)
class WeightsCheck:
    """The published weights against the trained ones on the first `size` problems of the fixed test set.

    Attributes:
        size (`int`): Test problems compared.
        same_output (`float`): Share of problems on which both give the same greedy answer.
        accuracy_trained (`float`): Accuracy at 5% of the trained weights.
        accuracy_published (`float`): Accuracy at 5% of the published weights.
        published_dtype (`str`): The dtype the published weights load as (``from_pretrained`` defaults).
    """

    size: int
    same_output: float
    accuracy_trained: float
    accuracy_published: float
    published_dtype: str


def compare_published_weights(
    model: PreTrainedModel, published_dir: Path, tokenizer: MatrixTokenizer, problem: dict[str, Any], size: int
) -> WeightsCheck | None:
    """Compare the published weights (loaded as a user would) with the trained ones on the fixed test set.

    Args:
        model (`PreTrainedModel`): The trained model.
        published_dir (`Path`): The repository folder holding the published weights.
        tokenizer (`MatrixTokenizer`): The model's tokenizer.
        problem (`dict`): The training problem's ``config_dict()``.
        size (`int`): Test problems compared; 0 or less skips the comparison.

    Returns:
        `WeightsCheck`, or `None` when skipped.
    """
    if size <= 0:
        return None
    published = MatrixSeq2SeqForConditionalGeneration.from_pretrained(published_dir).eval()
    prob = get_problem(**problem)
    data = test_set(prob, size=size)
    tasks = getattr(data, "tasks", None)
    a = evaluate_model(model.eval(), tokenizer, prob, data.inputs, tasks=tasks, batch_size=256)
    b = evaluate_model(published, tokenizer, prob, data.inputs, tasks=tasks, batch_size=256)
    same = [
        (p is None and q is None) or (p is not None and q is not None and p.shape == q.shape and np.array_equal(p, q))
        for p, q in zip(a.predictions, b.predictions)
    ]
    return WeightsCheck(
        size=size,
        same_output=sum(same) / len(same),
        accuracy_trained=a.score.accuracy[MAIN_TOLERANCE],
        accuracy_published=b.score.accuracy[MAIN_TOLERANCE],
        published_dtype=str(published.dtype).removeprefix("torch."),
    )
