"""Random matrices: coefficient distributions and the seven eigenvalue distributions.

See docs/problems.md#inputs and docs/problems.md#eigenvalue-distributions.

Coefficients are uniform in ``[-A, A]`` or Gaussian ``N(0, (A / sqrt 3)^2)`` (same variance). Unlike the reference
code, ``"gaussian"`` really is Gaussian (docs/reference-code.md#item-3); ``"normal"``, the reference's own spelling,
is accepted as an alias.

Symmetric matrices start from a Wigner matrix ``W = tril(a) + tril(a, -1)^T``. The eigenvalue distributions other than
``semicircle`` keep W's eigenvectors ``V`` and replace its eigenvalues: ``M = V diag(lambda') V^T``, with
``sigma = sqrt(n) A / sqrt 3`` (the semicircle's standard deviation) setting their scale. ``marcenko`` is
``M = B^T B`` with ``B`` an ``n x n`` matrix of coefficients in ``[-sqrt A, sqrt A]`` (Wishart). Unknown names raise
`ValueError` (the reference silently falls back to ``semicircle``).

Everything is batched: one call draws ``count`` matrices.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "COEFFICIENT_DISTRIBUTIONS",
    "EIGEN_DISTRIBUTIONS",
    "available_eigen_distributions",
    "coefficients",
    "parse_eigen_distribution",
    "register_eigen_distribution",
    "symmetric_matrices",
    "wigner",
]

CoefficientSampler = Callable[[np.random.Generator, tuple[int, ...], float], np.ndarray]
SymmetricSampler = Callable[[np.random.Generator, int, int, float, str], np.ndarray]

_SQRT3 = math.sqrt(3.0)

COEFFICIENT_DISTRIBUTIONS: dict[str, CoefficientSampler] = {
    "uniform": lambda rng, shape, a: rng.uniform(-a, a, shape),
    # Same variance as uniform in [-A, A] (docs/problems.md#inputs).
    "gaussian": lambda rng, shape, a: rng.normal(0.0, a / _SQRT3, shape),
}
"""Coefficient samplers: name -> ``f(rng, shape, A)``."""

_COEFFICIENT_ALIASES = {"normal": "gaussian"}


def canonical_coefficient_distribution(name: str) -> str:
    """The registered name of a coefficient distribution (``"normal"`` -> ``"gaussian"``).

    Raises:
        ValueError: for an unknown name; the message lists the valid ones.
    """
    key = _COEFFICIENT_ALIASES.get(str(name).lower(), str(name).lower())
    if key not in COEFFICIENT_DISTRIBUTIONS:
        raise ValueError(
            f"unknown coeff_distribution {name!r}; valid: {', '.join(COEFFICIENT_DISTRIBUTIONS)} (or 'normal')"
        )
    return key


def coefficients(
    rng: np.random.Generator, shape: tuple[int, ...], coeff_range: float, distribution: str = "uniform"
) -> np.ndarray:
    """Independent random coefficients.

    Args:
        rng (`np.random.Generator`): The random stream.
        shape (`tuple[int, ...]`): Output shape, e.g. `(count, rows, cols)`.
        coeff_range (`float`): A: uniform in `[-A, A]`, or Gaussian with standard deviation `A / sqrt(3)`.
        distribution (`str`, *optional*, defaults to `"uniform"`): ``"uniform"`` or ``"gaussian"``.

    Returns:
        `np.ndarray` of shape `shape`, float64.
    """
    return COEFFICIENT_DISTRIBUTIONS[canonical_coefficient_distribution(distribution)](rng, shape, coeff_range)


def wigner(rng: np.random.Generator, count: int, n: int, coeff_range: float, distribution: str) -> np.ndarray:
    """Symmetric matrices ``tril(a) + tril(a, -1)^T`` of random coefficients (eigenvalues: semicircle law).

    Returns:
        `np.ndarray` of shape `(count, n, n)`, exactly symmetric.
    """
    a = coefficients(rng, (count, n, n), coeff_range, distribution)
    return np.tril(a) + np.swapaxes(np.tril(a, -1), 1, 2)


def _semicircle_sigma(n: int, coeff_range: float) -> float:
    """Standard deviation of the semicircle law of an n x n Wigner matrix: sqrt(n) A / sqrt(3).

    See docs/problems.md#eigenvalue-distributions.
    """
    return math.sqrt(n) * coeff_range / _SQRT3


def _replacing(new_eigenvalues: Callable[[np.random.Generator, np.ndarray, float], np.ndarray]) -> SymmetricSampler:
    """A sampler that keeps a Wigner matrix's eigenvectors and replaces its eigenvalues.

    Args:
        new_eigenvalues: ``f(rng, wigner_eigenvalues (count, n), sigma) -> eigenvalues (count, n)``.
    """

    def sample(rng: np.random.Generator, count: int, n: int, coeff_range: float, distribution: str) -> np.ndarray:
        w = wigner(rng, count, n, coeff_range, distribution)
        lam, vec = np.linalg.eigh(w)  # (count, n), (count, n, n)
        new = new_eigenvalues(rng, lam, _semicircle_sigma(n, coeff_range))
        m = (vec * new[:, None, :]) @ np.swapaxes(vec, 1, 2)  # V diag(lambda') V^T
        return 0.5 * (m + np.swapaxes(m, 1, 2))  # exactly symmetric

    return sample


def _marcenko(rng: np.random.Generator, count: int, n: int, coeff_range: float, distribution: str) -> np.ndarray:
    """Wishart matrices ``B^T B``, B with coefficients of range sqrt(A).

    See docs/problems.md#eigenvalue-distributions, ``marcenko``.
    """
    b = coefficients(rng, (count, n, n), math.sqrt(coeff_range), distribution)
    m = np.swapaxes(b, 1, 2) @ b
    return 0.5 * (m + np.swapaxes(m, 1, 2))


EIGEN_DISTRIBUTIONS: dict[str, SymmetricSampler] = {
    "semicircle": lambda rng, count, n, a, dist: wigner(rng, count, n, a, dist),
    "positive": _replacing(lambda rng, lam, s: np.abs(lam)),
    "uniform": _replacing(lambda rng, lam, s: rng.uniform(-_SQRT3 * s, _SQRT3 * s, lam.shape)),
    "gaussian": _replacing(lambda rng, lam, s: rng.normal(0.0, s, lam.shape)),
    "laplace": _replacing(lambda rng, lam, s: rng.laplace(0.0, s / math.sqrt(2.0), lam.shape)),
    "positive2": _replacing(lambda rng, lam, s: np.abs(rng.laplace(0.0, s / math.sqrt(2.0), lam.shape))),
    "marcenko": _marcenko,
}
"""Symmetric-matrix samplers by eigenvalue distribution: name -> ``f(rng, count, n, A, coeff_distribution)``."""


def register_eigen_distribution(name: str, sampler: SymmetricSampler, *, overwrite: bool = False) -> None:
    """Add an eigenvalue distribution usable as ``eigen_distribution=name`` by the symmetric problems.

    Args:
        name (`str`): Its name (lower case, no commas).
        sampler: ``f(rng, count, n, coeff_range, coeff_distribution) -> (count, n, n)`` symmetric matrices.
        overwrite (`bool`, *optional*, defaults to `False`): Replace an existing distribution.
    """
    key = str(name).lower()
    if not key or "," in key:
        raise ValueError(f"an eigenvalue distribution name must be non-empty and contain no comma; got {name!r}")
    if key in EIGEN_DISTRIBUTIONS and not overwrite:
        raise ValueError(f"eigenvalue distribution {name!r} already exists; pass overwrite=True to replace it")
    EIGEN_DISTRIBUTIONS[key] = sampler


def available_eigen_distributions() -> list[str]:
    """Names of the eigenvalue distributions."""
    return list(EIGEN_DISTRIBUTIONS)


def parse_eigen_distribution(value: str | Sequence[str]) -> str:
    """Canonical form of an ``eigen_distribution`` option: names joined by commas (a mixture if several).

    Args:
        value: One name (``"laplace"``), a comma-separated mixture (``"laplace,positive"``) or a list of names.

    Raises:
        ValueError: for unknown or repeated names, or an empty value.
    """
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [str(v).strip().lower() for v in names]
    unknown = [v for v in names if v not in EIGEN_DISTRIBUTIONS]
    if not names or unknown:
        raise ValueError(
            f"unknown eigen_distribution {value!r}; valid: {', '.join(EIGEN_DISTRIBUTIONS)} "
            "(or several, comma-separated, for a mixture)"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"eigen_distribution {value!r} names a distribution twice")
    return ",".join(names)


def symmetric_matrices(
    rng: np.random.Generator,
    count: int,
    n: int,
    coeff_range: float,
    coeff_distribution: str = "uniform",
    eigen_distribution: str = "semicircle",
) -> np.ndarray:
    """Random symmetric matrices with a chosen eigenvalue distribution (docs/problems.md#eigenvalue-distributions).

    With a mixture (``"laplace,positive"``), each matrix picks one of the named distributions uniformly at random,
    as the reference's comma-separated flags do.

    Args:
        rng (`np.random.Generator`): The random stream.
        count (`int`): Number of matrices.
        n (`int`): Their dimension.
        coeff_range (`float`): A, the coefficient range.
        coeff_distribution (`str`, *optional*, defaults to `"uniform"`): Coefficients: uniform or gaussian.
        eigen_distribution (`str`, *optional*, defaults to `"semicircle"`): A name, or comma-separated names.

    Returns:
        `np.ndarray` of shape `(count, n, n)`, exactly symmetric.
    """
    names = parse_eigen_distribution(eigen_distribution).split(",")
    if len(names) == 1:
        return EIGEN_DISTRIBUTIONS[names[0]](rng, count, n, coeff_range, coeff_distribution)
    choice = rng.integers(len(names), size=count)
    out = np.empty((count, n, n))
    for k, name in enumerate(names):
        idx = np.flatnonzero(choice == k)
        if idx.size:
            out[idx] = EIGEN_DISTRIBUTIONS[name](rng, idx.size, n, coeff_range, coeff_distribution)
    return out
