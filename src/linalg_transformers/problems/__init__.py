"""Linear-algebra problems: seeded batched generators with their verifiers, fixed test sets (docs/problems.md).

```python
>>> from linalg_transformers.problems import get_problem
>>> problem = get_problem("eigenvalues", dim=5)
>>> batch = problem.generate(1000, seed=0)
>>> batch.inputs.shape, batch.targets.shape
((1000, 5, 5), (1000, 5, 1))
>>> problem.score(batch.inputs, batch.targets).accuracy[0.005]
1.0

```
"""

from __future__ import annotations

from .base import (
    VALUE_LIMIT,
    BaseProblem,
    Problem,
    ProblemBatch,
    identity_deviation,
    make_rng,
    normalize_signs,
    ratio,
    relative_l1,
)
from .cotraining import DEFAULT_COTRAINING_TASKS, CoTraining
from .distributions import (
    available_eigen_distributions,
    coefficients,
    register_eigen_distribution,
    symmetric_matrices,
)
from .eigen import Eigenvalues, Eigenvectors, SymmetricProblem
from .elementwise import Add, Transpose
from .inverse import Inverse, SymInverse
from .products import MatMul, MatVec
from .registry import available_problems, get_problem, register_problem
from .svd import SVD, SingularValues
from .test_sets import DEFAULT_TEST_SEED, batch_from_dataset, round_matrices, rounding_ceiling, test_set, to_dataset

__all__ = [
    "DEFAULT_COTRAINING_TASKS",
    "DEFAULT_TEST_SEED",
    "VALUE_LIMIT",
    "Add",
    "BaseProblem",
    "CoTraining",
    "Eigenvalues",
    "Eigenvectors",
    "Inverse",
    "MatMul",
    "MatVec",
    "Problem",
    "ProblemBatch",
    "SVD",
    "SingularValues",
    "SymInverse",
    "SymmetricProblem",
    "Transpose",
    "available_eigen_distributions",
    "available_problems",
    "batch_from_dataset",
    "coefficients",
    "get_problem",
    "identity_deviation",
    "make_rng",
    "normalize_signs",
    "ratio",
    "register_eigen_distribution",
    "register_problem",
    "relative_l1",
    "round_matrices",
    "rounding_ceiling",
    "symmetric_matrices",
    "test_set",
    "to_dataset",
]

for _cls in (Transpose, Add, MatVec, MatMul, Eigenvalues, Eigenvectors, Inverse, SymInverse, SingularValues, SVD):
    register_problem(_cls.name, _cls, overwrite=True)
register_problem(CoTraining.name, CoTraining, overwrite=True)
del _cls
