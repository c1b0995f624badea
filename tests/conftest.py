"""Shared test fixtures: tiny random models, the P1000 tokenizer, and a toy user problem.

Helpers that tests call with their own parameters are plain functions (``from conftest import tiny_model``); objects
that are slow to build and only read are session-scoped fixtures.

- `tiny_config` / `tiny_model` / `save_tiny_model`: a random `MatrixSeq2SeqForConditionalGeneration` of
  `TINY_SIZES` (d_model 32, one encoder and one decoder layer), sized for a tokenizer; any config argument can be
  overridden (`save_tiny_model` writes it with its tokenizer as a model folder, as training does).
- `p1000_tokenizer`, `tiny_p1000_model`: the P1000 -> P1000 tokenizer and a tiny model for it, in eval mode.
- `Trace`, `registered_problem`, `trace_problem`: a user's problem (the trace, 1 x 1) and its registration for the
  length of a test.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers reads it: nothing in the tests reaches the network

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from linalg_transformers import MatrixSeq2SeqConfig, MatrixSeq2SeqForConditionalGeneration, MatrixTokenizer  # noqa: E402
from linalg_transformers.problems import Problem, register_problem  # noqa: E402
from linalg_transformers.problems.registry import _REGISTRY  # noqa: E402

# ------------------------------------------------------------------------------------------------- tiny models
TINY_SIZES: dict[str, Any] = {
    "d_model": 32,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
    "max_position_embeddings": 64,
}
"""Sizes of the tiny test models: fast on a CPU, long enough for 2x2 to 5x5 problems in P1000."""


def tiny_config(tokenizer: MatrixTokenizer | None = None, **overrides: Any) -> MatrixSeq2SeqConfig:
    """A `MatrixSeq2SeqConfig` of `TINY_SIZES`, with the vocabulary sizes of `tokenizer` if given.

    Args:
        tokenizer (`MatrixTokenizer`, *optional*): Sets ``vocab_size`` and ``decoder_vocab_size``.
        **overrides: Any config argument (e.g. ``training_problem``, ``max_position_embeddings``, or
            ``encoder_ffn_dim=None`` for the config's default width).
    """
    args: dict[str, Any] = dict(TINY_SIZES)
    if tokenizer is not None:
        args |= {"vocab_size": tokenizer.vocab_size, "decoder_vocab_size": tokenizer.output_vocab_size}
    return MatrixSeq2SeqConfig(**(args | overrides))


def tiny_model(
    tokenizer: MatrixTokenizer | None = None, seed: int = 0, **overrides: Any
) -> MatrixSeq2SeqForConditionalGeneration:
    """A random tiny model (`tiny_config`), its weights drawn after ``torch.manual_seed(seed)``, in eval mode."""
    torch.manual_seed(seed)
    return MatrixSeq2SeqForConditionalGeneration(tiny_config(tokenizer, **overrides)).eval()


def save_tiny_model(folder: Path, tokenizer: MatrixTokenizer | None = None, seed: int = 0, **overrides: Any) -> Path:
    """Write a `tiny_model` and its tokenizer (by default P1000 -> P1000) into `folder`, a loadable model folder."""
    tokenizer = tokenizer or MatrixTokenizer(input_encoding="P1000", output_encoding="P1000")
    tiny_model(tokenizer, seed=seed, **overrides).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def p1000_tokenizer() -> MatrixTokenizer:
    """The P1000 -> P1000 tokenizer, shared: tests must not change it."""
    return MatrixTokenizer(input_encoding="P1000", output_encoding="P1000")


@pytest.fixture(scope="session")
def tiny_p1000_model(p1000_tokenizer) -> MatrixSeq2SeqForConditionalGeneration:
    """A `tiny_model` for `p1000_tokenizer` (seed 0, eval mode), shared: tests must not change or train it."""
    return tiny_model(p1000_tokenizer)


# ------------------------------------------------------------------------------------------------ toy problem
class Trace(Problem):
    """A user's problem: the trace of a square matrix, as a 1 x 1 matrix (task token ``R``)."""

    task_token = "R"

    def input_shape(self, n, m):
        return (n, n)

    def output_shape(self, input_shape):
        return (1, 1)

    def _sample(self, rng, count, n, m):
        return self.coefficients(rng, (count, n, n))

    def solve(self, inputs):
        return np.trace(inputs, axis1=1, axis2=2)[:, None, None]


@contextlib.contextmanager
def registered_problem(name: str, factory: Any) -> Iterator[str]:
    """Register `factory` as the problem `name` (replacing one of that name) while the block runs; yields `name`."""
    register_problem(name, factory, overwrite=True)
    try:
        yield name
    finally:
        _REGISTRY.pop(name, None)


@pytest.fixture
def trace_problem() -> Iterator[str]:
    """`Trace` registered as ``"trace"`` for one test; yields the name."""
    with registered_problem("trace", Trace) as name:
        yield name
