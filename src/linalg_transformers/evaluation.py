"""Evaluate a model on a problem: batched generation, batched decoding, and the problem's own check.

This is the one evaluation path of the package: training (`training/train.py`), the command line
(``linalg-transformers evaluate``) and the release numbers in the model cards all call `evaluate_model`.
The check is applied to the input *as the model saw it* (rounded by the input encoding), as in the reference code
(docs/problems.md, "The check"), but with no teacher-forced exact-match shortcut (docs/reference-code.md, item 8):
every prediction is decoded and checked numerically. `evaluate_test_sets` scores a model on the fixed test sets of
several problems (e.g. the training problem and its variants over eigenvalue distributions, `distribution_variants`),
as the final report of a training run and ``linalg-transformers evaluate`` do. Every function takes ``decoding``:
``"greedy"`` (the paper's, `generate`), ``"grammar"`` (`generate` within the output grammar,
`linalg_transformers.grammar`), or ``"median"`` / ``"mean"``, regression-aware decoding
(`linalg_transformers.regression_decoding`).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import LogitsProcessorList

from .data import sequence_lengths
from .grammar import MatrixGrammarLogitsProcessor
from .problems.registry import get_problem
from .problems.test_sets import round_matrices, test_set
from .regression_decoding import DEFAULT_NUM_CANDIDATES, GENERATE_DECODINGS, check_decoding, regression_generate
from .scoring import TOLERANCES, Score

__all__ = [
    "EvaluationResult",
    "distribution_names",
    "distribution_variants",
    "evaluate_model",
    "evaluate_test_sets",
    "generate_matrices",
    "json_safe",
    "load_model",
]


@dataclass
class EvaluationResult:
    """Accuracy of a model on a set of problems.

    Attributes:
        score (`Score`): The problem's score of the predictions (`problem.score`): errors, well formed, correct and
            accuracy at each tolerance.
        predictions (`list[np.ndarray | None]`): The decoded predictions (`None` where malformed).
    """

    score: Score
    predictions: list[np.ndarray | None] = field(repr=False)

    @property
    def metrics(self) -> dict[str, float]:
        """The flat metrics of the score (`Score.metrics`): a row of ``results.json`` and of the accuracy table."""
        return self.score.metrics()

    @property
    def errors(self) -> np.ndarray:
        """Relative error of each prediction `(n,)`, infinite where malformed."""
        return self.score.errors

    @property
    def num_examples(self) -> int:
        """Number of problems evaluated."""
        return len(self.score)


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
    output_shapes: Sequence[tuple[int, int]] | None = None,
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
        decoding (`str`, *optional*, defaults to `"greedy"`): ``"greedy"`` (`generate`, with `num_beams`),
            ``"grammar"`` (the same within the output grammar, `MatrixGrammarLogitsProcessor`: every answer well
            formed), or ``"median"`` / ``"mean"``: each number is that statistic of the model's distribution over its
            value (`regression_generate`; one candidate per problem, no beams).
        num_candidates (`int`, *optional*, defaults to `DEFAULT_NUM_CANDIDATES`): Complete numbers whose values form
            each number's distribution (regression-aware decoding only).
        output_shapes (`Sequence[tuple[int, int]]`, *optional*): The answer's shape for each problem; with
            ``decoding="grammar"`` the header is then that shape's (default: any header), and with `tasks` each
            answer's task token is the one asked.

    Returns:
        `list[list[np.ndarray | None]]`: for each problem, its `num_return_sequences` decoded candidates.

    Raises:
        ValueError: for an unknown `decoding`, or beams or task tokens with regression-aware decoding.
    """
    check_decoding(decoding, num_beams, num_return_sequences)
    if output_shapes is not None and len(output_shapes) != len(inputs):
        raise ValueError(f"output_shapes has {len(output_shapes)} shapes for {len(inputs)} problems")
    if decoding not in GENERATE_DECODINGS and tasks is not None:
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
            if decoding in GENERATE_DECODINGS:
                if decoding == "grammar":
                    shapes = None if output_shapes is None else output_shapes[start : start + batch_size]
                    processor = MatrixGrammarLogitsProcessor(tokenizer, shapes=shapes, tasks=chunk_tasks)
                    kwargs["logits_processor"] = LogitsProcessorList([processor])
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
        problem: The problem (its `score` scores the predictions).
        inputs (`np.ndarray` of shape `(n, rows, cols)` or a list of 2-D arrays): The problems, e.g. a fixed test set.
        tasks (`Sequence[str]`, *optional*): Task tokens for co-training problems.
        batch_size (`int`, *optional*, defaults to 256): Generation batch size.
        num_beams (`int`, *optional*, defaults to 1): Beam size (1 = greedy, the paper's setting).
        autocast_dtype (`torch.dtype`, *optional*): Autocast dtype for generation.
        tolerances (`Sequence[float]`, *optional*): Defaults to 5%, 2%, 1% and 0.5%.
        progress (`bool`, *optional*, defaults to `False`): Show a progress bar.
        desc (`str`, *optional*, defaults to `"generate"`): Its label.
        decoding (`str`, *optional*, defaults to `"greedy"`): ``"greedy"``, ``"grammar"`` (within the output grammar
            and the problem's answer shape), ``"median"`` or ``"mean"`` (see `generate_matrices`).
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
        output_shapes=_output_shapes(problem, inputs, tasks),
    )
    predictions = [c[0] for c in candidates]
    seen = round_matrices(inputs, tokenizer.input_encoding)  # what the model saw
    score = problem.score(seen, predictions, tasks=tasks, tolerances=tuple(tolerances))
    return EvaluationResult(score=score, predictions=predictions)


def _output_shapes(
    problem: Any, inputs: np.ndarray | Sequence[np.ndarray], tasks: Sequence[str] | None
) -> list[tuple[int, int]]:
    """The answer's shape for each input: the problem's, or for co-training the shape of each task's problem."""
    if tasks is None:
        return [problem.output_shape(np.shape(x)) for x in inputs]
    return [problem.problems[t].output_shape(np.shape(x)) for x, t in zip(inputs, tasks)]


def distribution_names(spec: str | None) -> list[str]:
    """The eigenvalue distributions of a comma-separated list (``--distributions``, ``extra_test_distributions``).

    Args:
        spec (`str`, *optional*): Comma-separated distribution names, e.g. ``"laplace, positive"``; names are
            stripped and empty entries skipped.

    Returns:
        `list[str]`: The names, in order (empty for `None` or an empty string).
    """
    return [d.strip() for d in (spec or "").split(",") if d.strip()]


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
        decoding (`str`, *optional*, defaults to `"greedy"`): ``"greedy"``, ``"grammar"`` (within the output grammar
            and the problem's answer shape), ``"median"`` or ``"mean"`` (see `generate_matrices`).
        num_candidates (`int`, *optional*, defaults to `DEFAULT_NUM_CANDIDATES`): For regression-aware decoding.

    Returns:
        `dict[str, dict[str, float]]`: test-set name -> metrics (`EvaluationResult.metrics`), the rows of
        `linalg_transformers.scoring.format_accuracy_table`.
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


# ------------------------------------------------------------------------------------------------ loading
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


def json_safe(value: Any) -> Any:
    """NaN (e.g. the mean error when nothing is well formed) as `None`, infinity as ``"inf"``: strict JSON."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    return value
