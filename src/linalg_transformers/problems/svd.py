"""Singular values and singular value decomposition (PAPER.md section 3; paper section 4.7).

Inputs are ``n x m`` matrices (``m = n`` unless ``rectangular``), ``k = min(n, m)``.

* ``singular_values``: target ``k x 1``, descending. Checked against the singular values of the given input (d1),
  correctly: the reference multiplies instead of subtracting and marks almost every answer wrong (bug 1).
* ``svd``: target ``(1 + n + m) x k``: row 0 the singular values (descending), then U (``n x k``), then V
  (``m x k``), singular vectors as columns; each column of U has its largest entry positive (V follows). The check
  verifies the property: with ``S = diag(row 0)``, ``error = max(sum|U^T M V - S| / sum|S|, sum|U^T U - I| / k,
  sum|V^T V - I| / k, sum|min(S, 0)| / sum|S|)``: the decomposition, orthonormal U and V, non-negative singular
  values.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Problem, identity_deviation, normalize_signs, ratio

__all__ = ["SVD", "SingularValues"]


class SingularValues(Problem):
    """Singular values of an ``n x m`` matrix, descending, as a ``k x 1`` column. Task token ``S``."""

    name = "singular_values"
    task_token: ClassVar[str | None] = "S"
    supports_rectangular: ClassVar[bool] = True

    def input_shape(self, n: int, m: int) -> tuple[int, int]:
        """``n x m``."""
        return (n, m)

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``min(n, m) x 1``."""
        return (min(input_shape), 1)

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        return self.coefficients(rng, (count, n, m))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """`(batch, n, m)` -> `(batch, k, 1)`."""
        return np.linalg.svd(inputs, compute_uv=False)[:, :, None]


class SVD(Problem):
    """Singular value decomposition ``(1 + n + m) x k``: singular values, U, V. Task token ``U``."""

    name = "svd"
    task_token: ClassVar[str | None] = "U"
    supports_rectangular: ClassVar[bool] = True
    verifies_property: ClassVar[bool] = True

    def input_shape(self, n: int, m: int) -> tuple[int, int]:
        """``n x m``."""
        return (n, m)

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``(1 + n + m) x min(n, m)``."""
        n, m = input_shape
        return (1 + n + m, min(n, m))

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        return self.coefficients(rng, (count, n, m))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """`(batch, n, m)` -> `(batch, 1 + n + m, k)`."""
        u, s, vh = np.linalg.svd(inputs, full_matrices=False)
        u, v = normalize_signs(u, np.swapaxes(vh, 1, 2))
        return np.concatenate([s[:, None, :], u, v], axis=1)

    def _errors(self, inputs: np.ndarray, predictions: np.ndarray) -> np.ndarray:
        n = inputs.shape[1]
        s, u, v = predictions[:, 0, :], predictions[:, 1 : 1 + n, :], predictions[:, 1 + n :, :]
        residual = np.swapaxes(u, 1, 2) @ inputs @ v  # (b, k, k)
        idx = np.arange(s.shape[1])
        residual[:, idx, idx] -= s
        scale = np.abs(s).sum(axis=1)
        errors = [
            ratio(np.abs(residual).sum(axis=(1, 2)), scale),
            identity_deviation(np.swapaxes(u, 1, 2) @ u),
            identity_deviation(np.swapaxes(v, 1, 2) @ v),
            ratio(np.abs(np.minimum(s, 0.0)).sum(axis=1), scale),
        ]
        return np.maximum.reduce(errors)
