"""The shared evaluation path: generate, decode, check; and the accuracy table."""

from __future__ import annotations

import numpy as np
import torch

import linalg_transformers  # noqa: F401
from linalg_transformers import MatrixSeq2SeqConfig, MatrixSeq2SeqForConditionalGeneration, MatrixTokenizer, evaluation
from linalg_transformers.evaluation import (
    TOLERANCES,
    distribution_variants,
    evaluate_model,
    evaluate_test_sets,
    format_accuracy_table,
    generate_matrices,
)
from linalg_transformers.problems import get_problem, test_set


def tiny_model(tok: MatrixTokenizer) -> MatrixSeq2SeqForConditionalGeneration:
    torch.manual_seed(0)
    config = MatrixSeq2SeqConfig(
        vocab_size=tok.vocab_size,
        decoder_vocab_size=tok.output_vocab_size,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        max_position_embeddings=64,
    )
    return MatrixSeq2SeqForConditionalGeneration(config).eval()


def test_evaluate_model_agrees_with_the_problem_check():
    tok = MatrixTokenizer(input_encoding="P1000", output_encoding="P1000")
    model = tiny_model(tok)
    problem = get_problem("eigenvalues", dim=2)
    data = test_set(problem, size=40)
    result = evaluate_model(model, tok, problem, data.inputs, batch_size=16)
    assert result.num_examples == 40 and len(result.predictions) == 40
    assert set(result.metrics) >= {f"accuracy@{t:g}" for t in TOLERANCES} | {"well_formed"}
    # The same predictions, scored directly, give the same numbers.
    direct = problem.accuracy(data.inputs, result.predictions)
    assert direct["well_formed"] == result.metrics["well_formed"]
    assert np.all(np.isinf(result.errors[[p is None for p in result.predictions]]))


def test_generate_matrices_returns_candidates_per_problem():
    tok = MatrixTokenizer(input_encoding="P1000", output_encoding="P1000")
    model = tiny_model(tok)
    inputs = np.random.default_rng(0).uniform(-10, 10, (5, 2, 2))
    out = generate_matrices(model, tok, inputs, max_new_tokens=12, num_beams=3, num_return_sequences=3, batch_size=2)
    assert len(out) == 5 and all(len(c) == 3 for c in out)
    greedy = generate_matrices(model, tok, inputs, max_new_tokens=12, batch_size=5)
    again = generate_matrices(model, tok, inputs, max_new_tokens=12, batch_size=2)
    for a, b in zip(greedy, again):  # batch composition does not change greedy answers
        assert (a[0] is None and b[0] is None) or np.array_equal(a[0], b[0])


def test_evaluate_test_sets_runs_a_problem_listed_twice_once(monkeypatch):
    tok = MatrixTokenizer(input_encoding="P1000", output_encoding="P1000")
    model = tiny_model(tok)
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


def test_format_accuracy_table():
    row = {f"accuracy@{t:g}": v for t, v in zip(TOLERANCES, (0.995, 0.9, 0.5, 0.125))} | {"well_formed": 1.0}
    table = format_accuracy_table({"semicircle": row})
    assert table.splitlines()[0] == "| test set | 5% tol. | 2% tol. | 1% tol. | 0.5% tol. | well formed |"
    assert table.splitlines()[2] == "| semicircle | 99.50% | 90.00% | 50.00% | 12.50% | 100.00% |"
