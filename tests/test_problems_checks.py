"""Problem checks: shared arithmetic, malformed answers, property checks, rounding ceilings, perturbed solutions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linalg_transformers.problems import (
    available_problems,
    get_problem,
    identity_deviation,
    ratio,
    relative_l1,
    rounding_ceiling,
    test_set,
)
from linalg_transformers.problems.test_sets import round_matrices
from linalg_transformers.scoring import TOLERANCES

SINGLE = [n for n in available_problems() if n != "cotraining"]


# ------------------------------------------------------------------------------------------ shared arithmetic
def test_ratio_settles_zero_and_nan_once():
    out = ratio(np.array([1.0, 0.0, 2.0, np.nan, np.inf]), np.array([4.0, 0.0, 0.0, 1.0, 1.0]))
    assert out.tolist() == [0.25, 0.0, math.inf, math.inf, math.inf]


def test_relative_l1_is_the_papers_d1():
    t = np.array([[[3.0], [-1.0]]])
    p = np.array([[[3.2], [-0.9]]])
    assert relative_l1(p, t)[0] == pytest.approx(0.3 / 4)


def test_identity_deviation_measures_orthonormality_relative_to_n():
    q = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0]
    assert identity_deviation((q.T @ q)[None])[0] < 1e-14
    c = 1.05
    assert identity_deviation(((c * q).T @ (c * q))[None])[0] == pytest.approx(c**2 - 1)


# --------------------------------------------------------------------------------------- malformed answers
@pytest.mark.parametrize("name", SINGLE)
def test_malformed_predictions_are_wrong_never_exceptions(name):
    problem = get_problem(name, dim=3)
    batch = problem.generate(9, seed=0)
    good = batch.targets[0]
    nan = good.copy()
    nan[0, 0] = np.nan
    predictions = [
        None,
        good[:-1],  # wrong shape
        np.zeros((7, 7)),
        nan,
        good.astype(complex),
        [[1.0, 2.0], [3.0]],  # ragged
        "not a matrix",
        [[None] * good.shape[1]] * good.shape[0],
        batch.targets[8],
    ]
    score = problem.score(batch.inputs, predictions)
    assert score.well_formed.tolist() == [False] * 8 + [True]
    assert np.isinf(score.errors[:8]).all() and score.errors[8] < 1e-12
    assert all(c.tolist() == [False] * 8 + [True] for c in score.correct.values())
    assert score.summary.well_formed == pytest.approx(1 / 9) and score.accuracy[0.05] == pytest.approx(1 / 9)


def test_single_and_batched_checks_agree_and_accept_arrays_lists_and_flat_vectors():
    problem = get_problem("eigenvalues", dim=4)
    batch = problem.generate(50, seed=1)
    preds = batch.targets * (1 + np.linspace(0, 0.1, 50))[:, None, None]
    batched = problem.score(batch.inputs, preds).errors
    as_lists = problem.score(batch.inputs.tolist(), [p.ravel().tolist() for p in preds]).errors
    single = [problem.score([x], [p]).errors[0] for x, p in zip(batch.inputs, preds)]
    np.testing.assert_allclose(batched, as_lists)
    np.testing.assert_allclose(batched, single)
    assert [problem.check(x, p, 0.05) for x, p in zip(batch.inputs, preds)] == (batched < 0.05).tolist()
    with pytest.raises(ValueError, match="predictions for"):
        problem.score(batch.inputs, preds[:-1])
    with pytest.raises(ValueError, match="task token"):
        problem.score(batch.inputs, preds, tasks=["T"] * 50)


def test_wrong_input_shapes_are_rejected_at_the_boundary():
    with pytest.raises(ValueError, match="even number of columns"):
        get_problem("add").score([np.ones((2, 3))], [np.ones((2, 1))])
    with pytest.raises(ValueError, match="square"):
        get_problem("inverse").score([np.ones((2, 3))], [np.ones((2, 3))])


# ---------------------------------------------------------------------------------------- property checks
def _spd(n: int, seed: int) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(n, n))
    return a @ a.T + n * np.eye(n)


def test_eigenvector_check_verifies_the_property_and_closes_the_references_gaps():
    problem = get_problem("eigenvectors", dim=4)
    m = _spd(4, 0)
    lam, q = np.linalg.eigh(m)
    assert problem.check(m, np.vstack([lam, q]), 1e-9)  # ascending order and LAPACK signs: still right
    perm = [2, 0, 3, 1]
    assert problem.check(m, np.vstack([lam[perm], -q[:, perm]]), 1e-9)  # any pairing order, any signs
    assert not problem.check(m, np.vstack([lam * 1.1**2, q * 1.1]), 0.05)  # (c Q, c^2 D) passed the reference
    assert not problem.check(m, np.zeros((5, 4)), 0.05)  # all zeros passed the reference
    assert not problem.check(m, np.vstack([lam[perm], q]), 0.05)  # eigenvalues not matching their vectors


def test_svd_check_verifies_decomposition_orthonormality_and_signs():
    problem = get_problem("svd", dim=(3, 4), rectangular=True)
    a = np.random.default_rng(0).normal(size=(4, 3))
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    assert problem.check(a, np.vstack([s, u, vh.T]), 1e-9)
    assert problem.check(a, np.vstack([s, -u, -vh.T]), 1e-9)
    assert not problem.check(a, np.vstack([s * 1.21, u * 1.1, vh.T * 1.1]), 0.05)
    assert not problem.check(a, np.vstack([-s, -u, vh.T]), 0.05)  # negative singular values
    assert not problem.check(a, np.zeros((8, 3)), 0.05)


def test_inverse_check_is_the_residual_relative_to_n():
    problem = get_problem("inverse", dim=3)
    m = _spd(3, 1)
    inv = np.linalg.inv(m)
    errors = problem.score([m, m, m], [inv, 1.1 * inv, np.zeros((3, 3))]).errors
    assert errors[0] < 1e-14
    assert errors[1:].tolist() == pytest.approx([0.1, 1.0])


def test_singular_values_are_compared_correctly():  # the reference's check is broken (docs/reference-code.md#item-1)
    problem = get_problem("singular_values", dim=(2, 5), rectangular=True)
    batch = problem.generate(100, seed=0)
    assert problem.score(batch.inputs, batch.targets).accuracy[0.005] == 1.0
    shifted = [t * 1.06 for t in batch.targets]
    assert problem.score(batch.inputs, shifted).accuracy[0.05] == 0.0


def test_eigenvalues_must_be_in_descending_order():
    problem = get_problem("eigenvalues", dim=3)
    m = np.diag([5.0, 1.0, -2.0])
    assert problem.check(m, [5.0, 1.0, -2.0], 1e-9)
    assert not problem.check(m, [-2.0, 1.0, 5.0], 0.05)


# ------------------------------------------------------------------------------------------------ co-training
def test_cotraining_checks_each_task_and_requires_the_right_token():
    problem = get_problem("cotraining", dim=3)
    batch = problem.generate(300, seed=0)
    assert set(batch.tasks) == set("TADMEFI")
    score = problem.score(batch.inputs, batch.targets, tasks=batch.tasks)
    assert score.accuracy[0.005] == 1.0 and list(score.by_task()) == list("TADMEFI")  # the tasks option's order
    assert {f"{t}/accuracy@0.05" for t in "TADMEFI"} <= set(score.metrics())
    wrong = ["E" if t == "T" else t for t in batch.tasks]
    score = problem.score(batch.inputs, batch.targets, tasks=batch.tasks, prediction_tasks=wrong)
    is_t = np.array(batch.tasks) == "T"
    assert np.isinf(score.errors[is_t]).all() and (score.errors[~is_t] < 1e-9).all()
    assert score.by_task()["T"].well_formed == 0.0 and score.by_task()["E"].accuracy[0.005] == 1.0
    with pytest.raises(ValueError, match="need the task token"):
        problem.score(batch.inputs, batch.targets)
    with pytest.raises(ValueError, match="unknown task tokens"):
        problem.score(batch.inputs, batch.targets, tasks=["S"] * 300)


# ----------------------------------------------------------------------------------------------- ceilings
# Measured with `python benchmarks/bench_problems.py --ceilings` (10,000 examples; FP15 input, P1000 output):
# accuracy (%) of the exact solution rounded to three digits, at 5 / 2 / 1 / 0.5 %.
CEILINGS_5X5 = {
    "transpose": (100, 100, 100, 100),
    "add": (100, 100, 100, 100),
    "matvec": (100, 100, 100, 99.96),
    "matmul": (100, 100, 100, 100),
    "eigenvalues": (100, 100, 100, 100),
    "eigenvectors": (100, 100, 100, 99.76),
    "inverse": (91.84, 84.89, 59.48, 22.70),
    "sym_inverse": (94.29, 89.62, 69.33, 35.86),
    "singular_values": (100, 100, 100, 100),
    "svd": (100, 100, 100, 99.95),
}


@pytest.mark.parametrize("name", SINGLE)
def test_rounded_solutions_reach_the_measured_ceiling(name):
    score = rounding_ceiling(get_problem(name, dim=5), "FP15", "P1000", size=2000)
    for tol, expected in zip(TOLERANCES, CEILINGS_5X5[name]):
        got = 100 * score.accuracy[tol]
        margin = 0.3 if expected >= 99.5 else 3.0  # 2,000 of the 10,000 examples, and BLAS differences
        assert abs(got - expected) <= margin, (name, tol, got, expected)
    assert score.well_formed.all()


# docs/problems.md#ceilings: 92.0 / 85.2 / 59.6 / 22.8 on the reference code's generators
def test_the_inversion_ceiling_is_the_papers():
    assert CEILINGS_5X5["inverse"] == pytest.approx((92.0, 85.2, 59.6, 22.8), abs=0.5)


@pytest.mark.parametrize("name", SINGLE)
@pytest.mark.parametrize("kind", ["scaled", "noisy"])
def test_perturbed_solutions_fail(name, kind):
    problem = get_problem(name, dim=5)
    data = test_set(problem, size=500)
    seen = round_matrices(data.inputs, "FP15")
    rng = np.random.default_rng(0)
    if kind == "scaled":  # every entry 10% too large: for eigenvectors, the (c Q, c^2 D) the reference accepted
        answers = data.targets * 1.1
        if name == "eigenvectors":
            answers[:, 0, :] *= 1.1
        if name == "svd":
            answers[:, 1:, :] /= 1.1 ** (1 / 2)  # U and V sqrt(1.1) too long: U^T M V = 1.1 S still
            answers[:, 0, :] = data.targets[:, 0, :] * 1.1
    else:  # 10% relative noise on every entry
        answers = data.targets * (1 + 0.1 * rng.choice([-1.0, 1.0], size=data.targets.shape))
    score = problem.score(seen, round_matrices(answers, "P1000"))
    assert score.accuracy[0.05] <= 0.01, (name, kind, score.summary)
    assert score.well_formed.all()
