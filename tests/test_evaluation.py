"""The shared evaluation path: generate, decode, check."""

from __future__ import annotations

import numpy as np

import linalg_transformers  # noqa: F401
from linalg_transformers import evaluation
from linalg_transformers.evaluation import (
    distribution_names,
    distribution_variants,
    evaluate_model,
    evaluate_test_sets,
    generate_matrices,
)
from linalg_transformers.problems import get_problem, round_matrices, test_set
from linalg_transformers.scoring import TOLERANCES, accuracy_key


def test_evaluate_model_agrees_with_the_problem_check(p1000_tokenizer, tiny_p1000_model):
    tok, model = p1000_tokenizer, tiny_p1000_model
    problem = get_problem("eigenvalues", dim=2)
    data = test_set(problem, size=40)
    result = evaluate_model(model, tok, problem, data.inputs, batch_size=16)
    assert result.num_examples == 40 and len(result.predictions) == 40
    assert set(result.metrics) >= {accuracy_key(t) for t in TOLERANCES} | {"well_formed"}
    assert result.metrics["well_formed"] == result.score.summary.well_formed
    # The same predictions, scored directly against the inputs as the model saw them, give the same numbers.
    direct = problem.score(round_matrices(data.inputs, tok.input_encoding), result.predictions)
    np.testing.assert_array_equal(direct.errors, result.errors)
    np.testing.assert_array_equal(direct.well_formed, result.score.well_formed)
    assert np.all(np.isinf(result.errors[[p is None for p in result.predictions]]))


def test_generate_matrices_returns_candidates_per_problem(p1000_tokenizer, tiny_p1000_model):
    tok, model = p1000_tokenizer, tiny_p1000_model
    inputs = np.random.default_rng(0).uniform(-10, 10, (5, 2, 2))
    out = generate_matrices(model, tok, inputs, max_new_tokens=12, num_beams=3, num_return_sequences=3, batch_size=2)
    assert len(out) == 5 and all(len(c) == 3 for c in out)
    greedy = generate_matrices(model, tok, inputs, max_new_tokens=12, batch_size=5)
    again = generate_matrices(model, tok, inputs, max_new_tokens=12, batch_size=2)
    for a, b in zip(greedy, again):  # batch composition does not change greedy answers
        assert (a[0] is None and b[0] is None) or np.array_equal(a[0], b[0])


def test_evaluate_test_sets_runs_a_problem_listed_twice_once(monkeypatch, p1000_tokenizer, tiny_p1000_model):
    tok, model = p1000_tokenizer, tiny_p1000_model
    problem = get_problem("eigenvalues", dim=2)
    sets = {"test": problem, **distribution_variants(problem, ["semicircle", "laplace"])}  # semicircle == test
    calls = []

    def counting(*args, **kwargs):
        calls.append(kwargs["desc"])
        return evaluate_model(*args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate_model", counting)
    rows = evaluate_test_sets(model, tok, sets, size=6, batch_size=3)
    assert calls == ["test", "laplace"]
    assert list(rows) == ["test", "semicircle", "laplace"]
    assert rows["semicircle"] == rows["test"] and rows["semicircle"] is not rows["test"]
    data = test_set(problem, size=6)
    assert rows["test"] == evaluate_model(model, tok, problem, data.inputs, batch_size=3).metrics


def test_distribution_names_strip_and_skip_empty_entries():
    assert distribution_names(" laplace, positive ,,gaussian ") == ["laplace", "positive", "gaussian"]
    assert distribution_names(None) == [] and distribution_names("") == [] and distribution_names(" , ") == []
