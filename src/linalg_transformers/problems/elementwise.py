"""Transposition and addition (PAPER.md section 3; paper sections 4.1 and 4.2).

Both have a unique answer, compared with the solution of the given input (d1: ``sum|P - T| / sum|T|``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Problem

__all__ = ["Add", "Transpose"]


class Transpose(Problem):
    """Transpose an ``n x m`` matrix (``m = n`` unless ``rectangular``). Task token ``T``."""

    name = "transpose"
    task_token: ClassVar[str | None] = "T"
    supports_rectangular: ClassVar[bool] = True

    def input_shape(self, n: int, m: int) -> tuple[int, int]:
        """``n x m``."""
        return (n, m)

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``m x n``."""
        return (input_shape[1], input_shape[0])

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        return self.coefficients(rng, (count, n, m))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """M^T, `(batch, n, m)` -> `(batch, m, n)`."""
        return np.ascontiguousarray(np.swapaxes(inputs, 1, 2))


class Add(Problem):
    """Add two ``n x m`` matrices given side by side as one ``n x 2m`` input ``[A | B]``. Task token ``A``.

    The reference's ``matrix_sum``; the target is ``A + B`` (``n x m``).
    """

    name = "add"
    task_token: ClassVar[str | None] = "A"
    supports_rectangular: ClassVar[bool] = True

    def input_shape(self, n: int, m: int) -> tuple[int, int]:
        """``n x 2m``: ``[A | B]``."""
        return (n, 2 * m)

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``n x m``."""
        rows, cols = input_shape
        if cols % 2:
            raise ValueError(f"add: inputs are [A | B] with an even number of columns; got shape {input_shape}")
        return (rows, cols // 2)

    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        return self.coefficients(rng, (count, n, 2 * m))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """A + B, `(batch, n, 2m)` -> `(batch, n, m)`."""
        m = inputs.shape[2] // 2
        return inputs[:, :, :m] + inputs[:, :, m:]
