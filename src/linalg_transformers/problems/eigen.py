"""Eigenvalues and eigenvectors of symmetric matrices (paper sections 4.4 and 4.5).

See docs/problems.md#eigenvalues and docs/problems.md#eigenvectors.

Inputs are symmetric ``n x n`` matrices drawn with an eigenvalue distribution (`distributions.symmetric_matrices`,
``semicircle`` by default; ``eigen_distribution`` picks another or a comma-separated mixture). Input noise is added
symmetrically, so noisy inputs stay symmetric.

* ``eigenvalues``: target ``n x 1``, the eigenvalues in descending order, computed with the symmetric solver
  (``eigvalsh``), so they are never complex (the reference's general solver can return complex values and silently
  drops those examples, docs/reference-code.md#item-6). Checked against the eigenvalues of the given input (d1).
* ``eigenvectors``: target ``(n + 1) x n``, row 0 the eigenvalues and rows 1..n the matrix Q whose columns are the
  eigenvectors. Eigenvalues are in descending order here too (the reference lists them ascending in this task only,
  docs/reference-code.md#item-5), and each eigenvector's largest entry is positive (the reference keeps LAPACK's
  arbitrary signs). The check verifies the defining property: ``D = diag(row 0)``,
  ``error = max(sum|Q^T M Q - D| / sum|D|, sum|Q^T Q - I| / n)``. The orthogonality term closes the reference's gaps
  (docs/reference-code.md#item-4): a scaled ``(c Q, c^2 D)`` and an all-zero prediction fail.

Layouts, solutions and checks: `linalg_transformers.verification` (`EigenvaluesCheck`, `EigenvectorsCheck`).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from ..verification import EigenvaluesCheck, EigenvectorsCheck, symmetric_part
from .base import Problem
from .distributions import symmetric_matrices

__all__ = ["Eigenvalues", "Eigenvectors", "SymmetricProblem", "symmetric_part"]


class SymmetricProblem(Problem):
    """A problem on symmetric ``n x n`` matrices with an eigenvalue distribution (option ``eigen_distribution``)."""

    symmetric: ClassVar[bool] = True

    def input_shape(self, n: int, m: int) -> tuple[int, int]:
        """``n x n``."""
        return (n, n)

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        o = self.options
        return symmetric_matrices(rng, count, n, o["coeff_range"], o["coeff_distribution"], o["eigen_distribution"])

    def _add_noise(self, rng: np.random.Generator, inputs: np.ndarray) -> np.ndarray:
        """Symmetric Gaussian noise (lower triangle drawn, mirrored) of std ``noise * A / sqrt(3)``."""
        std = self.options["noise"] * self.options["coeff_range"] / math.sqrt(3.0)
        e = rng.normal(0.0, std, inputs.shape)
        return inputs + np.tril(e) + np.swapaxes(np.tril(e, -1), 1, 2)


class Eigenvalues(EigenvaluesCheck, SymmetricProblem):
    """Eigenvalues of a symmetric matrix, descending, as an ``n x 1`` column. Task token ``E``."""

    name = "eigenvalues"
    task_token: ClassVar[str | None] = "E"


class Eigenvectors(EigenvectorsCheck, SymmetricProblem):
    """Eigen-decomposition ``(n + 1) x n``: eigenvalues (row 0) over the eigenvectors (columns). Task token ``F``."""

    name = "eigenvectors"
    task_token: ClassVar[str | None] = "F"
