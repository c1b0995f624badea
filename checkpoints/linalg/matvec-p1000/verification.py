"""What each problem's answer is and how an answer is checked: one copy, shared by `problems/` and the pipelines.

A problem (`linalg_transformers.problems`) is a generator plus a check. This module holds the check half, numpy only:
the input and output layouts, the exact solution, and the relative error of a prediction (d1 to the solution, or how
far it is from satisfying the defining property; linalg-transformers docs/problems.md#the-check). The problem classes
inherit these classes (``class Transpose(TransposeCheck, Problem)``) and add generation; the pipelines
(`pipeline_matrix.py`) verify every answer with the same classes. It is a flat module that imports nothing from the
package, so it travels with a model as Hub remote code (transformers copies only sibling modules imported relatively,
never a subpackage).

Conventions of the checks:

* A prediction is *well formed* if it is a finite real matrix of the expected shape; a malformed prediction gets an
  infinite error, never an exception.
* What is made of the errors (the tolerances, correct iff ``0 <= error < t``, accuracy, tables) is the flat module
  `linalg_transformers.scoring`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "AddCheck",
    "Check",
    "EigenvaluesCheck",
    "EigenvectorsCheck",
    "InverseCheck",
    "MatMulCheck",
    "MatVecCheck",
    "SVDCheck",
    "SingularValuesCheck",
    "TransposeCheck",
    "batched_inverse",
    "identity_deviation",
    "invariant_errors",
    "normalize_signs",
    "prediction_array",
    "ratio",
    "relative_l1",
    "shape_groups",
    "square_size",
    "stack_predictions",
    "symmetric_part",
]


# ------------------------------------------------------------------------------------------- check arithmetic
def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Relative errors ``numerator / denominator`` with the edge cases settled once.

    A zero denominator gives 0 if the numerator is 0 too (an exact answer to a zero problem) and infinity otherwise;
    NaN (overflow in a check) gives infinity.

    Args:
        numerator (`np.ndarray` of shape `(batch,)`): Error sums.
        denominator (`np.ndarray` of shape `(batch,)`): Reference sums (non-negative).

    Returns:
        `np.ndarray` of shape `(batch,)`: non-negative errors, possibly infinite.
    """
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    with np.errstate(all="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(num == 0, 0.0, np.inf))
    return np.where(np.isnan(out), np.inf, out)


def _l1(x: np.ndarray) -> np.ndarray:
    """Entrywise L1 norm of each matrix of a batch `(batch, r, c)` -> `(batch,)`."""
    return np.abs(x).sum(axis=(1, 2))


def relative_l1(prediction: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """d1 error (linalg-transformers docs/problems.md#the-check): ``sum|P - R| / sum|R|``, batched.

    Args:
        prediction (`np.ndarray` of shape `(batch, r, c)`): Predictions.
        reference (`np.ndarray` of shape `(batch, r, c)`): Exact answers.

    Returns:
        `np.ndarray` of shape `(batch,)`.
    """
    with np.errstate(all="ignore"):
        return ratio(_l1(prediction - reference), _l1(reference))


def identity_deviation(gram: np.ndarray) -> np.ndarray:
    """``sum|G - I| / k`` for Gram matrices G of shape `(batch, k, k)`: how far columns are from orthonormal.

    The scale is ``|I|_1 = k``, as in the inversion check. Columns scaled by ``c`` give ``|c^2 - 1|``.
    """
    k = gram.shape[-1]
    with np.errstate(all="ignore"):
        return ratio(_l1(gram - np.eye(k)), np.full(gram.shape[0], float(k)))


# --------------------------------------------------------------------------------------- matrix helpers
def symmetric_part(x: np.ndarray) -> np.ndarray:
    """``(X + X^T) / 2`` of a batch `(batch, n, n)`: the matrix the symmetric solvers read."""
    return 0.5 * (x + np.swapaxes(x, 1, 2))


def normalize_signs(vectors: np.ndarray, *companions: np.ndarray) -> tuple[np.ndarray, ...]:
    """Flip columns so that each column's entry of largest magnitude is positive.

    LAPACK returns eigenvectors and singular vectors with arbitrary signs; the reference keeps them (noisy training
    targets; linalg-transformers docs/problems.md#eigenvectors). Fixing the sign makes targets a function of the
    input. `companions` (e.g. V of an SVD) get the same column flips.

    Args:
        vectors (`np.ndarray` of shape `(batch, rows, k)`): Column vectors.
        *companions (`np.ndarray` of shape `(batch, any, k)`): Flipped along with `vectors`.

    Returns:
        The flipped arrays, `vectors` first.
    """
    pivot = np.abs(vectors).argmax(axis=1)  # (batch, k)
    sign = np.sign(np.take_along_axis(vectors, pivot[:, None, :], axis=1))  # (batch, 1, k)
    sign[sign == 0] = 1.0
    return (vectors * sign, *(c * sign for c in companions))


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


def square_size(input_shape: tuple[int, int], what: str) -> int:
    """``n`` of an ``n x n`` input shape.

    Raises:
        ValueError: naming `what` (the problem) if the shape is not square.
    """
    if input_shape[0] != input_shape[1]:
        raise ValueError(f"{what}: inputs are square matrices; got shape {input_shape}")
    return input_shape[0]


def invariant_errors(inputs: np.ndarray, values: np.ndarray, trace: bool = True) -> dict[str, np.ndarray]:
    """Eigenvalues or singular values checked against invariants of their matrix, without solving it.

    Necessary conditions for a right answer, not sufficient ones (any values with the right sum and sum of squares
    pass): ``trace_error = |tr M - sum(l)| / sum|l|`` (eigenvalues of a symmetric matrix; below about ``t`` for an
    answer correct at tolerance ``t``) and ``frobenius_error = | |M|_F - sqrt(sum l^2) | / |M|_F`` (eigenvalues of a
    symmetric matrix and singular values of any matrix).

    Args:
        inputs (`np.ndarray` of shape `(batch, n, m)`): The matrices.
        values (`np.ndarray` of shape `(batch, k)`): Their predicted eigenvalues (``n == m``) or singular values.
        trace (`bool`, *optional*, defaults to `True`): Also check the trace (eigenvalues only).

    Returns:
        `dict[str, np.ndarray]`: ``trace_error`` (with `trace`) and ``frobenius_error``, each of shape `(batch,)`.
    """
    out = {}
    with np.errstate(all="ignore"):
        if trace:
            out["trace_error"] = ratio(
                np.abs(np.trace(inputs, axis1=1, axis2=2) - values.sum(axis=1)), np.abs(values).sum(axis=1)
            )
        norm = np.sqrt((inputs**2).sum(axis=(1, 2)))
        out["frobenius_error"] = ratio(np.abs(norm - np.sqrt((values**2).sum(axis=1))), norm)
    return out


# --------------------------------------------------------------------------------------- scoring a batch
def prediction_array(p: Any, shape: tuple[int, int]) -> np.ndarray | None:
    """A prediction as a float matrix of `shape`, or `None` if it is not one (missing, ragged, complex, NaN...)."""
    if p is None:
        return None
    try:
        a = np.asarray(p)
        if np.iscomplexobj(a) or not (np.issubdtype(a.dtype, np.number) or a.dtype == object):
            return None
        a = a.astype(np.float64)
    except (TypeError, ValueError):
        return None
    if a.ndim == 1 and shape[1] == 1:  # a vector given flat
        a = a[:, None]
    if a.shape != shape or not np.isfinite(a).all():
        return None
    return a


def shape_groups(matrices: np.ndarray | list[np.ndarray]) -> list[tuple[tuple[int, int], np.ndarray, np.ndarray]]:
    """Group a batch by shape: `[(shape, indices, stacked matrices (k, r, c))]`."""
    if isinstance(matrices, np.ndarray):
        return [(matrices.shape[1:], np.arange(len(matrices)), matrices)] if len(matrices) else []
    groups: dict[tuple[int, int], list[int]] = {}
    for i, m in enumerate(matrices):
        groups.setdefault(m.shape, []).append(i)
    return [(shape, np.asarray(idx), np.stack([matrices[i] for i in idx])) for shape, idx in groups.items()]


def stack_predictions(predictions: Any, idx: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Predictions `idx` as an array `(k, *shape)` (zeros where malformed) and the well-formed mask `(k,)`."""
    if isinstance(predictions, np.ndarray) and predictions.ndim == 3 and predictions.shape[1:] == shape:
        p = predictions[idx]
        if np.iscomplexobj(p):
            return np.zeros((len(idx), *shape)), np.zeros(len(idx), dtype=bool)
        p = p.astype(np.float64, copy=False)
        ok = np.isfinite(p).all(axis=(1, 2))
        return np.where(ok[:, None, None], p, 0.0), ok
    out = np.zeros((len(idx), *shape))
    ok = np.zeros(len(idx), dtype=bool)
    for j, i in enumerate(idx):
        a = prediction_array(predictions[i], shape)
        if a is not None:
            out[j], ok[j] = a, True
    return out, ok


# ------------------------------------------------------------------------------------------- the checks
class Check(ABC):
    """The answer half of a problem: input and output layouts, the exact solution, and the check.

    Subclasses define `input_shape`, `output_shape` and `solve`, and override `_errors` when the answer is checked by
    a property instead of compared with `solve`'s (then set `verifies_property`). `dims` inverts `input_shape` for
    layouts that pack several operands.

    Class attributes:
        name (`str`): The problem's name.
        verifies_property (`bool`): The check verifies a defining property; a target is one answer among many.
        description (`str`): What the relative error measures, for people reading a check's result.
    """

    name: str = ""
    verifies_property: ClassVar[bool] = False
    description: ClassVar[str] = "d1 to the exact answer R: sum|P - R| / sum|R|"

    @abstractmethod
    def input_shape(self, n: int, m: int) -> tuple[int, int]:
        """Shape of the input for the drawn dimensions `(n, m)` (``m == n`` unless ``rectangular``)."""

    def dims(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """The dimensions `(n, m)` of an input of `input_shape` (the inverse of `input_shape`)."""
        return (int(input_shape[0]), int(input_shape[1]))

    @abstractmethod
    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """Shape of the answer to an input of `input_shape`.

        Raises:
            ValueError: if no input of the problem has that shape.
        """

    @abstractmethod
    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """The targets of a batch of inputs `(batch, r, c)` -> `(batch, *output_shape)`, vectorized."""

    def reference(self, inputs: np.ndarray) -> np.ndarray:
        """The unique answer that predictions are compared with (problems with a unique answer); `solve` by default."""
        return self.solve(inputs)

    def _errors(self, inputs: np.ndarray, predictions: np.ndarray) -> np.ndarray:
        """Relative errors of well-formed predictions `(batch, *output_shape)`; by default d1 to `reference`."""
        return relative_l1(predictions, self.reference(inputs))

    def verify(self, inputs: np.ndarray | list[np.ndarray], predictions: Any) -> tuple[np.ndarray, np.ndarray]:
        """Relative errors and well-formedness of predictions, batched by input shape.

        Args:
            inputs (`np.ndarray` of shape `(n, rows, cols)`, or a list of 2-D float arrays): The problems.
            predictions (sequence of `np.ndarray`, nested lists or `None`; or an array `(n, *output_shape)`): The
                answers.

        Returns:
            `(errors, well_formed)`: `np.ndarray` of shape `(n,)` each; errors are infinite where malformed.
        """
        n = len(inputs)
        errors = np.full(n, np.inf)
        well_formed = np.zeros(n, dtype=bool)
        for shape, idx, x in shape_groups(inputs):
            p, ok = stack_predictions(predictions, idx, self.output_shape(shape))
            well_formed[idx] = ok
            if ok.any():
                with np.errstate(all="ignore"):
                    e = np.asarray(self._errors(x[ok], p[ok]), dtype=np.float64)
                errors[idx[ok]] = np.where(np.isnan(e) | (e < 0), np.inf, e)
        return errors, well_formed


class _SideBySide:
    """``[A | B]`` layouts: the input packs two ``n x m`` operands side by side (``n x 2m``)."""

    name: str

    def input_shape(self, n: int, m: int) -> tuple[int, int]:
        """``n x 2m``: ``[A | B]``."""
        return (n, 2 * m)

    def dims(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``(n, m)`` of an ``n x 2m`` input."""
        return (int(input_shape[0]), int(input_shape[1]) // 2)

    def _half(self, input_shape: tuple[int, int]) -> int:
        if input_shape[1] % 2:
            raise ValueError(
                f"{self.name}: inputs are [A | B] with an even number of columns; got shape {input_shape}"
            )
        return input_shape[1] // 2


class _Square:
    """Square ``n x n`` inputs."""

    def input_shape(self, n: int, m: int) -> tuple[int, int]:
        """``n x n``."""
        return (n, n)


class _General:
    """``n x m`` inputs (``m = n`` unless ``rectangular``)."""

    def input_shape(self, n: int, m: int) -> tuple[int, int]:
        """``n x m``."""
        return (n, m)


class TransposeCheck(_General, Check):
    """Transposition of an ``n x m`` matrix; d1 against M^T."""

    name = "transpose"
    description: ClassVar[str] = "d1 to M^T: sum|P - M^T| / sum|M|"

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``m x n``."""
        return (input_shape[1], input_shape[0])

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """M^T, `(batch, n, m)` -> `(batch, m, n)`."""
        return np.ascontiguousarray(np.swapaxes(inputs, 1, 2))


class AddCheck(_SideBySide, Check):
    """Addition of the two halves of ``[A | B]``; d1 against A + B."""

    name = "add"
    description: ClassVar[str] = "d1 to A + B: sum|P - (A + B)| / sum|A + B|"

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``n x m``."""
        return (input_shape[0], self._half(input_shape))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """A + B, `(batch, n, 2m)` -> `(batch, n, m)`."""
        m = inputs.shape[2] // 2
        return inputs[:, :, :m] + inputs[:, :, m:]


class MatVecCheck(Check):
    """Matrix-vector product ``A^T v`` of the input ``[A | v]`` (the reference's layout); d1 against it."""

    name = "matvec"
    description: ClassVar[str] = "d1 to A^T v: sum|P - A^T v| / sum|A^T v|"

    def input_shape(self, n: int, m: int) -> tuple[int, int]:
        """``n x (m + 1)``: A then v as the last column."""
        return (n, m + 1)

    def dims(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``(n, m)`` of an ``n x (m + 1)`` input."""
        return (int(input_shape[0]), int(input_shape[1]) - 1)

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``m x 1``."""
        if input_shape[1] < 2:
            raise ValueError(f"{self.name}: inputs are [A | v] with at least 2 columns; got shape {input_shape}")
        return (input_shape[1] - 1, 1)

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """A^T v, `(batch, n, m + 1)` -> `(batch, m, 1)`."""
        return np.swapaxes(inputs[:, :, :-1], 1, 2) @ inputs[:, :, -1:]


class MatMulCheck(_SideBySide, Check):
    """Matrix product ``A^T B`` of the input ``[A | B]`` (the reference's layout); d1 against it."""

    name = "matmul"
    description: ClassVar[str] = "d1 to A^T B: sum|P - A^T B| / sum|A^T B|"

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``m x m``."""
        m = self._half(input_shape)
        return (m, m)

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """A^T B, `(batch, n, 2m)` -> `(batch, m, m)`."""
        m = inputs.shape[2] // 2
        return np.swapaxes(inputs[:, :, :m], 1, 2) @ inputs[:, :, m:]


class EigenvaluesCheck(_Square, Check):
    """Eigenvalues of a symmetric matrix, descending, as an ``n x 1`` column; d1 against ``eigvalsh``."""

    name = "eigenvalues"
    description: ClassVar[str] = "d1 to numpy's eigenvalues L (eigvalsh, descending): sum|P - L| / sum|L|"

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``n x 1``."""
        return (square_size(input_shape, self.name), 1)

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """Eigenvalues of the symmetric part, descending: `(batch, n, n)` -> `(batch, n, 1)`."""
        return np.linalg.eigvalsh(symmetric_part(inputs))[:, ::-1, None]


class EigenvectorsCheck(_Square, Check):
    """Eigen-decomposition ``(n + 1) x n``: the eigenvalues (row 0) over the eigenvectors Q (columns).

    The check verifies the defining property: ``D = diag(row 0)``, ``error = max(sum|Q^T M Q - D| / sum|D|,
    sum|Q^T Q - I| / n)``. The orthogonality term closes the reference's gaps (linalg-transformers
    docs/reference-code.md#item-4): a scaled ``(c Q, c^2 D)`` and an all-zero prediction fail.
    """

    name = "eigenvectors"
    verifies_property: ClassVar[bool] = True
    description: ClassVar[str] = "max(sum|Q^T M Q - D| / sum|D|, sum|Q^T Q - I| / n)"

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``(n + 1) x n``."""
        n = square_size(input_shape, self.name)
        return (n + 1, n)

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """`(batch, n, n)` -> `(batch, n + 1, n)`: descending eigenvalues, then Q (largest entry of a column > 0)."""
        lam, q = np.linalg.eigh(symmetric_part(inputs))
        (q,) = normalize_signs(q[:, :, ::-1])
        return np.concatenate([lam[:, None, ::-1], q], axis=1)

    def _errors(self, inputs: np.ndarray, predictions: np.ndarray) -> np.ndarray:
        lam, q = predictions[:, 0, :], predictions[:, 1:, :]  # (b, n), (b, n, n)
        qt = np.swapaxes(q, 1, 2)
        residual = qt @ inputs @ q
        idx = np.arange(lam.shape[1])
        residual[:, idx, idx] -= lam
        spectral = ratio(np.abs(residual).sum(axis=(1, 2)), np.abs(lam).sum(axis=1))
        return np.maximum(spectral, identity_deviation(qt @ q))


class InverseCheck(_Square, Check):
    """Inverse of a square matrix; the check verifies the property ``error = sum|M P - I| / n``."""

    name = "inverse"
    verifies_property: ClassVar[bool] = True
    description: ClassVar[str] = "sum|M P - I| / n"

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``n x n``."""
        n = square_size(input_shape, self.name)
        return (n, n)

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """M^-1, `(batch, n, n)` -> `(batch, n, n)` (NaN for singular matrices)."""
        return batched_inverse(inputs)

    def _errors(self, inputs: np.ndarray, predictions: np.ndarray) -> np.ndarray:
        return identity_deviation(inputs @ predictions)  # sum|M P - I| / n


class SingularValuesCheck(_General, Check):
    """Singular values of an ``n x m`` matrix, descending, as a ``k x 1`` column; d1 against numpy's."""

    name = "singular_values"
    description: ClassVar[str] = "d1 to numpy's singular values S (descending): sum|P - S| / sum|S|"

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``min(n, m) x 1``."""
        return (min(input_shape), 1)

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """`(batch, n, m)` -> `(batch, k, 1)`."""
        return np.linalg.svd(inputs, compute_uv=False)[:, :, None]


class SVDCheck(_General, Check):
    """Singular value decomposition ``(1 + n + m) x k``: singular values (row 0), then U, then V (as columns).

    The check verifies the property: with ``S = diag(row 0)``, ``error = max(sum|U^T M V - S| / sum|S|,
    sum|U^T U - I| / k, sum|V^T V - I| / k, sum|min(S, 0)| / sum|S|)``: the decomposition, orthonormal U and V,
    non-negative singular values.
    """

    name = "svd"
    verifies_property: ClassVar[bool] = True
    description: ClassVar[str] = (
        "max(sum|U^T M V - S| / sum|S|, sum|U^T U - I| / k, sum|V^T V - I| / k, sum|min(S, 0)| / sum|S|)"
    )

    def output_shape(self, input_shape: tuple[int, int]) -> tuple[int, int]:
        """``(1 + n + m) x min(n, m)``."""
        n, m = input_shape
        return (1 + n + m, min(n, m))

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
