"""Co-training: one model, several tasks, each example prefixed by its task token.

See paper appendix F.2 and docs/problems.md#co-training.

Each example picks one of the tasks uniformly at random. The sub-tasks share the dimension, coefficient and noise
options; ``rectangular`` and ``eigen_distribution`` go to the sub-tasks that accept them. A prediction is checked by
its task's own check, and must carry the task's token (pass ``prediction_tasks`` to `score`, or decode with the
tokenizer's ``with_task=True`` and set answers with the wrong token to `None`). The score summarizes each task too
(`Score.by_task`; ``"E/accuracy@0.05"`` and the like in its metrics), as the reference reports per-task accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from . import registry
from .base import BaseProblem, Problem, ProblemBatch, _as_matrix_batch, _pack

__all__ = ["DEFAULT_COTRAINING_TASKS", "CoTraining"]

DEFAULT_COTRAINING_TASKS = ("transpose", "add", "matvec", "matmul", "eigenvalues", "eigenvectors", "inverse")
"""The reference's default task set ``TADMEFI``."""

_SHARED = ("dim", "coeff_range", "coeff_distribution", "noise")


class CoTraining(BaseProblem):
    """A uniform mixture of problems, each example tagged with its task token.

    Args:
        tasks (`Sequence[str]` or `str`, *optional*): Problem names (``["transpose", "eigenvalues"]``), task tokens, or
            a string of tokens (``"TADMEFI"``, the default) or comma-separated names.
        **options: ``dim``, ``coeff_range``, ``coeff_distribution``, ``noise`` (every sub-task), ``rectangular`` and
            ``eigen_distribution`` (the sub-tasks that accept them).
    """

    name = "cotraining"
    uses_task_tokens: ClassVar[bool] = True

    @classmethod
    def option_defaults(cls) -> dict[str, Any]:
        """Options and defaults (`None`: each sub-task's own default)."""
        return {
            "tasks": list(DEFAULT_COTRAINING_TASKS),
            "dim": 5,
            "coeff_range": 10,
            "coeff_distribution": "uniform",
            "noise": 0.0,
            "rectangular": None,
            "eigen_distribution": None,
        }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        names = _task_names(self.options["tasks"])
        self.options["tasks"] = names
        subs: dict[str, Problem] = {}
        for name in names:
            cls = registry.problem_class(name)
            opts = {k: self.options[k] for k in _SHARED}
            if self.options["rectangular"] is not None and getattr(cls, "supports_rectangular", False):
                opts["rectangular"] = self.options["rectangular"]
            if self.options["eigen_distribution"] is not None and getattr(cls, "symmetric", False):
                opts["eigen_distribution"] = self.options["eigen_distribution"]
            sub = registry.get_problem(name, **opts)
            if not isinstance(sub, Problem) or sub.task_token is None:
                raise ValueError(f"co-training needs single problems with a task token; {name!r} is not one")
            if sub.task_token in subs:
                raise ValueError(f"tasks {subs[sub.task_token].name!r} and {name!r} share task token {sub.task_token}")
            subs[sub.task_token] = sub
        for option, flag in (("rectangular", "supports_rectangular"), ("eigen_distribution", "symmetric")):
            if self.options[option] is not None and not any(getattr(s, flag) for s in subs.values()):
                raise ValueError(f"option {option} applies to none of the tasks {names}")
        self.problems: dict[str, Problem] = subs
        """The sub-problems by task token, in the order of `tasks`."""

    @property
    def task_tokens(self) -> tuple[str, ...]:
        """The task tokens, in the order of the ``tasks`` option."""
        return tuple(self.problems)

    @property
    def max_input_shape(self) -> tuple[int, int]:
        """Largest rows and largest columns over the sub-tasks' inputs."""
        shapes = [p.max_input_shape for p in self.problems.values()]
        return (max(s[0] for s in shapes), max(s[1] for s in shapes))

    @property
    def max_output_shape(self) -> tuple[int, int]:
        """Largest rows and largest columns over the sub-tasks' targets."""
        shapes = [p.max_output_shape for p in self.problems.values()]
        return (max(s[0] for s in shapes), max(s[1] for s in shapes))

    def _generate(self, n: int, rng: np.random.Generator, add_noise: bool) -> ProblemBatch:
        tokens = self.task_tokens
        choice = rng.integers(len(tokens), size=n)
        xs: list[np.ndarray] = [np.empty(0)] * n
        ys: list[np.ndarray] = [np.empty(0)] * n
        rejected = 0
        for k, token in enumerate(tokens):
            idx = np.flatnonzero(choice == k)
            if not idx.size:
                continue
            sub = self.problems[token]._generate(idx.size, rng, add_noise)
            rejected += sub.rejected
            for j, i in enumerate(idx):
                xs[i], ys[i] = sub.inputs[j], sub.targets[j]
        tasks = [tokens[k] for k in choice.tolist()]
        return ProblemBatch(inputs=_pack(xs), targets=_pack(ys), tasks=tasks, rejected=rejected)

    def _check_tasks(self, tasks: Sequence[str] | None, n: int) -> list[str]:
        if tasks is None:
            raise ValueError("co-training checks need the task token of each example (tasks=...)")
        tasks = [str(t) for t in tasks]
        if len(tasks) != n:
            raise ValueError(f"got {len(tasks)} tasks for {n} examples")
        unknown = sorted(set(tasks) - set(self.problems))
        if unknown:
            raise ValueError(f"unknown task tokens {unknown}; this co-training has {list(self.problems)}")
        return tasks

    def _score(self, inputs: np.ndarray | list[np.ndarray], predictions: Any, tasks: list[str] | None) -> tuple:
        return self._dispatch("_score", inputs, predictions, tasks)

    def _score_targets(
        self, targets: np.ndarray | list[np.ndarray], predictions: Any, tasks: list[str] | None
    ) -> tuple:
        return self._dispatch("_score_targets", targets, predictions, tasks)

    def _dispatch(self, method: str, matrices: Any, predictions: Any, tasks: list[str] | None) -> tuple:
        """Score each task's examples with that task's own `method`."""
        n = len(matrices)
        errors = np.full(n, np.inf)
        well_formed = np.zeros(n, dtype=bool)
        arr = np.asarray(tasks)
        for token, sub in self.problems.items():
            idx = np.flatnonzero(arr == token)
            if idx.size:
                sub_matrices = _as_matrix_batch([matrices[i] for i in idx], "inputs")
                e, ok = getattr(sub, method)(sub_matrices, [predictions[i] for i in idx], None)
                errors[idx], well_formed[idx] = e, ok
        return errors, well_formed

    @property
    def verifies_property(self) -> bool:
        """Whether some task is checked by a property (then scoring needs the inputs)."""
        return any(p.verifies_property for p in self.problems.values())


def _task_names(tasks: Any) -> list[str]:
    """Problem names from names, task tokens, a token string (``"TADMEFI"``) or comma-separated names."""
    if isinstance(tasks, str):
        tasks = tasks.split(",") if "," in tasks or tasks.lower() in registry.problem_names() else list(tasks)
    if not isinstance(tasks, Sequence) or not tasks:
        raise ValueError(f"tasks must be a non-empty list of problem names or task tokens; got {tasks!r}")
    by_token = registry.task_token_map()
    names = []
    for t in tasks:
        t = str(t).strip()
        name = by_token.get(t) or registry.canonical_name(t)
        if name == CoTraining.name:
            raise ValueError("co-training cannot contain co-training")
        names.append(name)
    if len(set(names)) != len(names):
        raise ValueError(f"tasks {tasks!r} name a problem twice")
    return names
