"""The problem base classes, the batch of examples, and the scoring API of every problem.

A problem keeps its generator and its verifier together (docs/problems.md):

* `generate(n, seed)` draws examples in batches (vectorized numpy, one shape group at a time), rejects and resamples
  any example whose input or target is not finite or reaches `VALUE_LIMIT` (plus the problem's own rule, e.g. the
  reference's inversion residual), and returns a `ProblemBatch`;
* `score(inputs, predictions)` scores predictions, batched, against the *given* inputs and returns a
  `linalg_transformers.scoring.Score`: each error (for problems with a unique answer, the relative L1 distance to the
  solution of that input, d1, docs/problems.md#the-check; for the others, how far the prediction is from satisfying
  the defining property), the well-formed mask, which answers are correct at each tolerance, and the accuracy.
  Malformed predictions (``None``, wrong shape, NaN/inf, complex) get an infinite error: they are wrong, never an
  exception. `score_targets` scores against given targets instead, and `check` one prediction at one tolerance.

The arithmetic of those checks (`relative_l1`, `ratio`, `identity_deviation`) and the answer half of every built-in
problem (layouts, solution, check) live in the flat module `linalg_transformers.verification`, which the pipelines
use too; the tolerances, the rule ``correct iff 0 <= error < t`` and the accuracy summaries in
`linalg_transformers.scoring`.
"""

from __future__ import annotations

import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..encodings import MAX_DIMENSION
from ..scoring import MAIN_TOLERANCE, TOLERANCES, Score
from ..verification import (
    Check,
    identity_deviation,
    normalize_signs,
    ratio,
    relative_l1,
    shape_groups,
    stack_predictions,
)
from .distributions import canonical_coefficient_distribution, coefficients, parse_eigen_distribution

__all__ = [
    "VALUE_LIMIT",
    "BaseProblem",
    "Problem",
    "ProblemBatch",
    "identity_deviation",
    "make_rng",
    "normalize_signs",
    "ratio",
    "relative_l1",
]

VALUE_LIMIT = 9.99e8
"""Examples with an input or target entry of this magnitude or more are rejected and resampled. FP15 writes
``NaN`` from about 9.995e8 on (docs/encodings.md#fp15), and the reference rejects outputs beyond the output encoder's
limit (docs/problems.md#rejection). One limit for every encoding keeps test sets independent of the encoding."""

MAX_RESAMPLING_ROUNDS = 1000
"""Generation gives up (`RuntimeError`) if rejected examples are still missing after this many rounds."""

Matrices = np.ndarray | Sequence[Any]
"""A batch of matrices: an array of shape `(n, rows, cols)`, or a sequence of 2-D arrays (or nested lists)."""


def make_rng(seed: Any = None, rng: np.random.Generator | None = None) -> np.random.Generator:
    """The random stream of a call: `rng` itself, or ``np.random.default_rng(seed)``.

    Args:
        seed (`int`, sequence of `int`, or `np.random.SeedSequence`, *optional*): A seed. Sequences give independent
            streams: ``seed=[run_seed, rank, worker, step]`` never repeats another rank's, worker's or step's examples.
            Keep one fixed-length layout: numpy pads seed sequences with zeros, so ``7`` and ``[7, 0, 0, 0]`` are
            the same stream.
            With neither `seed` nor `rng`, the stream is seeded from the operating system (not reproducible).
        rng (`np.random.Generator`, *optional*): A generator to draw from (it advances).
    """
    if rng is not None:
        if seed is not None:
            raise ValueError("pass either seed or rng, not both")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
        return rng
    return np.random.default_rng(seed)


# ------------------------------------------------------------------------------------------------- the batch
@dataclass(frozen=True)
class ProblemBatch:
    """Examples of a problem.

    Attributes:
        inputs (`np.ndarray` of shape `(n, rows, cols)`, or `list[np.ndarray]`): The problems; a list of 2-D arrays
            when the examples do not all have one shape.
        targets (`np.ndarray` of shape `(n, rows, cols)`, or `list[np.ndarray]`): Their solutions (float64, finite).
        tasks (`list[str] | None`): The task token of each example (co-training), else `None`.
        rejected (`int`): Examples drawn and rejected (then resampled) while generating this batch; the rejection
            rate is ``rejected / (n + rejected)``.
    """

    inputs: np.ndarray | list[np.ndarray]
    targets: np.ndarray | list[np.ndarray]
    tasks: list[str] | None = None
    rejected: int = 0

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def rejection_rate(self) -> float:
        """Share of drawn examples that were rejected."""
        total = len(self) + self.rejected
        return self.rejected / total if total else 0.0

    def fingerprint(self) -> str:
        """SHA-256 of the examples' shapes, values (float64, little-endian) and tasks: equal iff byte-identical."""
        h = hashlib.sha256()
        for field in (self.inputs, self.targets):
            arrays = [field] if isinstance(field, np.ndarray) else field
            h.update(f"{type(field).__name__}:{len(arrays)};".encode())
            for a in arrays:
                a = np.ascontiguousarray(a, dtype="<f8")
                h.update(repr(a.shape).encode())
                h.update(a.tobytes())
        h.update(repr(self.tasks).encode())
        return h.hexdigest()


def _pack(arrays: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """One `(n, r, c)` array if every matrix has one shape, else the list."""
    if arrays and all(a.shape == arrays[0].shape for a in arrays):
        return np.stack(arrays)
    return arrays


def _as_matrix_batch(matrices: Matrices, what: str) -> np.ndarray | list[np.ndarray]:
    """A `(n, r, c)` float array, or a list of 2-D float arrays (1-D entries become columns)."""
    if isinstance(matrices, np.ndarray) and matrices.ndim == 3:
        return matrices.astype(np.float64, copy=False)
    if isinstance(matrices, np.ndarray) and matrices.ndim != 3:
        raise ValueError(f"{what} must be a batch: an array of shape (n, rows, cols) or a list of matrices")
    out = []
    for m in matrices:
        a = np.asarray(m, dtype=np.float64)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2:
            raise ValueError(f"each of the {what} must be a 2-D matrix; got shape {a.shape}")
        out.append(a)
    return out


# ----------------------------------------------------------------------------------------------------- options
def _validate_dim(value: Any) -> int | list[int]:
    if isinstance(value, bool):
        raise ValueError(f"dim must be an int or a (min, max) pair; got {value!r}")
    if isinstance(value, int | np.integer):
        lo = hi = int(value)
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        if any(isinstance(v, bool) or not isinstance(v, int | np.integer) for v in value):
            raise ValueError(f"dim must be an int or a (min, max) pair of ints; got {value!r}")
        lo, hi = int(value[0]), int(value[1])
    else:
        raise ValueError(f"dim must be an int or a (min, max) pair; got {value!r}")
    if not 1 <= lo <= hi <= MAX_DIMENSION:
        raise ValueError(f"dim must satisfy 1 <= min <= max <= {MAX_DIMENSION}; got {value!r}")
    return lo if lo == hi else [lo, hi]


def _validate_positive(name: str, upper: float) -> Callable[[Any], int | float]:
    def check(value: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise ValueError(f"{name} must be a number; got {value!r}")
        v = float(value)
        if not (0 < v < upper):
            raise ValueError(f"{name} must be in (0, {upper:g}); got {value!r}")
        return int(v) if v.is_integer() else v

    return check


def _validate_noise(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"noise must be a number; got {value!r}")
    v = float(value)
    if not (0 <= v < math.inf):
        raise ValueError(f"noise must be a finite number >= 0; got {value!r}")
    return v


def _validate_bool(name: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"{name} must be True or False; got {value!r}")
        return bool(value)

    return check


OPTION_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "dim": _validate_dim,
    "coeff_range": _validate_positive("coeff_range", VALUE_LIMIT),
    "coeff_distribution": canonical_coefficient_distribution,
    "noise": _validate_noise,
    "rectangular": _validate_bool("rectangular"),
    "eigen_distribution": parse_eigen_distribution,
}
"""How each option is checked and put in canonical form (a JSON-able value)."""


# ------------------------------------------------------------------------------------------------ base classes
class BaseProblem(ABC):
    """What every problem offers: options, generation, and the scoring API (`score`, `score_targets`, `check`).

    Subclasses: `Problem` (one task; subclass it for your own problems) and `CoTraining` (a mixture of tasks).

    Args:
        **options: The problem's options; `option_defaults()` lists them. Unknown options raise `ValueError`.
    """

    name: str = ""
    task_token: ClassVar[str | None] = None
    uses_task_tokens: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        defaults = self.option_defaults()
        unknown = sorted(set(options) - set(defaults))
        if unknown:
            raise ValueError(
                f"problem {self.name or type(self).__name__!r} has no option(s) {unknown}; valid: {sorted(defaults)}"
            )
        resolved = {}
        for key, default in defaults.items():
            value = options.get(key)
            if value is None:
                resolved[key] = default
            else:
                validate = OPTION_VALIDATORS.get(key)
                resolved[key] = validate(value) if validate is not None else value
        self.options: dict[str, Any] = resolved

    @classmethod
    @abstractmethod
    def option_defaults(cls) -> dict[str, Any]:
        """The valid options and their default values (`None` means "not set")."""

    def config_dict(self) -> dict[str, Any]:
        """JSON-able description: ``get_problem(**problem.config_dict())`` rebuilds the problem."""
        return {"name": self.name, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in self.options.items()}}

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({opts})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BaseProblem) and self.config_dict() == other.config_dict()

    def __hash__(self) -> int:  # equal problems (same options, in any order) hash alike
        return hash(repr(sorted(self.config_dict().items(), key=lambda item: item[0])))

    # ------------------------------------------------------------------------------------------- generation
    @property
    @abstractmethod
    def max_input_shape(self) -> tuple[int, int]:
        """Upper bounds `(rows, cols)` of every input (for sequence-length budgets)."""

    @property
    @abstractmethod
    def max_output_shape(self) -> tuple[int, int]:
        """Upper bounds `(rows, cols)` of every target."""

    def generate(self, n: int, seed: Any = None, rng: np.random.Generator | None = None) -> ProblemBatch:
        """Draw `n` examples.

        Args:
            n (`int`): Number of examples.
            seed (`int` or sequence of `int`, *optional*): Seed of ``np.random.default_rng``; the same seed gives the
                same examples on any machine (same numpy). Use ``[run_seed, rank, worker, step]`` for independent
                streams per process and worker.
            rng (`np.random.Generator`, *optional*): Draw from this generator instead (it advances).

        Returns:
            `ProblemBatch`: `inputs` and `targets` (arrays `(n, r, c)` when all examples have one shape, else lists of
            2-D arrays), `tasks` (co-training) and the number of rejected draws.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"n must be a non-negative int; got {n!r}")
        return self._generate(int(n), make_rng(seed, rng), add_noise=True)

    @abstractmethod
    def _generate(self, n: int, rng: np.random.Generator, add_noise: bool) -> ProblemBatch:
        """Draw `n` examples from `rng`; `add_noise=False` leaves inputs clean (fixed test sets)."""

    # ---------------------------------------------------------------------------------------------- checks
    @abstractmethod
    def _score(self, inputs: np.ndarray | list[np.ndarray], predictions: Any, tasks: list[str] | None) -> tuple:
        """(errors `(n,)`, well-formed mask `(n,)`) of validated inputs."""

    def _check_tasks(self, tasks: Sequence[str] | None, n: int) -> list[str] | None:
        if tasks is None:
            return None
        tasks = [str(t) for t in tasks]
        if len(tasks) != n:
            raise ValueError(f"got {len(tasks)} tasks for {n} examples")
        wrong = sorted(set(tasks) - {self.task_token})
        if wrong:
            raise ValueError(f"problem {self.name!r} has task token {self.task_token!r}; got tasks {wrong}")
        return tasks

    def score(
        self,
        inputs: Matrices,
        predictions: Any,
        tasks: Sequence[str] | None = None,
        prediction_tasks: Sequence[str | None] | None = None,
        tolerances: Sequence[float] = TOLERANCES,
    ) -> Score:
        """Score a batch of predictions with the problem's own check, against their inputs.

        Args:
            inputs (`np.ndarray` of shape `(n, rows, cols)` or a sequence of 2-D matrices): The problems, as given to
                the model (e.g. rounded by the input encoding).
            predictions (sequence of `np.ndarray`, nested lists or `None`; or an array `(n, rows, cols)`): The answers.
            tasks (`Sequence[str]`, *optional*): Task token of each example (required for co-training).
            prediction_tasks (`Sequence[str | None]`, *optional*): Task token the model wrote before each answer; a
                mismatch with `tasks` makes the answer malformed (co-training).
            tolerances (`Sequence[float]`, *optional*, defaults to `TOLERANCES`): The tolerances of the score's
                `correct` and `accuracy`.

        Returns:
            `Score`: ``errors`` and ``well_formed`` of shape `(n,)` (errors infinite where malformed), ``correct``
            and ``accuracy`` at each tolerance, ``summary``, and ``metrics()``, the flat dict (co-training adds
            per-task entries, ``"E/accuracy@0.05"``).
        """
        x = _as_matrix_batch(inputs, "inputs")
        n = len(x)
        if len(predictions) != n:
            raise ValueError(f"got {len(predictions)} predictions for {n} inputs")
        tasks = self._check_tasks(tasks, n)
        errors, well_formed = self._score(x, predictions, tasks)
        return self._result(errors, well_formed, tasks, prediction_tasks, tolerances)

    def score_targets(
        self,
        targets: Matrices,
        predictions: Any,
        tasks: Sequence[str] | None = None,
        prediction_tasks: Sequence[str | None] | None = None,
        tolerances: Sequence[float] = TOLERANCES,
    ) -> Score:
        """Score predictions against given targets (d1), for problems with a unique answer, batched.

        The same arithmetic as the check, for when only the targets are at hand (the `matrix_accuracy` metric without
        inputs). With exact targets it equals `score` on the inputs.

        Args:
            targets (`np.ndarray` of shape `(n, rows, cols)` or a sequence of 2-D matrices): The solutions.
            predictions (sequence of `np.ndarray`, nested lists or `None`): The answers.
            tasks (`Sequence[str]`, *optional*): Task token of each example (required for co-training).
            prediction_tasks (`Sequence[str | None]`, *optional*): Task token written before each answer.
            tolerances (`Sequence[float]`, *optional*, defaults to `TOLERANCES`): As in `score`.

        Returns:
            `Score`, as `score`.

        Raises:
            ValueError: for problems checked by a property (score them with their inputs instead).
        """
        t = _as_matrix_batch(targets, "targets")
        n = len(t)
        if len(predictions) != n:
            raise ValueError(f"got {len(predictions)} predictions for {n} targets")
        tasks = self._check_tasks(tasks, n)
        errors, well_formed = self._score_targets(t, predictions, tasks)
        return self._result(errors, well_formed, tasks, prediction_tasks, tolerances)

    def check(self, input: Any, prediction: Any, tolerance: float = MAIN_TOLERANCE, task: str | None = None) -> bool:
        """Whether one prediction (a 2-D matrix, or a flat vector for a column) is correct at `tolerance`.

        Correct means ``0 <= error < tolerance``; a malformed prediction is wrong. ``score([input], [prediction])``
        gives the error itself.
        """
        tolerance = float(tolerance)
        score = self.score([input], [prediction], None if task is None else [task], tolerances=(tolerance,))
        return bool(score.correct[tolerance][0])

    def _result(
        self,
        errors: np.ndarray,
        well_formed: np.ndarray,
        tasks: list[str] | None,
        prediction_tasks: Sequence[str | None] | None,
        tolerances: Sequence[float],
    ) -> Score:
        """The `Score` of checked predictions; an answer written after another task's token is malformed.

        Co-training, docs/problems.md#co-training: the score then summarizes each task too.
        """
        if prediction_tasks is not None:
            n = len(errors)
            if len(prediction_tasks) != n:
                raise ValueError(f"got {len(prediction_tasks)} prediction tasks for {n} examples")
            wanted = tasks if tasks is not None else [self.task_token] * n
            right = np.array([p == t for p, t in zip(prediction_tasks, wanted)], dtype=bool)
            errors, well_formed = np.where(right, errors, np.inf), well_formed & right
        per_task = self.uses_task_tokens and tasks is not None
        return Score(
            errors,
            well_formed,
            tuple(tolerances),
            tasks=tuple(tasks) if per_task else None,
            task_tokens=self.task_tokens if per_task else (),
        )

    @property
    def task_tokens(self) -> tuple[str, ...]:
        """The task tokens examples of this problem can carry."""
        return () if self.task_token is None else (self.task_token,)

    @abstractmethod
    def _score_targets(
        self, targets: np.ndarray | list[np.ndarray], predictions: Any, tasks: list[str] | None
    ) -> tuple:
        """(errors, well-formed mask) against validated targets."""


class Problem(Check, BaseProblem):
    """A single task: examples are drawn in shape groups, solved in batches, and checked in batches.

    To write a problem, subclass it and define `input_shape`, `output_shape`, `_sample` and `solve`; override
    `_errors` when the answer is checked by a property instead of compared with `solve`'s, and `_accept` to reject
    examples. Then `register_problem("name", MyProblem)`. The answer half (layouts, `solve`, the check) comes from
    `linalg_transformers.verification.Check`; the built-in problems inherit theirs from its subclasses there
    (``class Transpose(TransposeCheck, Problem)``), so the pipelines verify answers with the same code.

    Class attributes:
        name (`str`): Registry name (set by `get_problem`).
        task_token (`str | None`): One-letter token for co-training.
        supports_rectangular (`bool`): Accepts the ``rectangular`` option (the second dimension drawn independently).
        symmetric (`bool`): Accepts ``eigen_distribution`` (symmetric inputs;
            docs/problems.md#eigenvalue-distributions).
        verifies_property (`bool`): The check verifies a defining property; a target is one answer among many.

    Options (all problems): ``dim`` (int or (min, max), default 5), ``coeff_range`` (A, default 10),
    ``coeff_distribution`` (``"uniform"`` or ``"gaussian"``), ``noise`` (input noise sigma, default 0).
    """

    supports_rectangular: ClassVar[bool] = False
    symmetric: ClassVar[bool] = False

    @classmethod
    def option_defaults(cls) -> dict[str, Any]:
        """Options and defaults: dim, coeff_range, coeff_distribution, noise (+ rectangular, eigen_distribution)."""
        out: dict[str, Any] = {"dim": 5, "coeff_range": 10, "coeff_distribution": "uniform", "noise": 0.0}
        if cls.supports_rectangular:
            out["rectangular"] = False
        if cls.symmetric:
            out["eigen_distribution"] = "semicircle"
        return out

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for shape, what in ((self.max_input_shape, "input"), (self.max_output_shape, "output")):
            if max(shape) > MAX_DIMENSION:
                raise ValueError(
                    f"{self.name or type(self).__name__} with dim={self.options['dim']!r} has {what}s up to "
                    f"{shape[0]}x{shape[1]}; encodings write at most {MAX_DIMENSION} rows and columns"
                )

    # ----------------------------------------------------------------------------------------- to subclass
    # input_shape, output_shape, solve, reference and _errors: see `Check` (linalg_transformers.verification).
    @abstractmethod
    def _sample(self, rng: np.random.Generator, count: int, n: int, m: int) -> np.ndarray:
        """`count` random inputs for the dimensions `(n, m)`: `(count, *input_shape(n, m))`."""

    def _accept(self, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Which drawn examples to keep (besides finiteness and `VALUE_LIMIT`), `(batch,)` bool; all by default."""
        return np.ones(len(inputs), dtype=bool)

    def _add_noise(self, rng: np.random.Generator, inputs: np.ndarray) -> np.ndarray:
        """Inputs plus i.i.d. Gaussian noise of std ``noise * A / sqrt(3)``.

        The reference's noisy_input; docs/problems.md#inputs.
        """
        std = self.options["noise"] * self.options["coeff_range"] / math.sqrt(3.0)
        return inputs + rng.normal(0.0, std, inputs.shape)

    # ------------------------------------------------------------------------------------------ dimensions
    @property
    def dim_range(self) -> tuple[int, int]:
        """Smallest and largest dimension."""
        d = self.options["dim"]
        return (d, d) if isinstance(d, int) else (d[0], d[1])

    @property
    def rectangular(self) -> bool:
        """Whether the second dimension is drawn independently of the first."""
        return bool(self.options.get("rectangular", False))

    @property
    def max_input_shape(self) -> tuple[int, int]:
        """Upper bounds `(rows, cols)` of every input."""
        hi = self.dim_range[1]
        return self.input_shape(hi, hi)

    @property
    def max_output_shape(self) -> tuple[int, int]:
        """Upper bounds `(rows, cols)` of every target."""
        hi = self.dim_range[1]
        return self.output_shape(self.input_shape(hi, hi))

    def coefficients(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Random coefficients with this problem's range and distribution."""
        return coefficients(rng, shape, self.options["coeff_range"], self.options["coeff_distribution"])

    # ------------------------------------------------------------------------------------------ generation
    def _generate(self, n: int, rng: np.random.Generator, add_noise: bool) -> ProblemBatch:
        lo, hi = self.dim_range
        if lo == hi and not self.rectangular:
            inputs, targets, rejected = self._generate_group(rng, n, lo, lo, add_noise)
            return ProblemBatch(inputs=inputs, targets=targets, rejected=rejected)
        ns = rng.integers(lo, hi + 1, size=n)
        ms = rng.integers(lo, hi + 1, size=n) if self.rectangular else ns
        xs: list[np.ndarray] = [np.empty(0)] * n
        ys: list[np.ndarray] = [np.empty(0)] * n
        rejected = 0
        for dn, dm in sorted(set(zip(ns.tolist(), ms.tolist()))):
            idx = np.flatnonzero((ns == dn) & (ms == dm))
            x, y, r = self._generate_group(rng, idx.size, dn, dm, add_noise)
            rejected += r
            for j, i in enumerate(idx):
                xs[i], ys[i] = x[j], y[j]
        return ProblemBatch(inputs=_pack(xs), targets=_pack(ys), rejected=rejected)

    def _generate_group(
        self, rng: np.random.Generator, count: int, n: int, m: int, add_noise: bool
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """`count` accepted examples of dimensions `(n, m)`: inputs, targets, and the number of rejected draws."""
        in_shape = self.input_shape(n, m)
        inputs = np.empty((count, *in_shape))
        targets = np.empty((count, *self.output_shape(in_shape)))
        todo = np.arange(count)
        rejected = 0
        noisy = add_noise and self.options["noise"] > 0
        for _ in range(MAX_RESAMPLING_ROUNDS):
            if not todo.size:
                return inputs, targets, rejected
            x = self._sample(rng, todo.size, n, m)
            with np.errstate(all="ignore"):
                y = self.solve(x)
                ok = self._accept(x, y)
            if noisy:  # the target stays the clean input's solution (docs/problems.md#inputs)
                x = self._add_noise(rng, x)
            for a in (x, y):
                ok &= (np.abs(a) < VALUE_LIMIT).all(axis=(1, 2))  # also False for NaN
            inputs[todo[ok]], targets[todo[ok]] = x[ok], y[ok]
            rejected += int((~ok).sum())
            todo = todo[~ok]
        if todo.size:
            raise RuntimeError(
                f"{self.name}: {todo.size} of {count} examples still rejected after {MAX_RESAMPLING_ROUNDS} rounds "
                f"of resampling; are the coefficients (coeff_range={self.options['coeff_range']}) too large for "
                f"VALUE_LIMIT={VALUE_LIMIT:g}?"
            )
        return inputs, targets, rejected

    # ---------------------------------------------------------------------------------------------- checks
    def _score(self, inputs: np.ndarray | list[np.ndarray], predictions: Any, tasks: list[str] | None) -> tuple:
        return self.verify(inputs, predictions)

    def _score_targets(
        self, targets: np.ndarray | list[np.ndarray], predictions: Any, tasks: list[str] | None
    ) -> tuple:
        if self.verifies_property:
            raise ValueError(f"{self.name} verifies a property of its input: score it with the inputs, not targets")
        errors = np.full(len(targets), np.inf)
        well_formed = np.zeros(len(targets), dtype=bool)
        for shape, idx, y in shape_groups(targets):
            p, ok = stack_predictions(predictions, idx, shape)
            well_formed[idx] = ok
            if ok.any():
                errors[idx[ok]] = relative_l1(p[ok], y[ok])
        return errors, well_formed
