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
_VALUE_SCALES = np.array([0.3, 1.0, 3.0, 10.0, 30.0, 100.0])
_VALUE_PERIODS = np.array([0.05, 0.2, 1.0, 5.0, 20.0, 80.0])
_FP15 = re.compile(r"^N(-?)(\d+)e(\d+)$")
_SIGNED_MANTISSA = re.compile(r"^N(-?\d+)$")
_EXPONENT = re.compile(r"^E(-?\d+)$")


def _unit(values: np.ndarray) -> np.ndarray:
    """Scale a feature group to unit norm, so that no group outweighs the others by its number of features."""
    norm = np.linalg.norm(values)
    return values / norm if norm > 0 else values


def _mantissa_features(m: float) -> np.ndarray:
    """Fourier features of a mantissa in [0, 1000): smooth in m at every scale (unit norm)."""
    phase = 2 * np.pi * _FREQUENCIES * m / 1000.0
    return _unit(np.array([*np.cos(phase), *np.sin(phase), m / 1000.0]))


def _exponent_features(e: float) -> np.ndarray:
    phase = 2 * np.pi * np.array([1, 2, 4]) * e / 40.0
    return _unit(np.array([*np.cos(phase), *np.sin(phase), e / 20.0]))


def _value_features(v: float) -> np.ndarray:
    """Features of a signed value (unit norm): odd saturating ramps at six scales, Fourier features at six periods.

    The ramps ``tanh(v / c)`` carry the sign and the magnitude (3.14 and -3.14 point in opposite directions, 3.14 and
    0.314 differ at the scales 0.3 to 3); the Fourier features resolve neighbouring values down to about 0.01.
    """
    phase = 2 * np.pi * v / _VALUE_PERIODS
    return _unit(np.array([*np.tanh(v / _VALUE_SCALES), *(np.cos(phase) / 2), *(np.sin(phase) / 2)]))


_M, _E, _V = 2 * len(_FREQUENCIES) + 1, 7, len(_VALUE_SCALES) + 2 * len(_VALUE_PERIODS)
NUM_FEATURES = 4 + _M + _E + _V
"""Kind flags (sign, mantissa, exponent, value), mantissa features, exponent features, value features."""

VALUE_WEIGHT = 2.0
"""Weight of the value group of an FP15 token against its sign flag and its mantissa and exponent groups (each 1).

The first numeric_init weighed each FP15 token by 27 mantissa features against one sign flag and 7 exponent
features: the embeddings of 3.14 and -3.14 started at cosine 0.88, of 3.14 and 0.314 at 0.98 (d=64), nearly blind
to sign and scale. With unit-norm groups and the value group at twice the weight: -0.10 and 0.71, while 0.999 and
1.00 (mantissas 999 and 100) start at 0.83 (tests)."""


def numeric_token_features(token: str) -> np.ndarray | None:
    """Features of a number token (P10/P1000 digits and mantissas, exponents, signs, B1999 and FP15 tokens).

    Returns:
        `np.ndarray` of shape `(NUM_FEATURES,)`, or `None` for tokens that are not numbers (special, task, ``V``).
    """
    features = np.zeros(NUM_FEATURES)
    kind, mantissa, exponent, value = (
        features[:4],
        features[4 : 4 + _M],
        features[4 + _M : 4 + _M + _E],
        features[4 + _M + _E :],
    )
    if token in ("+", "-"):
        kind[0] = 1.0 if token == "+" else -1.0
    elif token.isdigit():
        kind[1], mantissa[:] = 1.0, _mantissa_features(float(token))
    elif match := _EXPONENT.match(token):
        kind[2], exponent[:] = 1.0, _exponent_features(float(match.group(1)))
    elif match := _SIGNED_MANTISSA.match(token):
        m = float(match.group(1))
        kind[0], kind[1], mantissa[:] = np.sign(m), 1.0, _mantissa_features(abs(m))
    elif match := _FP15.match(token):
        sign = -1.0 if match.group(1) else 1.0
        m, e = float(match.group(2)), float(match.group(3)) - 9  # value m * 10**(e - 9), docs/encodings.md#fp15
        kind[0], kind[3] = sign, 1.0
        mantissa[:], exponent[:] = _mantissa_features(m), _exponent_features(e)
        value[:] = VALUE_WEIGHT * _value_features(sign * m * 10.0**e)
    else:
        return None
    return features


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
