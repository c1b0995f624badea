"""Numeric initialization of the token embeddings: neighbouring numbers start with neighbouring embeddings.

With P1000 the output layer is a 1,000-way classification of the mantissa, and a randomly initialized embedding knows
nothing of 179 being next to 180: measured on our 5x5 eigenvalue run, after 512,000 examples the model had learned the
signs, exponents and format (per-token loss near 0) while each mantissa still cost 5 to 6.6 nats out of ln 900 = 6.8.
Giving every number token an embedding that is a fixed random projection of Fourier features of its value (in the
spirit of FoNE-style number embeddings) makes the logits a smooth function of the mantissa from the first step.

It only sets initial values: the embeddings stay ordinary trained parameters, and a saved model is a plain
`MatrixSeq2Seq` checkpoint. Opt in with ``--numeric_init`` in `training/train.py`.
"""

from __future__ import annotations

import re

import numpy as np
import torch

__all__ = ["numeric_token_features", "apply_numeric_init"]

_FREQUENCIES = np.array([1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377])
_FP15 = re.compile(r"^N(-?)(\d+)e(\d+)$")
_SIGNED_MANTISSA = re.compile(r"^N(-?\d+)$")
_EXPONENT = re.compile(r"^E(-?\d+)$")


def _mantissa_features(m: float) -> list[float]:
    """Fourier features of a mantissa in [0, 1000): smooth in m at every scale."""
    phase = 2 * np.pi * _FREQUENCIES * m / 1000.0
    return [*np.cos(phase), *np.sin(phase), m / 1000.0]


def _exponent_features(e: float) -> list[float]:
    phase = 2 * np.pi * np.array([1, 2, 4]) * e / 40.0
    return [*np.cos(phase), *np.sin(phase), e / 20.0]


NUM_FEATURES = 4 + 2 * len(_FREQUENCIES) + 1 + 7
"""Kind flags (sign, mantissa, exponent, value), mantissa features, exponent features."""


def numeric_token_features(token: str) -> np.ndarray | None:
    """Features of a number token (P10/P1000 digits and mantissas, exponents, signs, B1999 and FP15 tokens).

    Returns:
        `np.ndarray` of shape `(NUM_FEATURES,)`, or `None` for tokens that are not numbers (special, task, ``V``).
    """
    zeros_m, zeros_e = [0.0] * (2 * len(_FREQUENCIES) + 1), [0.0] * 7
    if token in ("+", "-"):
        return np.array([1.0 if token == "+" else -1.0, 0, 0, 0, *zeros_m, *zeros_e])
    if token.isdigit():
        return np.array([0, 1.0, 0, 0, *_mantissa_features(float(token)), *zeros_e])
    if match := _EXPONENT.match(token):
        return np.array([0, 0, 1.0, 0, *zeros_m, *_exponent_features(float(match.group(1)))])
    if match := _SIGNED_MANTISSA.match(token):
        m = float(match.group(1))
        return np.array([np.sign(m), 1.0, 0, 0, *_mantissa_features(abs(m)), *zeros_e])
    if match := _FP15.match(token):
        sign = -1.0 if match.group(1) else 1.0
        m, e = float(match.group(2)), float(match.group(3)) - 9  # value m * 10**(e - 9), PAPER.md section 1
        return np.array([sign, 0, 0, 1.0, *_mantissa_features(m), *_exponent_features(e)])
    return None


@torch.no_grad()
def apply_numeric_init(model: torch.nn.Module, tokenizer: object, seed: int = 0) -> int:
    """Set the embedding rows of number tokens to a fixed random projection of their features.

    Works on the input embedding and, when separate, the decoder embedding (and thus the tied output layer). Each
    table keeps its own scale: rows are rescaled to the mean norm of the table's randomly initialized rows.

    Args:
        model: A `MatrixSeq2SeqForConditionalGeneration`.
        tokenizer (`MatrixTokenizer`): Gives the token of each id.
        seed (`int`, *optional*, defaults to 0): Seed of the projection.

    Returns:
        `int`: the number of token ids initialized.
    """
    vocab = tokenizer.get_vocab()
    feats = {i: f for t, i in vocab.items() if (f := numeric_token_features(t)) is not None}
    ids = np.array(sorted(feats))
    matrix = np.stack([feats[i] for i in ids])
    tables = {id(m.weight): m for m in (model.get_input_embeddings(), model.get_output_embeddings()) if m is not None}
    rng = np.random.default_rng(seed)
    for emb in tables.values():
        weight = emb.weight
        rows = ids[ids < weight.shape[0]]
        projection = rng.standard_normal((NUM_FEATURES, weight.shape[1])) / np.sqrt(NUM_FEATURES)
        values = torch.tensor(matrix[: len(rows)] @ projection, dtype=weight.dtype)
        target = weight.norm(dim=1).mean()
        values = values * (target / values.norm(dim=1).clamp(min=1e-6)).unsqueeze(1)
        weight[torch.as_tensor(rows)] = values
    return len(ids)
