"""Matrix inversion (PAPER.md sections 3 and 5; paper section 4.6).

* ``inverse``: square ``n x n`` matrices of random coefficients (the reference's ``invert_matrix``);
* ``sym_inverse``: symmetric matrices with a chosen eigenvalue distribution (the reference's ``syminverse``).

The target is ``M^-1``. An example is rejected (and resampled) when ``max|M M^-1 - I| > 1e-10`` in float64, the
reference's only filter (no condition-number filter). The check verifies the property:
``error = sum|M P - I| / n``. At three significant digits about 8% of random 5x5 inverses cannot pass it at 5%,
because of ill-conditioning (the ceiling of PAPER.md section 9).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Problem, identity_deviation
from .eigen import SymmetricProblem

__all__ = ["INVERSE_RESIDUAL_LIMIT", "Inverse", "SymInverse", "batched_inverse"]

INVERSE_RESIDUAL_LIMIT = 1e-10
"""Generation rejects matrices with ``max|M M^-1 - I|`` above this (the reference's rule, PAPER.md section 3)."""


def batched_inverse(matrices: np.ndarray) -> np.ndarray:
    """Inverses of a batch `(batch, n, n)`; exactly singular matrices give NaN instead of raising."""
    try:
        return np.linalg.inv(matrices)
    except np.linalg.LinAlgError:  # rare: at least one exactly singular matrix; invert one by one
        out = np.full(matrices.shape, np.nan)
        for i, m in enumerate(matrices):
            try:
                out[i] = np.linalg.inv(m)
            except np.linalg.LinAlgError:
                pass
        return out


class _InversionMixin:
    """Target, acceptance rule and property check shared by both inversion problems."""

    verifies_property: ClassVar[bool] = True
    name: str

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``n x n``."""
        if input_shape[0] != input_shape[1]:
            raise ValueError(f"{self.name}: inputs are square matrices; got shape {input_shape}")
        return input_shape

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """M^-1, `(batch, n, n)` -> `(batch, n, n)` (NaN for singular matrices, which are then rejected)."""
        return batched_inverse(inputs)

    def _accept(self, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        residual = inputs @ targets - np.eye(inputs.shape[1])
        return np.abs(residual).max(axis=(1, 2)) <= INVERSE_RESIDUAL_LIMIT

    def _errors(self, inputs: np.ndarray, predictions: np.ndarray) -> np.ndarray:
        return identity_deviation(inputs @ predictions)  # sum|M P - I| / n


class Inverse(_InversionMixin, Problem):
    """Invert a square matrix of random coefficients. Task token ``I``."""

    name = "inverse"
    task_token: ClassVar[str | None] = "I"

    def input_shape(self, n: int, m: int) -> tuple[int, int]:
        """``n x n``."""
        return (n, n)

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        return self.coefficients(rng, (count, n, n))


class SymInverse(_InversionMixin, SymmetricProblem):
    """Invert a symmetric matrix with a chosen eigenvalue distribution. Task token ``Y``."""

    name = "sym_inverse"
    task_token: ClassVar[str | None] = "Y"
