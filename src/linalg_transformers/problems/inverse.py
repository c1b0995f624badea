"""Matrix inversion (paper section 4.6; docs/problems.md#inverse, docs/problems.md#sym_inverse).

* ``inverse``: square ``n x n`` matrices of random coefficients (the reference's ``invert_matrix``);
* ``sym_inverse``: symmetric matrices with a chosen eigenvalue distribution (the reference's ``syminverse``).

The target is ``M^-1``. An example is rejected (and resampled) when ``max|M M^-1 - I| > 1e-10`` in float64, the
reference's only filter (no condition-number filter). The check verifies the property:
``error = sum|M P - I| / n``. At three significant digits about 8% of random 5x5 inverses cannot pass it at 5%,
because of ill-conditioning (docs/problems.md#ceilings). Layout, solution and check:
`linalg_transformers.verification.InverseCheck`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..verification import InverseCheck, batched_inverse
from .base import Problem
from .eigen import SymmetricProblem

__all__ = ["INVERSE_RESIDUAL_LIMIT", "Inverse", "SymInverse", "batched_inverse"]

INVERSE_RESIDUAL_LIMIT = 1e-10
"""Generation rejects matrices with ``max|M M^-1 - I|`` above this.

The reference's rule; docs/problems.md#rejection.
"""


class _InversionMixin(InverseCheck):
    """The check of `InverseCheck` plus the acceptance rule shared by both inversion problems."""

    def _accept(self, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        residual = inputs @ targets - np.eye(inputs.shape[1])
        return np.abs(residual).max(axis=(1, 2)) <= INVERSE_RESIDUAL_LIMIT


class Inverse(_InversionMixin, Problem):
    """Invert a square matrix of random coefficients. Task token ``I``."""

    name = "inverse"
    task_token: ClassVar[str | None] = "I"

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        return self.coefficients(rng, (count, n, n))


class SymInverse(_InversionMixin, SymmetricProblem):
    """Invert a symmetric matrix with a chosen eigenvalue distribution. Task token ``Y``."""

    name = "sym_inverse"
    task_token: ClassVar[str | None] = "Y"
