"""Matrix-vector and matrix products (paper section 4.3; docs/problems.md#matvec, docs/problems.md#matmul).

The layouts are the reference's (docs/reference-code.md#item-14): the input packs both operands side by side and the
product is taken with the *transpose* of the first one:

* ``matvec``: input ``[A | v]`` (``n x (m+1)``, A is ``n x m``), target ``A^T v`` (``m x 1``);
* ``matmul``: input ``[A | B]`` (``n x 2m``, both ``n x m``), target ``A^T B`` (``m x m``). With ``rectangular``,
  only the shared (inner) dimension n varies independently.

Both have a unique answer, compared with the product computed from the given input (d1). Layouts, solutions and
checks: `linalg_transformers.verification` (`MatVecCheck`, `MatMulCheck`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..verification import MatMulCheck, MatVecCheck
from .base import Problem

__all__ = ["MatMul", "MatVec"]


class MatVec(MatVecCheck, Problem):
    """Matrix-vector product ``A^T v`` with the input ``[A | v]``. Task token ``D``."""

    name = "matvec"
    task_token: ClassVar[str | None] = "D"
    supports_rectangular: ClassVar[bool] = True

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        return self.coefficients(rng, (count, n, m + 1))


class MatMul(MatMulCheck, Problem):
    """Matrix product ``A^T B`` with the input ``[A | B]``. Task token ``M``."""

    name = "matmul"
    task_token: ClassVar[str | None] = "M"
    supports_rectangular: ClassVar[bool] = True

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        return self.coefficients(rng, (count, n, 2 * m))
