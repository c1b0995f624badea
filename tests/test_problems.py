"""Problems: registry and options, generation (shapes, layouts, distributions, seeds, rejection), no NaN in targets."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import Trace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linalg_transformers.encodings import get_encoding
from linalg_transformers.problems import (
    VALUE_LIMIT,
    CoTraining,
    ProblemBatch,
    available_eigen_distributions,
    available_problems,
    get_problem,
    register_problem,
    symmetric_matrices,
)
from linalg_transformers.problems.inverse import Inverse
from linalg_transformers.problems.registry import _REGISTRY

SINGLE = [n for n in available_problems() if n != "cotraining"]
TOKENS = {
    "transpose": "T",
    "add": "A",
    "matvec": "D",
    "matmul": "M",
    "eigenvalues": "E",
    "eigenvectors": "F",
    "inverse": "I",
    "sym_inverse": "Y",
    "singular_values": "S",
    "svd": "U",
}


# ------------------------------------------------------------------------------------------ registry, options
def test_registry_lists_every_problem_with_its_paper_token():
    assert set(available_problems()) == set(TOKENS) | {"cotraining"}
    for name, token in TOKENS.items():
        problem = get_problem(name)
        assert problem.name == name and problem.task_token == token
    assert get_problem("cotraining").task_token is None


def test_reference_operation_names_are_aliases():
    assert get_problem("matrix_product").name == "matmul"
    assert get_problem("INVERT_MATRIX").name == "inverse"
    assert get_problem("singularvectors").name == "svd"


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("eigen", {}, "unknown problem 'eigen'; valid: transpose, add"),
        ("eigenvalues", {"foo": 1}, r"no option\(s\) \['foo'\]; valid: \['coeff_distribution'"),
        ("inverse", {"rectangular": True}, "no option"),
        ("transpose", {"eigen_distribution": "laplace"}, "no option"),
        ("eigenvalues", {"eigen_distribution": "cauchy"}, "unknown eigen_distribution 'cauchy'; valid: semicircle"),
        ("eigenvalues", {"eigen_distribution": "laplace,laplace"}, "twice"),
        ("add", {"coeff_distribution": "poisson"}, "unknown coeff_distribution"),
        ("add", {"dim": 0}, "dim must satisfy"),
        ("add", {"dim": (6, 3)}, "dim must satisfy"),
        ("add", {"dim": 5.0}, "dim must be an int"),
        ("add", {"dim": 51}, "outputs|inputs up to 51x102"),
        ("eigenvectors", {"dim": 100}, "outputs up to 101x100"),
        ("svd", {"dim": 50}, "101x50"),
        ("add", {"coeff_range": -1}, "coeff_range must be in"),
        ("add", {"coeff_range": 1e12}, "coeff_range must be in"),
        ("add", {"noise": -0.1}, "noise must be"),
        ("add", {"rectangular": "yes"}, "rectangular must be True or False"),
        ("cotraining", {"tasks": "TQ"}, "unknown problem 'Q'"),
        ("cotraining", {"tasks": ["transpose", "T"]}, "twice"),
        ("cotraining", {"tasks": ["cotraining"]}, "cannot contain"),
        ("cotraining", {"tasks": "TI", "eigen_distribution": "laplace"}, "applies to none"),
    ],
)
def test_invalid_names_and_options_raise_value_errors_that_list_the_valid_ones(name, options, match):
    with pytest.raises(ValueError, match=match):
        get_problem(name, **options)


@pytest.mark.parametrize("name", available_problems())
def test_config_dict_is_json_and_rebuilds_the_problem(name):
    opts = {"dim": (2, 4), "coeff_range": 3.5, "coeff_distribution": "normal", "noise": 0.01}
    if name in ("transpose", "add", "matvec", "matmul", "singular_values", "svd", "cotraining"):
        opts["rectangular"] = True
    if name in ("eigenvalues", "eigenvectors", "sym_inverse", "cotraining"):
        opts["eigen_distribution"] = "laplace,positive"
    problem = get_problem(name, **opts)
    d = json.loads(json.dumps(problem.config_dict()))
    assert d["name"] == name and d["coeff_distribution"] == "gaussian" and d["dim"] == [2, 4]
    rebuilt = get_problem(**d)
    assert rebuilt == problem and rebuilt.config_dict() == problem.config_dict()
    assert get_problem(d) == problem  # a config dict as the name works too
    a, b = problem.generate(20, seed=1), rebuilt.generate(20, seed=1)
    assert a.fingerprint() == b.fingerprint()


def test_cotraining_accepts_tokens_names_and_comma_lists():
    by_tokens = get_problem("cotraining", tasks="TE")
    assert by_tokens.options["tasks"] == ["transpose", "eigenvalues"] and by_tokens.task_tokens == ("T", "E")
    assert get_problem("cotraining", tasks="transpose,eigenvalues") == by_tokens
    assert get_problem("cotraining", tasks=["T", "eigenvalues"]) == by_tokens
    assert get_problem("cotraining").task_tokens == tuple("TADMEFI")  # the reference's default
    assert get_problem("cotraining", tasks="SUY").task_tokens == ("S", "U", "Y")


def test_max_shapes_bound_every_example():
    cases = {
        ("transpose", True): ((7, 7), (7, 7)),
        ("add", True): ((7, 14), (7, 7)),
        ("matvec", True): ((7, 8), (7, 1)),
        ("matmul", True): ((7, 14), (7, 7)),
        ("singular_values", True): ((7, 7), (7, 1)),
        ("svd", True): ((7, 7), (15, 7)),
        ("eigenvalues", False): ((7, 7), (7, 1)),
        ("eigenvectors", False): ((7, 7), (8, 7)),
        ("inverse", False): ((7, 7), (7, 7)),
        ("sym_inverse", False): ((7, 7), (7, 7)),
    }
    for (name, rect), (max_in, max_out) in cases.items():
        problem = get_problem(name, dim=(2, 7), **({"rectangular": True} if rect else {}))
        assert (problem.max_input_shape, problem.max_output_shape) == (max_in, max_out), name
        batch = problem.generate(200, seed=0)
        assert (
            max(x.shape[0] for x in batch.inputs) <= max_in[0] and max(x.shape[1] for x in batch.inputs) <= max_in[1]
        )
        assert max(y.shape[0] for y in batch.targets) <= max_out[0]
        assert max(y.shape[1] for y in batch.targets) <= max_out[1]
    co = get_problem("cotraining", dim=5)
    assert co.max_input_shape == (5, 10) and co.max_output_shape == (6, 5)


# --------------------------------------------------------------------------------------------- layouts
def test_layouts_follow_the_paper():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    v = rng.normal(size=(4, 1))
    sym = a @ a.T + np.eye(4)
    cases = {
        "transpose": (a, a.T),
        "add": (np.hstack([a, b]), a + b),
        "matvec": (np.hstack([a, v]), a.T @ v),
        "matmul": (np.hstack([a, b]), a.T @ b),
        "eigenvalues": (sym, np.sort(np.linalg.eigvalsh(sym))[::-1, None]),
        "singular_values": (a, np.linalg.svd(a, compute_uv=False)[:, None]),
        "inverse": (sym, np.linalg.inv(sym)),
    }
    for name, (x, y) in cases.items():
        np.testing.assert_allclose(get_problem(name).solve(x[None])[0], y, atol=1e-12, err_msg=name)

    vec = get_problem("eigenvectors").solve(sym[None])[0]  # (n+1) x n: eigenvalues over eigenvectors
    lam, q = vec[0], vec[1:]
    assert vec.shape == (5, 4) and np.all(np.diff(lam) <= 0)
    np.testing.assert_allclose(sym @ q, q * lam, atol=1e-10)
    assert np.all(q[np.abs(q).argmax(axis=0), np.arange(4)] > 0)  # each eigenvector's largest entry is positive

    dec = get_problem("svd").solve(a[None])[0]  # (1 + n + m) x k: singular values, U, V
    s, u, w = dec[0], dec[1:5], dec[5:]
    assert dec.shape == (8, 3) and np.all(np.diff(s) <= 0)
    np.testing.assert_allclose(u @ np.diag(s) @ w.T, a, atol=1e-12)


@pytest.mark.parametrize("name", SINGLE)
def test_generate_returns_consistent_float_batches(name):
    problem = get_problem(name, dim=4)
    batch = problem.generate(64, seed=3)
    assert isinstance(batch, ProblemBatch) and batch.tasks is None and len(batch) == 64
    x, y = batch.inputs, batch.targets
    assert x.dtype == np.float64 and y.dtype == np.float64
    assert y.shape[1:] == problem.output_shape(x.shape[1:])
    np.testing.assert_allclose(problem.solve(x), y, rtol=1e-9, atol=1e-9)
    if problem.symmetric:
        assert np.array_equal(x, np.swapaxes(x, 1, 2))


def test_rectangular_and_dimension_ranges_give_lists_of_every_shape():
    batch = get_problem("transpose", dim=(2, 4), rectangular=True).generate(300, seed=0)
    assert isinstance(batch.inputs, list) and len(batch.inputs) == 300
    assert {x.shape for x in batch.inputs} == {(n, m) for n in range(2, 5) for m in range(2, 5)}
    assert all(y.shape == x.T.shape and np.array_equal(y, x.T) for x, y in zip(batch.inputs, batch.targets))
    square = get_problem("eigenvalues", dim=(2, 4)).generate(100, seed=0)
    assert {x.shape for x in square.inputs} == {(2, 2), (3, 3), (4, 4)}
    # matmul with rectangular: only the inner dimension varies independently (docs/reference-code.md#item-14)
    mm = get_problem("matmul", dim=(2, 3), rectangular=True).generate(100, seed=0)
    assert {(x.shape, y.shape) for x, y in zip(mm.inputs, mm.targets)} == {
        ((n, 2 * m), (m, m)) for n in (2, 3) for m in (2, 3)
    }


# ---------------------------------------------------------------------------------------------- seeding
def test_same_seed_same_examples_and_independent_streams():
    problem = get_problem("eigenvectors", dim=(3, 5))
    a = problem.generate(100, seed=7)
    assert a.fingerprint() == problem.generate(100, seed=7).fingerprint()
    assert a.fingerprint() == problem.generate(100, rng=np.random.default_rng(7)).fingerprint()
    streams = [[7, 0, 0, 0], [7, 1, 0, 0], [7, 0, 1, 0], [7, 0, 0, 1], [8, 0, 0, 0], [0, 7, 0, 0]]
    prints = {problem.generate(100, seed=s).fingerprint() for s in streams}
    assert len(prints) == len(streams)
    # numpy pads seed sequences with zeros: 7 and [7, 0, 0, 0] are one stream (documented in make_rng)
    assert a.fingerprint() == problem.generate(100, seed=[7, 0, 0, 0]).fingerprint()
    rng = np.random.default_rng(0)
    assert problem.generate(10, rng=rng).fingerprint() != problem.generate(10, rng=rng).fingerprint()  # advances
    with pytest.raises(ValueError, match="either seed or rng"):
        problem.generate(5, seed=1, rng=rng)
    with pytest.raises(ValueError, match="non-negative"):
        problem.generate(-1, seed=1)


def test_batch_fingerprint_is_sensitive_to_values_shapes_and_tasks():
    x = np.zeros((2, 2, 2))
    base = ProblemBatch(inputs=x, targets=x)
    assert base.fingerprint() == ProblemBatch(inputs=x.copy(), targets=x.copy()).fingerprint()
    y = x.copy()
    y[1, 1, 1] = 1e-300
    assert ProblemBatch(inputs=y, targets=x).fingerprint() != base.fingerprint()
    assert ProblemBatch(inputs=x.reshape(2, 1, 4), targets=x).fingerprint() != base.fingerprint()
    assert ProblemBatch(inputs=x, targets=x, tasks=["T", "T"]).fingerprint() != base.fingerprint()


# ------------------------------------------------------------------------------------------ distributions
def test_coefficient_distributions_have_the_papers_range_and_variance():
    x = get_problem("transpose", dim=10).generate(2000, seed=0).inputs
    assert x.min() >= -10 and x.max() <= 10 and abs(x.std() - 10 / math.sqrt(3)) < 0.05
    g = get_problem("transpose", dim=10, coeff_distribution="gaussian").generate(2000, seed=0).inputs
    # really Gaussian (docs/reference-code.md#item-3, fixed)
    assert abs(g.std() - 10 / math.sqrt(3)) < 0.05 and np.abs(g).max() > 10
    kurtosis = ((g - g.mean()) ** 4).mean() / g.var() ** 2
    assert abs(kurtosis - 3.0) < 0.1


def test_eigenvalue_distributions_match_section_4():
    n, a, count = 5, 10.0, 4000
    sigma = math.sqrt(n) * a / math.sqrt(3)
    rng = np.random.default_rng(0)
    eig = {
        d: np.linalg.eigvalsh(symmetric_matrices(rng, count, n, a, "uniform", d))
        for d in available_eigen_distributions()
    }
    assert set(eig) == {"semicircle", "positive", "uniform", "gaussian", "laplace", "positive2", "marcenko"}
    for d in ("semicircle", "uniform", "gaussian", "laplace"):
        assert abs(eig[d].mean()) < 0.3 and abs(eig[d].std() / sigma - 1) < 0.05, d
    assert np.abs(eig["uniform"]).max() <= math.sqrt(3) * sigma * (1 + 1e-9)
    assert np.quantile(np.abs(eig["semicircle"]), 0.99) < 2 * sigma  # radius 2 sigma (up to finite-n tails)
    assert eig["positive"].min() >= -1e-9 and eig["positive2"].min() >= -1e-9 and eig["marcenko"].min() >= -1e-9
    assert abs(eig["marcenko"].mean() - n * a / 3) < 0.5  # mean eigenvalue n A / 3
    lap = eig["laplace"].ravel()
    assert abs(((lap - lap.mean()) ** 4).mean() / lap.var() ** 2 - 6.0) < 0.6  # Laplace kurtosis 6
    for d, m in (("positive", 5), ("marcenko", 7)):
        x = symmetric_matrices(np.random.default_rng(m), 3, n, a, "uniform", d)
        assert np.array_equal(x, np.swapaxes(x, 1, 2))


def test_eigen_distribution_mixtures_pick_one_law_per_example():
    batch = get_problem("eigenvalues", eigen_distribution="positive,laplace").generate(400, seed=0)
    positive = (batch.targets[:, -1, 0] >= -1e-9).mean()  # smallest eigenvalue
    assert 0.4 < positive < 0.7  # half positive-definite, plus Laplace matrices that happen to be


# ---------------------------------------------------------------------------------------- noise, rejection
def test_noise_perturbs_inputs_not_targets_and_keeps_symmetry():
    clean = get_problem("eigenvalues", dim=5)
    noisy = get_problem("eigenvalues", dim=5, noise=0.05)
    c, z = clean.generate(2000, seed=0), noisy.generate(2000, seed=0)
    assert np.array_equal(c.targets, z.targets)
    delta = z.inputs - c.inputs
    assert np.array_equal(z.inputs, np.swapaxes(z.inputs, 1, 2))
    assert abs(delta[:, np.tril_indices(5)[0], np.tril_indices(5)[1]].std() - 0.05 * 10 / math.sqrt(3)) < 0.01
    t = get_problem("transpose", noise=0.1).generate(2000, seed=0)
    assert abs((t.inputs - t.targets.swapaxes(1, 2)).std() - 0.1 * 10 / math.sqrt(3)) < 0.02


def test_examples_over_the_value_limit_are_resampled_and_counted():
    problem = get_problem("matmul", dim=5, coeff_range=2e4)  # |A^T B| reaches 2e9 > FP15's 9.995e8
    batch = problem.generate(500, seed=0)
    assert batch.rejected > 0 and 0 < batch.rejection_rate < 0.5
    assert np.abs(batch.targets).max() < VALUE_LIMIT
    assert np.abs(get_encoding("FP15").round(batch.targets)).max() < 1e9  # never FP15's NaN token (decoded as 1e9)


def test_generation_gives_up_with_a_clear_error_when_nearly_everything_is_rejected(monkeypatch):
    monkeypatch.setattr("linalg_transformers.problems.base.MAX_RESAMPLING_ROUNDS", 3)
    with pytest.raises(RuntimeError, match=r"still rejected after 3 rounds.*coeff_range=1000000"):
        get_problem("matmul", dim=5, coeff_range=1e6).generate(100, seed=0)  # |A^T B| ~ 1e12


def test_inversion_rejects_by_the_references_residual_rule():
    inv = get_problem("inverse", dim=8)
    assert isinstance(inv, Inverse)
    singular = np.ones((1, 8, 8))
    hilbert = 1.0 / (np.arange(8)[:, None] + np.arange(8)[None, :] + 1)  # cond ~1e10: residual ~1e-7
    x = np.stack([singular[0], hilbert, 2 * np.eye(8)])
    with np.errstate(all="ignore"):
        y = inv.solve(x)  # the singular one gives NaN instead of raising
        accepted = inv._accept(x, y)
    assert np.isnan(y[0]).all() and np.isfinite(y[1:]).all()
    assert accepted.tolist() == [False, False, True]
    batch = get_problem("sym_inverse", dim=5, eigen_distribution="marcenko").generate(3000, seed=0)
    assert batch.rejected > 0  # Wishart matrices are often ill-conditioned (about 0.3% rejected)
    residual = np.abs(batch.inputs @ batch.targets - np.eye(5)).max(axis=(1, 2))
    assert residual.max() <= 1e-10


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(available_problems()),
    lo=st.integers(1, 6),
    extra=st.integers(0, 3),
    rectangular=st.booleans(),
    gaussian=st.booleans(),
    coeff_range=st.sampled_from([1e-3, 1.0, 10.0, 1e3]),
    dists=st.lists(st.sampled_from(available_eigen_distributions()), min_size=1, max_size=3, unique=True),
    noise=st.sampled_from([0.0, 0.05, 1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_nan_inf_or_complex_ever_reaches_a_target(
    name, lo, extra, rectangular, gaussian, coeff_range, dists, noise, seed
):
    opts = {
        "dim": (lo, lo + extra),
        "coeff_range": coeff_range,
        "coeff_distribution": "gaussian" if gaussian else "uniform",
        "noise": noise,
    }
    if rectangular and name in ("transpose", "add", "matvec", "matmul", "singular_values", "svd", "cotraining"):
        opts["rectangular"] = True
    if name in ("eigenvalues", "eigenvectors", "sym_inverse", "cotraining"):
        opts["eigen_distribution"] = ",".join(dists)
    problem = get_problem(name, **opts)
    batch = problem.generate(40, seed=seed)
    assert len(batch) == 40
    for x, y in zip(batch.inputs, batch.targets):
        for a in (x, y):
            assert a.dtype == np.float64 and not np.iscomplexobj(a)
            assert np.isfinite(a).all() and np.abs(a).max(initial=0) < VALUE_LIMIT
        get_encoding("FP15").encode_matrix(y)  # every target can be written
    if not noise:  # exact targets pass their own check
        assert problem.score(batch.inputs, batch.targets, tasks=batch.tasks).accuracy[0.005] == 1.0


# ------------------------------------------------------------------------------------------ user problems
def test_users_register_their_own_problem(trace_problem):
    with pytest.raises(ValueError, match="already registered"):
        register_problem("trace", Trace)
    problem = get_problem("trace", dim=(2, 3), coeff_range=5)
    assert problem.name == "trace" and "trace" in available_problems()
    assert get_problem(**problem.config_dict()) == problem
    batch = problem.generate(100, seed=0)
    assert batch.targets.shape == (100, 1, 1) and problem.max_input_shape == (3, 3)
    assert problem.score(batch.inputs, batch.targets).accuracy[0.005] == 1.0
    assert problem.check(np.eye(3), [[3.1]], 0.05) and not problem.check(np.eye(3), [[3.3]], 0.05)
    co = get_problem("cotraining", tasks=["trace", "transpose"], dim=3)
    mixed = co.generate(100, seed=0)
    assert set(mixed.tasks) == {"R", "T"}
    assert co.score(mixed.inputs, mixed.targets, tasks=mixed.tasks).by_task()["R"].accuracy[0.005] == 1.0
    assert isinstance(co, CoTraining)


def test_docstring_examples_run():
    import doctest

    import linalg_transformers.problems as problems_pkg
    from linalg_transformers.problems import registry

    try:
        for module in (problems_pkg, registry):
            result = doctest.testmod(module, raise_on_error=True)
            assert result.attempted > 0 and result.failed == 0
    finally:
        _REGISTRY.pop("trace", None)


def test_equal_problems_hash_alike_whatever_the_option_order(monkeypatch):
    a = get_problem("eigenvalues", dim=5, coeff_range=10)
    b = get_problem("eigenvalues", coeff_range=10, dim=5)
    assert a == b and hash(a) == hash(b) and {a: 1}[b] == 1
    reordered = dict(reversed(list(a.config_dict().items())))
    monkeypatch.setattr(b, "config_dict", lambda: reordered)  # the same options in another order
    assert a == b and hash(a) == hash(b)
