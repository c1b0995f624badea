"""Matrix-vector and matrix products (PAPER.md section 3; paper section 4.3).

The layouts are the reference's (PAPER.md section 11, quirk 14): the input packs both operands side by side and the
product is taken with the *transpose* of the first one:

* ``matvec``: input ``[A | v]`` (``n x (m+1)``, A is ``n x m``), target ``A^T v`` (``m x 1``);
* ``matmul``: input ``[A | B]`` (``n x 2m``, both ``n x m``), target ``A^T B`` (``m x m``). With ``rectangular``,
  only the shared (inner) dimension n varies independently.

Both have a unique answer, compared with the product computed from the given input (d1).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Problem

__all__ = ["MatMul", "MatVec"]


class MatVec(Problem):
    """Matrix-vector product ``A^T v`` with the input ``[A | v]``. Task token ``D``."""

    name = "matvec"
    task_token: ClassVar[str | None] = "D"
    supports_rectangular: ClassVar[bool] = True

    def input_shape(self, n: int, m: int) -> tuple[int, int]:
        """``n x (m + 1)``: A then v as the last column."""
        return (n, m + 1)

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``m x 1``."""
        if input_shape[1] < 2:
            raise ValueError(f"matvec: inputs are [A | v] with at least 2 columns; got shape {input_shape}")
        return (input_shape[1] - 1, 1)

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        return self.coefficients(rng, (count, n, m + 1))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """A^T v, `(batch, n, m + 1)` -> `(batch, m, 1)`."""
        return np.swapaxes(inputs[:, :, :-1], 1, 2) @ inputs[:, :, -1:]


class MatMul(Problem):
    """Matrix product ``A^T B`` with the input ``[A | B]``. Task token ``M``."""

    name = "matmul"
    task_token: ClassVar[str | None] = "M"
    supports_rectangular: ClassVar[bool] = True

    def input_shape(self, n: int, m: int) -> tuple[int, int]:
        """``n x 2m``: ``[A | B]``, n the inner dimension."""
        return (n, 2 * m)

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``m x m``."""
        if input_shape[1] % 2:
            raise ValueError(f"matmul: inputs are [A | B] with an even number of columns; got shape {input_shape}")
        m = input_shape[1] // 2
        return (m, m)

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        return self.coefficients(rng, (count, n, 2 * m))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """A^T B, `(batch, n, 2m)` -> `(batch, m, m)`."""
        m = inputs.shape[2] // 2
        return np.swapaxes(inputs[:, :, :m], 1, 2) @ inputs[:, :, m:]
