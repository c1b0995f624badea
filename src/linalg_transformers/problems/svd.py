"""Singular values and singular value decomposition (paper section 4.7).

See docs/problems.md#singular_values and docs/problems.md#svd.

Inputs are ``n x m`` matrices (``m = n`` unless ``rectangular``), ``k = min(n, m)``.

* ``singular_values``: target ``k x 1``, descending. Checked against the singular values of the given input (d1),
  correctly: the reference multiplies instead of subtracting and marks almost every answer wrong
  (docs/reference-code.md#item-1).
* ``svd``: target ``(1 + n + m) x k``: row 0 the singular values (descending), then U (``n x k``), then V
  (``m x k``), singular vectors as columns; each column of U has its largest entry positive (V follows). The check
  verifies the property: with ``S = diag(row 0)``, ``error = max(sum|U^T M V - S| / sum|S|, sum|U^T U - I| / k,
  sum|V^T V - I| / k, sum|min(S, 0)| / sum|S|)``: the decomposition, orthonormal U and V, non-negative singular
  values.

Layouts, solutions and checks: `linalg_transformers.verification` (`SingularValuesCheck`, `SVDCheck`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..verification import SingularValuesCheck, SVDCheck
from .base import Problem

__all__ = ["SVD", "SingularValues"]


class SingularValues(SingularValuesCheck, Problem):
    """Singular values of an ``n x m`` matrix, descending, as a ``k x 1`` column. Task token ``S``."""

    name = "singular_values"
    task_token: ClassVar[str | None] = "S"
    supports_rectangular: ClassVar[bool] = True

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        return self.coefficients(rng, (count, n, m))


class SVD(SVDCheck, Problem):
    """Singular value decomposition ``(1 + n + m) x k``: singular values, U, V. Task token ``U``."""

    name = "svd"
    task_token: ClassVar[str | None] = "U"
    supports_rectangular: ClassVar[bool] = True

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        return self.coefficients(rng, (count, n, m))
