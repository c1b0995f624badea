"""Fixed, seeded test sets, and their export as Hugging Face `datasets` (parquet).

``test_set(problem)`` draws ``size`` examples (10,000 by default, the reference's ``eval_size``) from a stream seeded
by `seed` (default `DEFAULT_TEST_SEED`) and *separated from every training stream*: its seed sequence carries a spawn
key, so no training seed of up to four integers (``[run_seed, rank, worker, step]``) reproduces it. Test sets are
drawn without input noise (``noise`` is a training augmentation, docs/problems.md#inputs), so a model trained with
noise is scored on the same set as one trained without.

The same problem, size and seed give the same bytes (`ProblemBatch.fingerprint`) with the same numpy. Inputs drawn
from the random stream alone (every problem except the eigenvalue distributions other than ``semicircle``) and
element-wise targets are exact on any machine; targets from LAPACK (eigen, SVD, inverse, products) may differ in the
last bit between BLAS builds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..encodings import get_encoding
from ..scoring import TOLERANCES, Score
from ..verification import shape_groups
from .base import BaseProblem, ProblemBatch, _pack
from .registry import get_problem

__all__ = [
    "DATASET_FORMATS",
    "DEFAULT_TEST_SEED",
    "TEST_STREAM_KEY",
    "batch_from_dataset",
    "dataset_format",
    "round_matrices",
    "rounding_ceiling",
    "test_set",
    "test_set_rng",
    "to_dataset",
    "write_dataset",
]

DEFAULT_TEST_SEED = 2022
"""Seed of the standard test sets (the year of the paper's TMLR version)."""

TEST_STREAM_KEY = 0x7E57
"""Spawn key that separates test-set streams from training streams."""


def test_set_rng(seed: int | None = None) -> np.random.Generator:
    """The random stream of the test set with `seed` (default `DEFAULT_TEST_SEED`)."""
    seed = DEFAULT_TEST_SEED if seed is None else seed
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(TEST_STREAM_KEY,)))


def test_set(problem: BaseProblem | str | dict[str, Any], size: int = 10_000, seed: int | None = None) -> ProblemBatch:
    """The fixed test set of a problem: reproducible byte for byte, never overlapping training streams.

    Args:
        problem: A problem, a name, or a `config_dict()`.
        size (`int`, *optional*, defaults to 10,000): Number of examples.
        seed (`int`, *optional*): Defaults to `DEFAULT_TEST_SEED` (2022).

    Returns:
        `ProblemBatch` (inputs without noise; `tasks` for co-training).
    """
    problem = get_problem(problem)
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 0:
        raise ValueError(f"size must be a non-negative int; got {size!r}")
    return problem._generate(int(size), test_set_rng(seed), add_noise=False)


test_set.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite its name


def _token_strings(matrices: np.ndarray | list[np.ndarray], encoding: str) -> list[str]:
    """Each matrix written as space-separated tokens, batched per shape."""
    enc = get_encoding(encoding)
    symbols = np.asarray(enc.symbols, dtype=object)
    out = [""] * len(matrices)
    for _, idx, x in shape_groups(matrices):
        encoded = enc.encode_batch(x)
        for j, i in enumerate(idx):
            out[i] = " ".join(symbols[encoded.symbols[j, : encoded.lengths[j]]])
    return out


def to_dataset(
    problem: BaseProblem | str | dict[str, Any],
    encoding: str = "P1000",
    size: int = 10_000,
    seed: int | None = None,
    input_encoding: str | None = None,
    output_encoding: str | None = None,
    batch: ProblemBatch | None = None,
    tokens: bool = True,
) -> Any:
    """A test set as a `datasets.Dataset`: numbers and token strings (save with `write_dataset` or ``.to_parquet``).

    Args:
        problem: A problem, a name, or a `config_dict()`.
        encoding (`str`, *optional*, defaults to `"P1000"`): Encoding of both token columns.
        size (`int`, *optional*, defaults to 10,000): Test-set size.
        seed (`int`, *optional*): Test-set seed (default `DEFAULT_TEST_SEED`).
        input_encoding (`str`, *optional*): Encoding of ``input_tokens`` (default: `encoding`).
        output_encoding (`str`, *optional*): Encoding of ``target_tokens`` (default: `encoding`).
        batch (`ProblemBatch`, *optional*): Export these examples instead of the test set (`size` unused; `seed` is
            only recorded in the description).
        tokens (`bool`, *optional*, defaults to `True`): Write the token columns; without them the encodings are
            unused (and recorded as `None`).

    Returns:
        `datasets.Dataset` with columns ``input`` and ``target`` (lists of rows of float64, exact),
        ``input_tokens`` and ``target_tokens`` (e.g. ``"V2 V1 + 314 E-2 - 500 E-3"``, without task token; only with
        `tokens`) and ``task`` (the task token, or `None`). ``info.description`` holds the problem, seed and encodings
        as JSON.
    """
    import datasets

    problem = get_problem(problem)
    if batch is None:
        batch = test_set(problem, size=size, seed=seed)
    enc_in = get_encoding(input_encoding or encoding).name if tokens else None
    enc_out = get_encoding(output_encoding or encoding).name if tokens else None
    n = len(batch)
    tasks = batch.tasks if batch.tasks is not None else [problem.task_token] * n
    matrix = datasets.List(datasets.List(datasets.Value("float64")))
    data: dict[str, list] = {
        "input": [np.asarray(m).tolist() for m in batch.inputs],
        "target": [np.asarray(m).tolist() for m in batch.targets],
    }
    columns: dict[str, Any] = {"input": matrix, "target": matrix}
    if tokens:
        data["input_tokens"] = _token_strings(batch.inputs, enc_in)
        data["target_tokens"] = _token_strings(batch.targets, enc_out)
        columns |= {"input_tokens": datasets.Value("string"), "target_tokens": datasets.Value("string")}
    data["task"] = tasks
    columns["task"] = datasets.Value("string")
    features = datasets.Features(columns)
    description = {
        "problem": problem.config_dict(),
        "seed": DEFAULT_TEST_SEED if seed is None else seed,
        "size": n,
        "input_encoding": enc_in,
        "output_encoding": enc_out,
        "fingerprint": batch.fingerprint(),
    }
    info = datasets.DatasetInfo(description=json.dumps(description), features=features)
    return datasets.Dataset.from_dict(data, features=features, info=info)


DATASET_FORMATS = {".parquet": "parquet", ".jsonl": "jsonl"}
"""File formats of `write_dataset`, by file suffix."""

METADATA_KEY = b"linalg_transformers"
"""Key of the dataset's description (problem, seed, encodings, fingerprint) in a parquet file's schema metadata."""


def dataset_format(path: str | Path, format: str | None = None) -> str:
    """The format of a dataset file: `format` if given, else from the suffix (``.parquet`` or ``.jsonl``).

    Raises:
        ValueError: for an unknown format or suffix.
    """
    formats = sorted(set(DATASET_FORMATS.values()))
    if format is not None:
        if format not in formats:
            raise ValueError(f"unknown dataset format {format!r}; valid: {', '.join(formats)}")
        return format
    suffix = Path(path).suffix.lower()
    if suffix not in DATASET_FORMATS:
        raise ValueError(
            f"cannot tell the format of {str(path)!r} from its suffix; name it *.parquet or *.jsonl, or give the "
            f"format ({', '.join(formats)})"
        )
    return DATASET_FORMATS[suffix]


def write_dataset(
    dataset: Any, path: str | Path, format: str | None = None, metadata: dict[str, Any] | None = None
) -> str:
    """Write a dataset made by `to_dataset` to a parquet or JSON-lines file, numbers exact.

    Args:
        dataset (`datasets.Dataset`): The examples.
        path (`str` or `Path`): The file (its parent folders are created).
        format (`str`, *optional*): ``"parquet"`` or ``"jsonl"``; by default from the suffix of `path`.
        metadata (`dict`, *optional*): JSON-able description stored in a parquet file's schema metadata under
            `METADATA_KEY` (default: the dataset's ``info.description``); JSON lines carry no metadata.

    Returns:
        `str`: the format written.
    """
    import pyarrow.parquet as pq

    fmt = dataset_format(path, format)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        if dataset._indices is not None:  # a selection of rows: write those rows, not the underlying table
            dataset = dataset.flatten_indices()
        table = dataset.data.table  # keeps datasets' own schema metadata, so `Dataset.from_parquet` restores features
        description = json.dumps(metadata) if metadata is not None else dataset.info.description or "{}"
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), METADATA_KEY: description.encode()})
        pq.write_table(table, path)
    else:  # one JSON object per line; Python's float repr round-trips exactly (pandas' to_json rounds to 10 digits)
        with path.open("w") as f:
            for rows in dataset.iter(batch_size=1024):
                keys = list(rows)
                for values in zip(*rows.values()):
                    f.write(json.dumps(dict(zip(keys, values))) + "\n")
    return fmt


def batch_from_dataset(dataset: Any, problem: BaseProblem | str | dict[str, Any]) -> ProblemBatch:
    """The examples of an exported dataset (or its parquet file loaded back) as a `ProblemBatch`.

    Args:
        dataset: A `datasets.Dataset` made by `to_dataset`.
        problem: The problem it was made from (tells whether examples carry task tokens).
    """
    problem = get_problem(problem)
    inputs = _pack([np.asarray(m, dtype=np.float64) for m in dataset["input"]])
    targets = _pack([np.asarray(m, dtype=np.float64) for m in dataset["target"]])
    tasks = list(dataset["task"]) if problem.uses_task_tokens else None
    return ProblemBatch(inputs=inputs, targets=targets, tasks=tasks)


def round_matrices(matrices: np.ndarray | list[np.ndarray], encoding: str) -> np.ndarray | list[np.ndarray]:
    """Matrices as an encoding writes them (decoded back), e.g. the inputs a model sees."""
    enc = get_encoding(encoding)
    if isinstance(matrices, np.ndarray):
        return enc.round(matrices)
    return [enc.round(np.asarray(m)) for m in matrices]


def rounding_ceiling(
    problem: BaseProblem | str | dict[str, Any],
    input_encoding: str = "FP15",
    output_encoding: str = "P1000",
    size: int = 10_000,
    seed: int | None = None,
    tolerances: tuple[float, ...] = TOLERANCES,
) -> Score:
    """The best accuracy a model writing three significant digits can reach on the test set.

    See docs/problems.md#ceilings.

    The exact solution rounded by the output encoding is checked, with the problem's own check, against the input
    rounded by the input encoding (what the model sees).

    Returns:
        `Score`: the score (`BaseProblem.score`) of those rounded solutions, e.g. ``.accuracy[0.05]``.
    """
    problem = get_problem(problem)
    data = test_set(problem, size=size, seed=seed)
    seen = round_matrices(data.inputs, input_encoding)
    answers = round_matrices(data.targets, output_encoding)
    return problem.score(seen, answers, tasks=data.tasks, tolerances=tolerances)
