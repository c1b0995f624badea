"""Training data: an endless, seeded stream of tokenized problems, and the collator that batches it.

Examples are generated in chunks (one vectorized `problem.generate` and one vectorized tokenizer call per chunk) and
then handed out one by one, so the data loader never waits on per-example Python work. Chunk ``k`` of a stream is
seeded with ``(seed, rank, k)`` and data-loader workers take interleaved chunks: streams of different processes and
workers never overlap, the same seed gives the same stream on any machine, and a resumed run continues the stream at
the example where it stopped (`ProblemStream.start_example`) instead of replaying it.

**Repeated examples** (two-set training, Charton and Kempe, "Emergent properties with repeated examples", arXiv
2410.07041): with ``repeat_pool_size=K`` and ``repeat_prob=p``, each example of the stream is, with probability p, one
of a fixed pool of K examples (drawn uniformly, so pool examples repeat), and otherwise the stream's own fresh example
at that position. Which positions come from the pool, and which pool example, is drawn from a seed stream of its own
per chunk, so example ``i`` is a function of ``(seed, rank, i)``: the stream still resumes at an exact example, and
``p = 0`` is the plain stream. The pool is drawn from a seed stream that no training or test seed reaches (its spawn
key `POOL_STREAM_KEY`), is the same for every rank and worker, and leaves out any example whose input is in
``exclude_inputs`` (training passes the fixed test sets), so the repeated examples never include a test problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .tokenization_matrix import MatrixTokenizer

__all__ = [
    "MIX_STREAM_KEY",
    "POOL_STREAM_KEY",
    "MatrixDataCollator",
    "ProblemStream",
    "input_keys",
    "sequence_lengths",
    "tokenize_examples",
]

POOL_STREAM_KEY = 0x9E9E
"""Spawn key of the seed stream of the repeated pool (the test sets use `problems.test_sets.TEST_STREAM_KEY`)."""

MIX_STREAM_KEY = 0x313C
"""Spawn key of the seed stream that draws which examples of a chunk come from the repeated pool."""

POOL_BLOCK = 4096
"""Pool examples generated per vectorized call (fixed, so that the pool does not depend on `chunk_size`)."""


def tokenize_examples(tokenizer: MatrixTokenizer, batch: Any) -> dict[str, np.ndarray]:
    """Model inputs and labels (numpy, padded) for a `ProblemBatch` of any problem, co-training included."""
    tasks = getattr(batch, "tasks", None)
    enc = tokenizer.prepare_batch(batch.inputs, batch.targets, tasks=tasks, return_tensors="np")
    return {k: np.asarray(v) for k, v in enc.items()}


def input_keys(tokenized: dict[str, np.ndarray]) -> list[bytes]:
    """One hashable key per example: the bytes of its unpadded ``input_ids`` (int64).

    Args:
        tokenized (`dict`): `tokenize_examples` output: ``input_ids`` and ``attention_mask`` of shape `(n, length)`.

    Returns:
        `list[bytes]` of length `n`; two examples have the same key iff the model reads the same input tokens.
    """
    ids = np.asarray(tokenized["input_ids"], dtype=np.int64)
    lengths = np.asarray(tokenized["attention_mask"]).astype(bool).sum(axis=1)
    return [ids[i, : lengths[i]].tobytes() for i in range(len(ids))]


class ProblemStream(IterableDataset):
    """An endless stream of tokenized examples of one problem.

    Args:
        problem: A problem from `linalg_transformers.problems.get_problem`.
        tokenizer (`MatrixTokenizer`): Writes the examples as ids.
        seed (`int`): Run seed.
        rank (`int`, *optional*, defaults to 0): Process index; streams of different ranks never overlap.
        chunk_size (`int`, *optional*, defaults to 1024): Examples generated per vectorized call.
        start_example (`int`, *optional*, defaults to 0): Position in the stream to start from (set when resuming:
            the examples already trained on).
        repeat_pool_size (`int`, *optional*, defaults to 0): K, the size of the fixed pool of repeated examples
            (0: no pool, every example is fresh).
        repeat_prob (`float`, *optional*, defaults to 0.0): p, the probability that an example comes from the pool.
        exclude_inputs (`Iterable[bytes]`, *optional*): `input_keys` of examples the pool must not contain (the
            fixed test sets).

    Yields:
        `dict` with `input_ids` and `labels` (1-D int64 arrays, unpadded).

    Raises:
        ValueError: for a non-positive chunk size, a negative pool size, a probability outside [0, 1], a pool without
            a probability or a probability without a pool.
    """

    def __init__(
        self,
        problem: Any,
        tokenizer: MatrixTokenizer,
        seed: int,
        rank: int = 0,
        chunk_size: int = 1024,
        start_example: int = 0,
        repeat_pool_size: int = 0,
        repeat_prob: float = 0.0,
        exclude_inputs: Iterable[bytes] | None = None,
    ) -> None:
        super().__init__()
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive; got {chunk_size}")
        if isinstance(repeat_pool_size, bool) or not isinstance(repeat_pool_size, int) or repeat_pool_size < 0:
            raise ValueError(f"repeat_pool_size must be a non-negative int; got {repeat_pool_size!r}")
        if not 0.0 <= repeat_prob <= 1.0:
            raise ValueError(f"repeat_prob must be in [0, 1]; got {repeat_prob!r}")
        if (repeat_pool_size > 0) != (repeat_prob > 0):
            raise ValueError(
                "repeated examples need both repeat_pool_size > 0 and repeat_prob > 0; got "
                f"repeat_pool_size={repeat_pool_size}, repeat_prob={repeat_prob}"
            )
        self.problem, self.tokenizer = problem, tokenizer
        self.seed, self.rank, self.chunk_size = int(seed), int(rank), int(chunk_size)
        self.start_example = int(start_example)
        self.repeat_pool_size, self.repeat_prob = int(repeat_pool_size), float(repeat_prob)
        self.exclude_inputs = frozenset(exclude_inputs or ())
        self._pool: dict[str, np.ndarray] | None = None

    def chunk(self, index: int) -> dict[str, np.ndarray]:
        """The tokenized chunk number `index` of this rank's stream (padded numpy arrays)."""
        batch = self.problem.generate(self.chunk_size, seed=[self.seed, self.rank, index])
        return tokenize_examples(self.tokenizer, batch)

    def pool(self) -> dict[str, np.ndarray]:
        """The fixed pool of repeated examples (built once): padded ``input_ids``, ``labels`` and ``attention_mask``.

        Pool block ``j`` is drawn with ``SeedSequence([seed, j], spawn_key=(POOL_STREAM_KEY,))``; examples whose input
        is in `exclude_inputs` are left out, and the first `repeat_pool_size` others are kept.

        Raises:
            ValueError: if the pool cannot be filled outside `exclude_inputs` (a problem with few distinct inputs).
        """
        if self._pool is not None:
            return self._pool
        parts: list[dict[str, np.ndarray]] = []
        have, block = 0, 0
        max_blocks = 10 * (-(-self.repeat_pool_size // POOL_BLOCK)) + 10
        while have < self.repeat_pool_size:
            if block >= max_blocks:
                raise ValueError(
                    f"could not draw {self.repeat_pool_size} pool examples outside the excluded (test) inputs in "
                    f"{max_blocks * POOL_BLOCK} draws: the problem has too few distinct inputs for this pool"
                )
            seed = np.random.SeedSequence([self.seed, block], spawn_key=(POOL_STREAM_KEY,))
            data = tokenize_examples(self.tokenizer, self.problem.generate(POOL_BLOCK, seed=seed))
            keep = np.array([key not in self.exclude_inputs for key in input_keys(data)], dtype=bool)
            keep &= np.cumsum(keep) <= self.repeat_pool_size - have
            parts.append({k: v[keep] for k, v in data.items()})
            have += int(keep.sum())
            block += 1
        self._pool = {key: _concat_padded([p[key] for p in parts], key) for key in parts[0]}
        return self._pool

    def _pool_draws(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """For chunk `index`: which positions come from the pool `(chunk_size,)` bool, and which example, int64."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.rank, index], spawn_key=(MIX_STREAM_KEY,)))
        from_pool = rng.random(self.chunk_size) < self.repeat_prob
        return from_pool, rng.integers(0, self.repeat_pool_size, size=self.chunk_size)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        first, skip = divmod(self.start_example, self.chunk_size)
        index = first + worker  # workers interleave chunks, so a resume point stays exact
        pool = self.pool() if self.repeat_pool_size else None
        if pool is not None:
            pool_in, pool_out = pool["attention_mask"].astype(bool), pool["labels"] != -100
        while True:
            from_pool, which = (
                self._pool_draws(index) if pool is not None else (np.zeros(self.chunk_size, dtype=bool), None)
            )
            data = None if from_pool.all() else self.chunk(index)
            if data is not None:
                keep_in, keep_out = data["attention_mask"].astype(bool), data["labels"] != -100
            for i in range(skip if index == first else 0, self.chunk_size):
                if from_pool[i]:
                    j = which[i]
                    yield {"input_ids": pool["input_ids"][j, pool_in[j]], "labels": pool["labels"][j, pool_out[j]]}
                else:
                    yield {"input_ids": data["input_ids"][i, keep_in[i]], "labels": data["labels"][i, keep_out[i]]}
            index += workers


def _concat_padded(arrays: list[np.ndarray], key: str) -> np.ndarray:
    """Concatenate padded `(n_i, length_i)` arrays along the batch, padding to the longest (labels with -100)."""
    width = max(a.shape[1] for a in arrays)
    fill = -100 if key == "labels" else 0
    out = np.full((sum(len(a) for a in arrays), width), fill, dtype=arrays[0].dtype)
    row = 0
    for a in arrays:
        out[row : row + len(a), : a.shape[1]] = a
        row += len(a)
    return out


@dataclass
class MatrixDataCollator:
    """Pad a list of examples into a batch: `input_ids` with the pad id, `labels` with -100.

    Args:
        pad_token_id (`int`): Padding id of the inputs.
    """

    pad_token_id: int

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Batch `features` (dicts of 1-D id arrays) into padded tensors with an attention mask."""

        def pad(key: str, value: int) -> np.ndarray:
            rows = [np.asarray(f[key]) for f in features]
            out = np.full((len(rows), max(len(r) for r in rows)), value, dtype=np.int64)
            for i, r in enumerate(rows):
                out[i, : len(r)] = r
            return out

        input_ids = pad("input_ids", self.pad_token_id)
        lengths = np.array([len(f["input_ids"]) for f in features])
        batch = {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(
                (np.arange(input_ids.shape[1])[None] < lengths[:, None]).astype(np.int64)
            ),
        }
        if "labels" in features[0]:
            batch["labels"] = torch.from_numpy(pad("labels", -100))
        return batch


def sequence_lengths(problem: Any, tokenizer: MatrixTokenizer) -> tuple[int, int]:
    """Longest input and label sequences a problem can produce with this tokenizer (framing and task token included).

    Labels do not include the decoder start token; with the reference ``lawt`` framing, inputs carry ``<s>`` twice.
    """
    enc_in, enc_out = tokenizer._side("input")[0], tokenizer._side("output")[0]
    task = int(bool(getattr(problem, "uses_task_tokens", False)))
    framing = 2 if tokenizer.framing == "lawt" else 1
    max_in = enc_in.sequence_length(*problem.max_input_shape) + task + framing
    max_label = enc_out.sequence_length(*problem.max_output_shape) + task + 1
    return max_in, max_label
