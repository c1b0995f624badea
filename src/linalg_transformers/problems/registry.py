"""The problem registry: names -> problem classes (or factories). Users add their own with `register_problem`.

Built-in problems (docs/problems.md; the reference's operation names are accepted as aliases):

=================  ==========  ======================  =================================
name               task token  reference name          check
=================  ==========  ======================  =================================
transpose          T           transpose               d1 against M^T
add                A           matrix_sum              d1 against A + B
matvec             D           matrix_vector           d1 against A^T v
matmul             M           matrix_product          d1 against A^T B
eigenvalues        E           eigenvalues             d1 against eigvalsh, descending
eigenvectors       F           eigenvectors            Q^T M Q ~= D, Q orthogonal
inverse            I           invert_matrix           M P ~= I
sym_inverse        Y           syminverse              M P ~= I
singular_values    S           singularvalues          d1 against the singular values
svd                U           singularvectors         U^T M V ~= S, U and V orthogonal
cotraining         (per task)  cotraining              the task's own check
=================  ==========  ======================  =================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import BaseProblem

__all__ = ["available_problems", "get_problem", "register_problem"]

ProblemFactory = Callable[..., BaseProblem]

_REGISTRY: dict[str, ProblemFactory] = {}
_ALIASES = {
    "matrix_sum": "add",
    "matrix_vector": "matvec",
    "matrix_product": "matmul",
    "invert_matrix": "inverse",
    "syminverse": "sym_inverse",
    "singularvalues": "singular_values",
    "singularvectors": "svd",
}


def register_problem(name: str, factory: ProblemFactory, *, overwrite: bool = False) -> None:
    """Register a problem so that ``get_problem(name, **options)`` builds it.

    Args:
        name (`str`): The problem's name (case-insensitive). Problems built by `get_problem` carry it as `name`, so
            that ``get_problem(**problem.config_dict())`` rebuilds them.
        factory: A `Problem` subclass, or any callable taking the options as keywords and returning a problem.
        overwrite (`bool`, *optional*, defaults to `False`): Replace an existing registration.

    Example:
    ```python
    >>> import numpy as np
    >>> from linalg_transformers.problems import Problem, get_problem, register_problem
    >>> class Trace(Problem):
    ...     task_token = None
    ...     def input_shape(self, n, m): return (n, n)
    ...     def output_shape(self, input_shape): return (1, 1)
    ...     def _sample(self, rng, count, n, m): return self.coefficients(rng, (count, n, n))
    ...     def solve(self, inputs): return np.trace(inputs, axis1=1, axis2=2)[:, None, None]
    >>> register_problem("trace", Trace, overwrite=True)
    >>> get_problem("trace", dim=3).check(np.eye(3), [[3.01]], tolerance=0.05)
    True

    ```
    """
    key = str(name).lower()
    if not key or key in _ALIASES:
        raise ValueError(f"invalid problem name {name!r}")
    if key in _REGISTRY and not overwrite:
        raise ValueError(f"a problem named {name!r} is already registered; pass overwrite=True to replace it")
    if not callable(factory):
        raise ValueError(f"the factory of problem {name!r} must be a class or a callable; got {factory!r}")
    _REGISTRY[key] = factory


def available_problems() -> list[str]:
    """Names of the registered problems."""
    return list(_REGISTRY)


def problem_names() -> set[str]:
    """Every name `get_problem` accepts (registered names and the reference's aliases), lower case."""
    return set(_REGISTRY) | set(_ALIASES)


def canonical_name(name: str) -> str:
    """The registered name for `name` (case-insensitive; the reference's operation names are aliases).

    Raises:
        ValueError: for unknown names; the message lists the valid ones.
    """
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise ValueError(f"unknown problem {name!r}; valid: {', '.join(available_problems())}")
    return key


def problem_class(name: str) -> ProblemFactory:
    """The class (or factory) registered under `name`."""
    return _REGISTRY[canonical_name(name)]


def task_token_map() -> dict[str, str]:
    """Task token -> problem name, for the registered problem classes that declare one."""
    out = {}
    for name, factory in _REGISTRY.items():
        token = getattr(factory, "task_token", None)
        if isinstance(token, str):
            out.setdefault(token, name)
    return out


def get_problem(name: str | BaseProblem | dict[str, Any], **options: Any) -> BaseProblem:
    """Build a registered problem.

    Args:
        name (`str`): The problem's name (see `available_problems()`); a problem is returned as is, and a
            `config_dict()` dict is unpacked (``get_problem(**d)`` works too).
        **options: The problem's options, e.g. ``dim=5`` or ``dim=(3, 8)``, ``rectangular=True``,
            ``coeff_range=10``, ``coeff_distribution="gaussian"``, ``eigen_distribution="laplace"``, ``noise=0.05``,
            ``tasks=[...]`` (co-training).

    Returns:
        The problem.

    Raises:
        ValueError: for an unknown name or option (the message lists the valid ones) or an invalid value.
    """
    if isinstance(name, BaseProblem):
        if options:
            raise ValueError("options cannot be given with a problem instance")
        return name
    if isinstance(name, dict):
        return get_problem(**{**name, **options})
    key = canonical_name(name)
    problem = _REGISTRY[key](**options)
    if not isinstance(problem, BaseProblem):
        raise ValueError(f"the factory of problem {name!r} returned {type(problem).__name__}, not a problem")
    problem.name = key
    return problem
