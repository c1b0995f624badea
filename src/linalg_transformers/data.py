"""Training data: an endless, seeded stream of tokenized problems, and the collator that batches it.

Examples are generated in chunks (one vectorized `problem.generate` and one vectorized tokenizer call per chunk) and
then handed out one by one, so the data loader never waits on per-example Python work. Chunk ``k`` of a stream is
seeded with ``(seed, rank, k)`` and data-loader workers take interleaved chunks: streams of different processes and
workers never overlap, the same seed gives the same stream on any machine, and a resumed run continues the stream at
the example where it stopped (`ProblemStream.start_example`) instead of replaying it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .tokenization_matrix import MatrixTokenizer

__all__ = ["MatrixDataCollator", "ProblemStream", "sequence_lengths", "tokenize_examples"]


def tokenize_examples(tokenizer: MatrixTokenizer, batch: Any) -> dict[str, np.ndarray]:
    """Model inputs and labels (numpy, padded) for a `ProblemBatch` of any problem, co-training included."""
    tasks = getattr(batch, "tasks", None)
    enc = tokenizer.prepare_batch(batch.inputs, batch.targets, tasks=tasks, return_tensors="np")
    return {k: np.asarray(v) for k, v in enc.items()}


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

    Yields:
        `dict` with `input_ids`, `attention_mask` and `labels` (1-D int64 arrays, unpadded).
    """

    def __init__(
        self,
        problem: Any,
        tokenizer: MatrixTokenizer,
        seed: int,
        rank: int = 0,
        chunk_size: int = 1024,
        start_example: int = 0,
    ) -> None:
        super().__init__()
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive; got {chunk_size}")
        self.problem, self.tokenizer = problem, tokenizer
        self.seed, self.rank, self.chunk_size = int(seed), int(rank), int(chunk_size)
        self.start_example = int(start_example)

    def chunk(self, index: int) -> dict[str, np.ndarray]:
        """The tokenized chunk number `index` of this rank's stream (padded numpy arrays)."""
        batch = self.problem.generate(self.chunk_size, seed=[self.seed, self.rank, index])
        return tokenize_examples(self.tokenizer, batch)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        first, skip = divmod(self.start_example, self.chunk_size)
        index = first + worker  # workers interleave chunks, so a resume point stays exact
        while True:
            data = self.chunk(index)
            keep_in, keep_out = data["attention_mask"].astype(bool), data["labels"] != -100
            for i in range(skip if index == first else 0, self.chunk_size):
                yield {"input_ids": data["input_ids"][i, keep_in[i]], "labels": data["labels"][i, keep_out[i]]}
            index += workers


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
