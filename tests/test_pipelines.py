"""The pipelines (`matrix-eigen` and one per problem), their verification, rerank, bad inputs, and `solve`.

Tiny random models (d_model 16, 1+1 layers, P1000 in and out) stand for trained ones: they write garbage, so the
tests that need a well-formed answer replace `model.generate` with a scripted one that writes chosen candidate
answers for each input it reads. Everything runs offline; the default-model test uses a temporary HF_HOME.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import save_tiny_model, tiny_model
from transformers import LogitsProcessorList, TemperatureLogitsWarper, pipeline
from transformers.dynamic_module_utils import get_relative_import_files
from transformers.pipelines import PIPELINE_REGISTRY

import linalg_transformers
from linalg_transformers import MatrixTokenizer, cli, hub
from linalg_transformers.grammar import MatrixGrammarLogitsProcessor
from linalg_transformers.pipeline_matrix import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_DECODING,
    DEFAULT_MODELS,
    DEFAULT_RERANK_BEAMS,
    PIPELINES,
    PROGRESS_BAR_MIN,
    MatrixPipeline,
)
from linalg_transformers.problems import get_problem
from linalg_transformers.verification import invariant_errors

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "linalg_transformers"
TOK = MatrixTokenizer(input_encoding="P1000", output_encoding="P1000")
SIZES = {
    "d_model": 16,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 32,
    "decoder_ffn_dim": 32,
    "max_position_embeddings": 96,
}
"""Sizes of the pipelines' tiny models, over conftest's `TINY_SIZES`: half as wide (nine pipelines are built)."""

SYMMETRIC = np.array([[4.0, 1.0, -2.0], [1.0, -3.0, 5.0], [-2.0, 5.0, 6.0]])
GENERAL = np.array([[4.0, 1.0, -2.0], [7.0, -3.0, 5.0], [-2.0, 5.0, 6.0]])
EXAMPLES = {  # one in-distribution input per task (dim 3, coefficients within the trained range)
    "matrix-eigen": SYMMETRIC,
    "matrix-eigenvectors": SYMMETRIC,
    "matrix-inverse": GENERAL,
    "matrix-svd": GENERAL,
    "matrix-singular-values": GENERAL,
    "matrix-transpose": GENERAL,
    "matrix-add": np.hstack([GENERAL, SYMMETRIC]),
    "matrix-multiply": np.hstack([GENERAL, SYMMETRIC]),
    "matrix-vector": np.hstack([GENERAL, [[1.0], [-2.0], [3.0]]]),
}
VERIFICATION_KEYS = ("valid", "error", "correct_at", "check", "generated")


def problem_of(task: str):
    return get_problem(PIPELINES[task].problems[0], dim=3)


@pytest.fixture(scope="module")
def solvers() -> dict[str, MatrixPipeline]:
    """One pipeline per task, each on a tiny model trained (nominally) on its problem with dim 3."""
    return {
        task: pipeline(
            task, model=tiny_model(TOK, training_problem=problem_of(task).config_dict(), **SIZES), tokenizer=TOK
        )
        for task in PIPELINES
    }


@pytest.fixture(scope="module")
def eigen_folder(tmp_path_factory) -> Path:
    """A saved tiny eigenvalue model (dim 3) with its tokenizer: a model folder as training writes it."""
    folder = tmp_path_factory.mktemp("models") / "eigen-tiny"
    return save_tiny_model(folder, TOK, training_problem=problem_of("matrix-eigen").config_dict(), **SIZES)


def strict_json(value):
    """The value survives strict JSON (no NaN/inf), and every number in it is a plain Python float, int or bool."""

    def walk(v):
        if isinstance(v, dict):
            assert all(isinstance(k, str) for k in v)
            return all(walk(x) for x in v.values())
        if isinstance(v, list):
            return all(walk(x) for x in v)
        return v is None or type(v) in (float, int, bool, str)

    assert walk(value), value
    return json.loads(json.dumps(value, allow_nan=False))


# ------------------------------------------------------------------------------------- scripted generation
def answer_ids(candidates: list[np.ndarray | None]) -> list[list[int]]:
    """Decoder outputs (decoder start first) writing each candidate; `None` writes a malformed answer."""
    rows = []
    for c in candidates:
        body = [TOK.eos_token_id] if c is None else TOK.encode_matrices([c], side="output")[0][0].tolist()
        rows.append([TOK.bos_token_id] + [t for t in body if t != TOK.pad_token_id])
    return rows


class Scripted:
    """Stands in for `model.generate`: reads each input matrix back from its ids and writes `answers(matrix)`."""

    def __init__(self, answers):
        self.answers = answers
        self.calls: list[dict] = []

    def __call__(self, input_ids, attention_mask, max_length, num_beams, num_return_sequences, do_sample, **extra):
        processors = extra.pop("logits_processor", [])  # the default decoding's grammar (recorded apart)
        self.processors = list(processors)
        self.grammar = [p for p in processors if isinstance(p, MatrixGrammarLogitsProcessor)]
        assert not self.grammar or processors[-1] is self.grammar[-1]
        call = {"batch": len(input_ids), "num_beams": num_beams, "k": num_return_sequences}
        self.calls.append(call | ({"do_sample": do_sample, **extra} if do_sample or extra else {}))
        rows = []
        for x in TOK.decode_matrices(input_ids).matrices:  # P1000 in and out: the output decoder reads inputs too
            candidates = self.answers(x)
            assert len(candidates) >= num_return_sequences
            rows += answer_ids(candidates[:num_return_sequences])
        width = max(map(len, rows))
        return torch.tensor([r + [TOK.pad_token_id] * (width - len(r)) for r in rows])


def exact(task: str, x: np.ndarray) -> np.ndarray:
    """The problem's own solution of `x` (what a perfect model would write, before rounding)."""
    return PIPELINES[task].check.solve(x[None])[0]


def as_prediction(task: str, out: dict) -> np.ndarray:
    """The output's answer keys put back in the problem's target layout."""
    fields = [np.asarray(out[k], dtype=float) for k in PIPELINES[task].field_names]
    if task in ("matrix-eigen", "matrix-singular-values", "matrix-vector"):
        return fields[0][:, None]
    return np.vstack([np.atleast_2d(f) for f in fields])


# -------------------------------------------------------------------------------------------- registration
def test_every_task_is_registered_with_its_class_and_problems():
    registered = hub.registered_pipelines()
    assert set(PIPELINES) <= set(registered)
    assert registered["matrix-eigen"]["default"] == {"model": ("linalg/eigen-p1000", "main")}
    for task, cls in PIPELINES.items():
        assert registered[task]["impl"] is cls and cls.name == task
        for name in cls.problems:  # the publishing code ships this pipeline with models of these problems
            assert hub.pipeline_tasks_for(name) == [task]
            problem = get_problem(name)
            assert isinstance(problem, type(cls.check)), "the pipeline must check with the problem's own class"
            m = 4 if problem.supports_rectangular else 3
            assert cls.check.dims(problem.input_shape(3, m)) == (3, m)  # dims inverts the problem's layout
    linalg_transformers.pipeline_matrix.register_pipelines()  # idempotent
    assert PIPELINE_REGISTRY.supported_tasks["matrix-eigen"]["impl"] is PIPELINES["matrix-eigen"]


def test_the_pipeline_module_imports_only_flat_modules_so_it_travels_as_remote_code():
    module = PACKAGE / "pipeline_matrix.py"
    shipped = {Path(f).name for f in get_relative_import_files(str(module))}
    assert shipped == {"encodings.py", "grammar.py", "regression_decoding.py", "scoring.py", "verification.py"}
    for name in shipped | {module.name}:
        text = (PACKAGE / name).read_text()
        assert "from .." not in text and "import linalg_transformers" not in text, name
        assert "from linalg_transformers" not in text, name


# ------------------------------------------------------------------------------------------ every pipeline
@pytest.mark.parametrize("task", list(PIPELINES))
def test_every_pipeline_runs_on_a_random_model(solvers, task):
    solver = solvers[task]
    out = strict_json(solver(EXAMPLES[task]))
    cls = PIPELINES[task]
    assert list(out)[: len(cls.field_names)] == list(cls.field_names)
    assert set(VERIFICATION_KEYS) <= set(out)
    assert ("consistency" in out) == bool(cls.invariants)
    assert set(out["correct_at"]) == {"5%", "2%", "1%", "0.5%"}
    assert isinstance(out["generated"], str) and out["check"] == cls.check.description
    if not out["valid"]:  # a random model rarely writes a well-formed answer
        assert out["error"] is None and not any(out["correct_at"].values())
        assert all(out[k] is None for k in cls.field_names)


@pytest.mark.parametrize("task", list(PIPELINES))
def test_every_pipeline_writes_well_formed_answers_within_the_grammar(solvers, task):
    """A random model's answers within the output grammar are matrices of the answer's shape: greedy, each beam
    candidate, the reranked answer, and a batch of two shapes."""
    solver, x = solvers[task], EXAMPLES[task]
    out = strict_json(solver(x, decoding="grammar"))
    assert out["valid"] and out["error"] is not None
    out = solver(x, decoding="grammar", num_beams=3, num_return_sequences=3)
    assert all(c["valid"] for c in out["candidates"])
    assert solver(x, decoding="grammar", verify_rerank=True, num_beams=2)["valid"]
    if task in ("matrix-eigen", "matrix-transpose"):  # square or any: a 2x2 input beside the 3x3 one
        small = SYMMETRIC[:2, :2]
        with pytest.warns(UserWarning, match="far from the model's training distribution"):
            answers = solver([x, small, x], decoding="grammar", batch_size=2)
        assert [np.shape(o[PIPELINES[task].field_names[0]]) for o in answers][:2] != [(3,), (3,)]
        assert all(o["valid"] for o in answers)


def test_the_default_decoding_is_within_the_grammar_and_greedy_is_plain_generate(solvers, monkeypatch):
    solver = solvers["matrix-eigen"]
    script = Scripted(lambda m: [exact("matrix-eigen", m)])
    monkeypatch.setattr(solver.model, "generate", script)
    assert DEFAULT_DECODING == "grammar"
    default = solver(SYMMETRIC)
    assert [p.shapes.tolist() for p in script.grammar] == [[[3, 1]]]  # the answer's shape
    assert solver(SYMMETRIC, decoding="greedy") == default and script.grammar == []
    user = LogitsProcessorList([TemperatureLogitsWarper(0.5)])  # a user's processors come first, the grammar last
    solver(SYMMETRIC, generate_kwargs={"logits_processor": user})
    assert len(script.grammar) == 1 and script.processors[0] is user[0]


def test_without_a_grammar_for_the_output_encoding_the_default_is_plain_greedy(monkeypatch):
    """A user's encoding (registered, not in NUMBER_GRAMMARS): the default decodes; decoding="grammar" says why not."""
    from linalg_transformers import encodings
    from linalg_transformers.encodings import PositionalEncoding, register_encoding

    class Renamed(PositionalEncoding):
        def __init__(self) -> None:
            super().__init__(1000)
            self.name = "P1000-user"

    monkeypatch.setattr(encodings, "_REGISTRY", dict(encodings._REGISTRY))
    monkeypatch.setattr(encodings, "_INSTANCES", dict(encodings._INSTANCES))
    register_encoding("P1000-user", Renamed)
    tok = MatrixTokenizer(input_encoding="P1000", output_encoding="P1000-user")
    solver = pipeline("matrix-transpose", model=tiny_model(tok, **SIZES), tokenizer=tok)
    assert set(solver(GENERAL)) >= {"valid", "generated"}
    with pytest.raises(ValueError, match="no output grammar for the encoding 'P1000-user'"):
        solver(GENERAL, decoding="grammar")


@pytest.mark.parametrize("task", list(PIPELINES))
def test_every_pipeline_verifies_an_answer_with_the_problems_own_check(solvers, task, monkeypatch):
    solver, x = solvers[task], EXAMPLES[task]
    monkeypatch.setattr(solver.model, "generate", Scripted(lambda m: [exact(task, m)]))
    out = strict_json(solver(x))
    assert out["valid"] and out["correct_at"]["5%"], out
    prediction = as_prediction(task, out)
    np.testing.assert_allclose(prediction, exact(task, x), rtol=6e-3, atol=1e-12)  # three significant digits
    assert out["error"] == pytest.approx(problem_of(task).score([x], [prediction]).errors[0], rel=1e-12, abs=1e-15)
    assert out["generated"] == TOK.decode(answer_ids([exact(task, x)])[0], skip_special_tokens=True)

    monkeypatch.setattr(solver.model, "generate", Scripted(lambda m: [2 * exact(task, m)]))  # wrong by 100%
    out = strict_json(solver(x))
    assert out["valid"] and not out["correct_at"]["5%"] and out["error"] > 0.5
    assert out["error"] == pytest.approx(problem_of(task).score([x], [as_prediction(task, out)]).errors[0], rel=1e-12)


def test_eigenvalues_come_out_descending_and_with_consistency_checks(solvers, monkeypatch):
    solver, x = solvers["matrix-eigen"], SYMMETRIC
    lam = exact("matrix-eigen", x)[:, 0]
    monkeypatch.setattr(solver.model, "generate", Scripted(lambda m: [lam[::-1, None]]))  # ascending
    out = solver(x)
    assert out["eigenvalues"] == sorted(out["eigenvalues"], reverse=True) and out["correct_at"]["1%"]
    assert out["consistency"]["trace_error"] < 0.01 and out["consistency"]["frobenius_error"] < 0.01

    # Same trace, wrong values: the trace check cannot tell, the Frobenius check and the error can.
    shifted = lam + np.array([1.0, 0.0, -1.0])
    monkeypatch.setattr(solver.model, "generate", Scripted(lambda m: [shifted[:, None]]))
    out = solver(x)
    assert out["consistency"]["trace_error"] < 1e-2 < out["consistency"]["frobenius_error"]
    assert out["error"] > 0.1

    checked = invariant_errors(x[None], lam[None], trace=True)
    assert checked["trace_error"][0] < 1e-12 and checked["frobenius_error"][0] < 1e-12


def test_eigenvectors_and_svd_reorder_vectors_with_their_values(solvers, monkeypatch):
    for task, x in (("matrix-eigenvectors", SYMMETRIC), ("matrix-svd", GENERAL)):
        answer = exact(task, x)
        solver = solvers[task]
        monkeypatch.setattr(solver.model, "generate", Scripted(lambda m, a=answer: [a[:, ::-1]]))  # values ascending
        out = solver(x)
        assert out["valid"] and out["correct_at"]["5%"], task
        values = out["eigenvalues" if task == "matrix-eigenvectors" else "singular_values"]
        assert values == sorted(values, reverse=True)
        np.testing.assert_allclose(as_prediction(task, out), answer, rtol=6e-3, atol=1e-12)


# -------------------------------------------------------------------------------------------- input forms
def test_a_nested_list_is_one_matrix_and_a_list_of_matrices_is_a_batch(solvers):
    solver = solvers["matrix-eigen"]
    other = np.array([[2.0, -1.0, 0.5], [-1.0, 3.0, 4.0], [0.5, 4.0, -5.0]])
    one = solver(SYMMETRIC)
    assert isinstance(one, dict)
    assert solver(SYMMETRIC.tolist()) == one  # a nested list is ONE matrix, not a batch of rows
    assert solver(torch.tensor(SYMMETRIC)) == one
    batch = solver([SYMMETRIC, other])
    assert isinstance(batch, list) and len(batch) == 2 and batch[0] == one
    assert solver([SYMMETRIC.tolist(), other.tolist()]) == batch
    assert solver(np.stack([SYMMETRIC, other])) == batch  # a 3-D array is a batch
    assert solver([SYMMETRIC, other], batch_size=2) == batch
    assert solver((SYMMETRIC, other)) == batch


def test_batches_of_mixed_shapes_are_padded_and_answered_in_order(solvers, monkeypatch):
    solver = solvers["matrix-transpose"]
    script = Scripted(lambda m: [m.T])
    monkeypatch.setattr(solver.model, "generate", script)
    rng = np.random.default_rng(0)
    inputs = [np.round(rng.uniform(-9, 9, shape), 1) for shape in [(3, 3), (2, 3), (3, 2), (1, 3), (3, 3)]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the sizes other than 3x3 are outside dim 3
        outputs = solver(inputs, batch_size=3)
    assert [c["batch"] for c in script.calls] == [3, 2]  # processed in batches
    for x, out in zip(inputs, outputs):
        assert out["valid"] and out["error"] < 1e-15
        np.testing.assert_allclose(out["transpose"], x.T, rtol=1e-15)


def test_a_batch_goes_through_generate_in_batches_by_default(solvers, monkeypatch):
    solver = solvers["matrix-transpose"]
    script = Scripted(lambda m: [m.T])
    monkeypatch.setattr(solver.model, "generate", script)
    outputs = solver([GENERAL] * 5)
    assert [c["batch"] for c in script.calls] == [5] and len(outputs) == 5  # one generate() call, not five
    script.calls.clear()
    solver(np.stack([GENERAL] * (DEFAULT_BATCH_SIZE + 1)))
    assert [c["batch"] for c in script.calls] == [DEFAULT_BATCH_SIZE, 1]
    script.calls.clear()
    assert solver([GENERAL] * 3, batch_size=1) == outputs[:3] and [c["batch"] for c in script.calls] == [1, 1, 1]


def test_long_batches_show_a_progress_bar(solvers, monkeypatch, capsys):
    solver = solvers["matrix-transpose"]
    monkeypatch.setattr(solver.model, "generate", Scripted(lambda m: [m.T]))
    rng = np.random.default_rng(1)
    inputs = list(np.round(rng.uniform(-9, 9, (PROGRESS_BAR_MIN + 1, 3, 3)), 1))
    outputs = solver(inputs)
    err = capsys.readouterr().err
    assert "matrix-transpose" in err and f"{PROGRESS_BAR_MIN + 1}/{PROGRESS_BAR_MIN + 1}" in err
    for x, out in zip(inputs, outputs):  # the answers come back in order
        np.testing.assert_allclose(out["transpose"], x.T)
    assert solver(inputs, progress=False) == outputs and capsys.readouterr().err == ""
    solver(inputs[:PROGRESS_BAR_MIN])
    assert capsys.readouterr().err == ""  # short batches: no bar
    solver(inputs[:2], progress=True)
    assert "2/2" in capsys.readouterr().err
    with pytest.raises(ValueError, match="progress must be True, False or None"):
        solver(inputs[:2], progress="yes")


def test_num_return_sequences_lists_the_candidates(solvers, monkeypatch):
    solver, x = solvers["matrix-inverse"], GENERAL
    inverse = np.linalg.inv(x)
    candidates = [1.3 * inverse, inverse, None, 1.05 * inverse]
    script = Scripted(lambda m: candidates)
    monkeypatch.setattr(solver.model, "generate", script)
    out = strict_json(solver(x, num_return_sequences=3))
    assert script.calls[-1] == {"batch": 1, "num_beams": 3, "k": 3}  # beam search with as many beams
    assert "rerank" not in out and not out["correct_at"]["5%"]  # the top candidate, not the best one
    listed = out["candidates"]
    assert len(listed) == 3 and [c["valid"] for c in listed] == [True, True, False]
    assert {k: v for k, v in listed[0].items()} == {k: v for k, v in out.items() if k not in ("check", "candidates")}
    np.testing.assert_allclose(listed[1]["inverse"], inverse, rtol=6e-3)
    assert listed[1]["correct_at"]["0.5%"] and listed[2]["inverse"] is None and listed[2]["error"] is None
    assert "check" not in listed[0] and all(isinstance(c["generated"], str) for c in listed)

    reranked = solver(x, num_return_sequences=4, verify_rerank=True)  # rerank among the candidates listed
    assert reranked["rerank"]["chosen"] == 1 and len(reranked["candidates"]) == 4
    assert reranked["correct_at"]["0.5%"] and script.calls[-1]["k"] == 4
    assert "candidates" not in solver(x, verify_rerank=True)  # rerank alone lists errors only, as before
    assert len(solver(x, num_return_sequences=1)["candidates"]) == 1


def test_generate_kwargs_reach_generate(solvers, monkeypatch):
    solver, x = solvers["matrix-inverse"], GENERAL
    script = Scripted(lambda m: [np.linalg.inv(m)] * 4)
    monkeypatch.setattr(solver.model, "generate", script)
    solver(x, generate_kwargs={"num_beams": 4, "length_penalty": 0.5})
    assert script.calls[-1] == {"batch": 1, "num_beams": 4, "k": 1, "do_sample": False, "length_penalty": 0.5}
    out = solver(x, num_return_sequences=2, generate_kwargs={"do_sample": True, "top_k": 5})
    assert script.calls[-1] == {"batch": 1, "num_beams": 1, "k": 2, "do_sample": True, "top_k": 5}  # sampling
    assert len(out["candidates"]) == 2
    solver(x, generate_kwargs={"num_return_sequences": 2, "max_new_tokens": 40})
    assert script.calls[-1]["k"] == 2 and script.calls[-1]["num_beams"] == 2
    at_construction = pipeline("matrix-inverse", model=solver.model, tokenizer=TOK, generate_kwargs={"num_beams": 3})
    at_construction(x)
    assert script.calls[-1]["num_beams"] == 3


GENERATION_ERRORS = [
    ({"num_return_sequences": 3, "num_beams": 2}, r"num_return_sequences=3 needs num_beams >= 3"),
    ({"num_return_sequences": 0}, "num_return_sequences must be a positive int"),
    ({"num_return_sequences": 1, "verify_rerank": True}, "at least 2 beam candidates; got num_return_sequences=1"),
    ({"generate_kwargs": {"max_length": 5}}, r"generate_kwargs cannot set \['max_length'\]"),
    ({"generate_kwargs": {"input_ids": None}}, "generate_kwargs cannot set"),
    ({"generate_kwargs": [("num_beams", 2)]}, "generate_kwargs must be a dict"),
    ({"num_beams": 2, "generate_kwargs": {"num_beams": 3}}, r"num_beams is 2 and generate_kwargs\['num_beams'\] is 3"),
    ({"temperature": 0.5}, r"unknown option\(s\) \['temperature'\].*generate_kwargs="),
]


@pytest.mark.parametrize(("options", "match"), GENERATION_ERRORS, ids=[m[:30] for _, m in GENERATION_ERRORS])
def test_generation_options_are_checked(solvers, options, match):
    with pytest.raises(ValueError, match=match):
        solvers["matrix-eigen"](SYMMETRIC, **options)


def test_a_real_model_returns_candidates_and_samples(solvers):
    solver = solvers["matrix-inverse"]
    out = strict_json(solver(GENERAL, num_return_sequences=2))
    assert len(out["candidates"]) == 2
    torch.manual_seed(0)
    sampled = strict_json(solver(GENERAL, num_return_sequences=3, generate_kwargs={"do_sample": True, "top_k": 4}))
    assert len(sampled["candidates"]) == 3


@pytest.mark.parametrize("task", ["matrix-multiply", "matrix-vector"])
def test_products_take_a_pair_and_return_a_times_b(solvers, monkeypatch, task):
    """A pair (A, B) or {"a": A, "b": B} gives A @ B; the stacked input [A | B] keeps the reference's A^T B."""
    solver = solvers[task]
    monkeypatch.setattr(solver.model, "generate", Scripted(lambda m: [exact(task, m)]))
    a = np.array([[1.0, -2.0, 3.0], [4.0, 0.5, -6.0], [-7.0, 8.0, 2.0]])
    b = SYMMETRIC if task == "matrix-multiply" else np.array([1.0, -2.0, 3.0])
    want = a @ b
    pair = strict_json(solver((a, b)))
    assert pair["valid"] and pair["correct_at"]["1%"], pair
    np.testing.assert_allclose(np.squeeze(pair["product"]), want, rtol=6e-3)
    assert pair["check"] == PIPELINES[task].pair_check and "A @ " in pair["check"]
    assert solver({"a": a, "b": b}) == pair and solver({"A": a.tolist(), "B": b.tolist()}) == pair
    assert solver((torch.tensor(a), torch.tensor(b))) == pair
    assert solver([(a, b), {"a": 2 * a, "b": b}]) == [pair, solver((2 * a, b))]  # a list of pairs is a batch
    stacked = solver(np.hstack([a, b if b.ndim == 2 else b[:, None]]))  # [A | B]: the reference's A^T B
    np.testing.assert_allclose(np.squeeze(stacked["product"]), a.T @ b, rtol=6e-3)
    assert stacked["check"] == PIPELINES[task].check.description
    if task == "matrix-vector":
        assert solver((a, b[:, None])) == pair and solver((a, b.tolist())) == pair  # v as a column, or a list
    else:
        rectangular = np.arange(6.0).reshape(2, 3) - 2
        other = np.arange(6.0).reshape(3, 2) + 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # 3x2 halves: outside the trained n = m
            out = solver((rectangular, other))  # (2 x 3) @ (3 x 2)
        np.testing.assert_allclose(out["product"], rectangular @ other, rtol=6e-3)


def test_a_dataframe_of_numbers_is_a_matrix(solvers):
    pd = pytest.importorskip("pandas")
    solver = solvers["matrix-eigen"]
    frame = pd.DataFrame(SYMMETRIC, columns=["a", "b", "c"])
    assert solver(frame) == solver(SYMMETRIC)
    assert solver([frame, frame]) == [solver(SYMMETRIC)] * 2
    with pytest.raises(ValueError, match="holds a string"):
        solver(pd.DataFrame([["1", "2"], ["2", "1"]]))


def test_a_real_model_in_batches_with_rerank(solvers):
    solver = solvers["matrix-inverse"]
    outputs = [strict_json(o) for o in solver([GENERAL, 2 * GENERAL, -GENERAL], batch_size=2, verify_rerank=True)]
    assert len(outputs) == 3
    for out in outputs:
        assert out["rerank"]["candidates"] == DEFAULT_RERANK_BEAMS and len(out["rerank"]["errors"]) == 4
    assert solver(GENERAL, verify_rerank=True) == outputs[0]


# ------------------------------------------------------------------------------------------------- rerank
def test_rerank_returns_the_candidate_with_the_lowest_residual(solvers, monkeypatch):
    solver, x = solvers["matrix-inverse"], GENERAL
    inverse = np.linalg.inv(x)
    candidates = [None, 1.3 * inverse, inverse, 1.05 * inverse]  # malformed, 30% off, exact, 5% off
    script = Scripted(lambda m: candidates)
    monkeypatch.setattr(solver.model, "generate", script)

    plain = solver(x, num_beams=4)  # beam search alone keeps the top beam: here the malformed one
    assert not plain["valid"] and "rerank" not in plain and script.calls[-1] == {"batch": 1, "num_beams": 4, "k": 1}

    out = strict_json(solver(x, verify_rerank=True))
    assert script.calls[-1] == {"batch": 1, "num_beams": DEFAULT_RERANK_BEAMS, "k": DEFAULT_RERANK_BEAMS}
    assert out["rerank"]["chosen"] == 2 and out["valid"] and out["correct_at"]["0.5%"]
    written = TOK.decode_matrices(answer_ids(candidates[1:])).matrices  # the candidates as the model wrote them
    residuals = problem_of("matrix-inverse").score([x] * len(written), written).errors  # the problem's own check
    assert out["rerank"]["errors"][0] is None
    np.testing.assert_allclose(out["rerank"]["errors"][1:], residuals, rtol=1e-9)
    assert out["error"] == min(out["rerank"]["errors"][1:]) == out["rerank"]["errors"][2]
    np.testing.assert_allclose(out["inverse"], inverse, rtol=6e-3)

    two = solver(x, verify_rerank=True, num_beams=2)["rerank"]
    assert two == {"candidates": 2, "chosen": 1, "ranked_by": "error", "errors": out["rerank"]["errors"][:2]}


def test_eigenvalue_rerank_uses_the_invariants_never_the_solution(solvers, monkeypatch):
    """Eigenvalues have no property check: rerank ranks by trace and Frobenius consistency, not by numpy's answer.

    The candidates: 1% off everywhere (closest to numpy, but off in trace and norm), and a wrong answer with exactly
    the right sum and sum of squares (a rotation of the deviations from the mean, which keeps both). Rerank takes the
    consistent one, although `error` (the comparison with numpy, reported for every candidate) says it is worse.
    """
    solver, x = solvers["matrix-eigen"], SYMMETRIC
    values = np.linalg.eigvalsh(x)[::-1]
    mean, dev = values.mean(), values - values.mean()
    basis = np.linalg.qr(np.stack([np.ones(3), dev, np.array([1.0, -2.0, 0.5])], axis=1))[0]
    a, b = basis[:, 1] @ dev, basis[:, 2] @ dev  # dev in the plane orthogonal to (1, 1, 1)
    turned = (
        mean + basis[:, 1] * (a * np.cos(2.0) - b * np.sin(2.0)) + basis[:, 2] * (a * np.sin(2.0) + b * np.cos(2.0))
    )
    near = 1.01 * values
    monkeypatch.setattr(solver.model, "generate", Scripted(lambda m: [near[:, None], turned[:, None]]))
    out = solver(x, verify_rerank=True, num_beams=2)
    assert out["rerank"]["ranked_by"] == "consistency" and out["rerank"]["chosen"] == 1
    assert out["rerank"]["errors"][1] > out["rerank"]["errors"][0]  # numpy would have chosen the other
    assert max(out["consistency"].values()) < 5e-3  # 3 significant digits
    np.testing.assert_allclose(sorted(out["eigenvalues"]), sorted(turned), rtol=6e-3)


def test_rerank_by_the_eigenvector_property(solvers, monkeypatch):
    """Two decompositions that both reproduce the eigenvalues; only one has orthonormal eigenvectors."""
    solver, x = solvers["matrix-eigenvectors"], SYMMETRIC
    answer = exact("matrix-eigenvectors", x)
    scaled = answer.copy()
    scaled[1:] *= 1.2  # Q scaled: Q^T M Q = 1.44 D, Q^T Q = 1.44 I
    monkeypatch.setattr(solver.model, "generate", Scripted(lambda m: [scaled, answer, scaled, scaled]))
    assert not solver(x)["correct_at"]["5%"]
    out = solver(x, verify_rerank=True)
    assert out["rerank"]["chosen"] == 1 and out["correct_at"]["1%"]
    assert out["rerank"]["errors"][0] == out["rerank"]["errors"][2] > 0.4


def test_rerank_and_decoding_options_are_checked(solvers):
    solver = solvers["matrix-eigen"]
    with pytest.raises(ValueError, match="at least 2 beam candidates"):
        solver(SYMMETRIC, verify_rerank=True, num_beams=1)
    with pytest.raises(ValueError, match="num_beams must be a positive int"):
        solver(SYMMETRIC, num_beams=0)
    with pytest.raises(ValueError, match="verify_rerank must be True or False"):
        solver(SYMMETRIC, verify_rerank="yes")
    with pytest.raises(ValueError, match="max_new_tokens=500 is more than the model can decode"):
        solver(SYMMETRIC, max_new_tokens=500)
    with pytest.raises(ValueError, match="unknown option"):
        solver(SYMMETRIC, temperature=0.5)
    out = solver(SYMMETRIC, max_new_tokens=3)
    assert not out["valid"]  # three tokens cannot hold a 3x1 answer


# ---------------------------------------------------------------------------------------------- bad input
BAD_INPUTS = [
    ("matrix-eigen", 3.0, "not a matrix: got float"),
    ("matrix-eigen", [1.0, 2.0, 3.0], r"not a matrix: got an array of shape \(3,\)"),
    ("matrix-eigen", {"rows": [[1.0]]}, "not a matrix: got dict"),
    ("matrix-eigen", [], "got an empty batch"),
    ("matrix-eigen", np.zeros((0, 5, 5)), r"got an empty batch \(no matrices\).*shape \(0, 5, 5\)"),
    ("matrix-transpose", torch.zeros((0, 3, 3)), "got an empty batch"),
    ("matrix-eigen", {"a": np.eye(2), "b": np.eye(2)}, "not a matrix: got dict"),  # a pair only for products
    ("matrix-multiply", (np.ones((2, 3)), np.ones((2, 2))), "A is 2x3 and B is 2x2: A @ B needs as many columns"),
    ("matrix-multiply", (np.ones((2, 3)), np.ones((3, 3))), r"A\^T and B of the same shape, so B must be 3x2"),
    ("matrix-multiply", {"a": np.eye(2), "c": np.eye(2)}, r"a dict input is a pair \{'a': A, 'b': B\}"),
    ("matrix-multiply", (np.eye(2), [[1.0, 2.0], [3.0]]), "matrix-multiply: B: ragged rows"),
    ("matrix-vector", (np.ones((2, 3)), [1.0, 2.0]), "A @ v needs a vector of 3 entries"),
    ("matrix-vector", (np.ones((2, 3)), np.ones((3, 2))), "A @ v needs a vector of 3 entries"),
    ("matrix-eigen", np.zeros((0, 0)), "has no entries"),
    ("matrix-eigen", [[1.0, 2.0], [3.0]], "ragged rows"),
    ("matrix-eigen", [["1", "2"], ["2", "1"]], "holds a string"),
    ("matrix-eigen", np.array([["1", "2"], ["2", "1"]]), "holds a string"),
    ("matrix-eigen", "[[1, 2], [2, 1]]", "got a string"),
    ("matrix-eigen", [[True, False], [False, True]], "entries must be real numbers"),
    ("matrix-eigen", [[np.nan, 1.0], [1.0, 2.0]], "NaN or infinity"),
    ("matrix-eigen", np.array([[np.inf, 1.0], [1.0, 2.0]]), "NaN or infinity"),
    ("matrix-eigen", np.array([[1 + 1j, 0], [0, 1]]), "complex"),
    ("matrix-eigen", [[1 + 1j, 0], [0, 1]], "complex"),
    ("matrix-eigen", [[1.0, 2.0, 3.0], [2.0, 1.0, 3.0]], "inputs are square matrices; got shape"),
    ("matrix-inverse", np.ones((2, 3)), "inputs are square matrices"),
    ("matrix-eigenvectors", np.ones((3, 2)), "inputs are square matrices"),
    ("matrix-add", np.ones((3, 5)), "even number of columns"),
    ("matrix-multiply", np.ones((3, 5)), "even number of columns"),
    ("matrix-vector", np.ones((3, 1)), "at least 2 columns"),
    ("matrix-eigen", [[1.0, 2.0], [3.0, 4.0]], r"not symmetric \(max \|M - M\^T\| = 1\).*\(M \+ M.T\) / 2"),
    ("matrix-eigenvectors", [[1.0, 2.0], [3.0, 4.0]], "not symmetric"),
    ("matrix-transpose", np.ones((101, 2)), "the matrix is 101x2; the vocabulary writes at most 100"),
    ("matrix-svd", np.ones((60, 60)), "the answer is 121x60; the vocabulary writes at most 100"),
    (
        "matrix-eigen",
        5 * np.eye(8),
        "the 8x8 matrix takes 195 input positions; this model reads at most 96.*trained on eigenvalues",
    ),
    ("matrix-svd", 5 * np.ones((4, 4)), "the answer to the 4x4 matrix is 9x4, 112 output positions"),
    ("matrix-eigen", [[1e200, 0.0], [0.0, 1.0]], "outside the range of the input encoding P1000"),
]


@pytest.mark.parametrize(("task", "bad", "match"), BAD_INPUTS, ids=[f"{t}-{m[:24]}" for t, _, m in BAD_INPUTS])
def test_bad_input_gets_a_clear_value_error(solvers, task, bad, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(ValueError, match=match) as err:
            solvers[task](bad)
    assert str(err.value).startswith(f"{task}: ")


def test_bad_input_in_a_batch_is_reported_too(solvers):
    with pytest.raises(ValueError, match="matrix-eigen: ragged rows"):
        solvers["matrix-eigen"]([SYMMETRIC, [[1.0, 2.0], [3.0]]])


def test_values_beyond_fp15_are_outside_its_range():
    tok = MatrixTokenizer(input_encoding="FP15", output_encoding="P1000")
    solver = pipeline("matrix-eigen", model=tiny_model(tok, **SIZES), tokenizer=tok)
    assert solver([[9.9e8, 0.0], [0.0, 1.0]])["valid"] in (True, False)  # the largest FP15 writes
    with pytest.raises(ValueError, match=r"matrix-eigen: 2e\+09 is outside the range of the input encoding FP15"):
        solver([[2e9, 0.0], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # far past the range: the same error, and no numpy warning on the way
        with pytest.raises(ValueError, match=r"matrix-eigen: 1e\+300 is outside the range of the input encoding FP15"):
            solver([[1e300, 1.0], [1.0, 1e300]])


def test_nearly_symmetric_matrices_are_symmetrised(solvers, monkeypatch):
    solver = solvers["matrix-eigen"]
    monkeypatch.setattr(solver.model, "generate", Scripted(lambda m: [exact("matrix-eigen", m)]))
    x = SYMMETRIC.copy()
    x[0, 1] += 1e-12
    nearly, exactly = solver(x), solver(SYMMETRIC)
    assert nearly["generated"] == exactly["generated"] and nearly["error"] == pytest.approx(exactly["error"])


# -------------------------------------------------------------------------------- training distribution
def test_far_from_the_training_distribution_warns_naming_it(solvers, monkeypatch):
    solver = solvers["matrix-eigen"]
    with pytest.warns(UserWarning, match=r"far from the model's training distribution \(eigenvalues \(.*dim=3.*\)\)"):
        solver(np.diag([5.0, -4.0, 3.0, 6.0]))  # 4x4, trained on 3x3
    with pytest.warns(UserWarning, match=r"root mean square is 367.*training coefficients' 5.77 \(coeff_range=10\)"):
        solver(100 * SYMMETRIC)
    with pytest.warns(UserWarning, match=r"its largest entry is 0.06, where the training coefficients spread over"):
        solver(SYMMETRIC / 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # in distribution: no warning
        solver(SYMMETRIC)
        solver(SYMMETRIC / 5)  # root mean square 4.5x below the training one, but entries up to 1.2: plausible

    transpose = solvers["matrix-transpose"]
    monkeypatch.setattr(transpose.model.config, "training_problem", {"name": "transpose", "dim": [2, 4]})
    with pytest.warns(UserWarning, match=r"dimensions 3 != 2, but the model was trained on n = m"):
        transpose(np.ones((3, 2)))
    monkeypatch.setattr(transpose.model.config, "training_problem", {"name": "cotraining", "dim": 3})
    with pytest.warns(UserWarning, match="the model was trained on 'cotraining', not on transpose"):
        transpose(GENERAL)
    monkeypatch.setattr(transpose.model.config, "training_problem", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing recorded, nothing to compare with
        transpose(1000 * np.ones((5, 2)))


# ---------------------------------------------------------------------------------------- default model
def subprocess_env(hf_home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HF_HUB_CACHE", "HF_TOKEN")}
    for name in ("TRANSFORMERS_VERBOSITY", "TRANSFORMERS_NO_ADVISORY_WARNINGS", "HF_HUB_DISABLE_PROGRESS_BARS"):
        env.pop(name, None)
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(hf_home), OMP_NUM_THREADS="1", **extra)
    return env


@pytest.fixture(scope="module")
def default_models(eigen_folder, tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """A temporary HF_HOME holding a tiny fixture model under every default Hub id of `DEFAULT_MODELS`."""
    hf_home = tmp_path_factory.mktemp("hf_home")
    folders = {}
    for task, repo_id in DEFAULT_MODELS.items():
        folder = eigen_folder
        if task != "matrix-eigen":
            folder = tmp_path_factory.mktemp("models") / task
            save_tiny_model(folder, TOK, training_problem=problem_of(task).config_dict(), **SIZES)
        hub.install_checkpoint(folder, repo_id, hf_home / "hub")
        folders[task] = folder
    return hf_home, folders


def test_a_model_shipping_its_pipeline_is_served_by_the_installed_class(eigen_folder, tmp_path):
    """A published model lists its pipeline in custom_pipelines (remote code for processes without the package);
    with the package imported, `pipeline(task, model=folder)` uses the installed class, no trust_remote_code."""
    import shutil

    from linalg_transformers.hub.remote_code import custom_pipelines_config

    folder = tmp_path / "published"
    shutil.copytree(eigen_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    config["custom_pipelines"] = custom_pipelines_config(["matrix-eigen"])  # what publish writes
    (folder / "config.json").write_text(json.dumps(config))
    assert config["custom_pipelines"]["matrix-eigen"]["impl"] == "pipeline_matrix.MatrixEigenPipeline"
    expected = pipeline("matrix-eigen", model=str(eigen_folder))(SYMMETRIC)
    for solver in (pipeline("matrix-eigen", model=str(folder)), pipeline(model=str(folder))):
        assert type(solver) is PIPELINES["matrix-eigen"]
        assert solver(SYMMETRIC) == expected
    solver.model.save_pretrained(tmp_path / "saved")  # the entry is kept where the model is saved again
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert saved["custom_pipelines"] == config["custom_pipelines"]


def test_every_released_default_is_registered_and_the_others_say_pass_model():
    registered = hub.registered_pipelines()
    assert DEFAULT_MODELS == {
        "matrix-eigen": "linalg/eigen-p1000",
        "matrix-transpose": "linalg/transpose-p1000",
        "matrix-add": "linalg/add-p1000",
        "matrix-vector": "linalg/matvec-p1000",
    }
    for task in PIPELINES:
        if task in DEFAULT_MODELS:
            assert registered[task]["default"] == {"model": (DEFAULT_MODELS[task], "main")}, task
        else:
            assert registered[task].get("default") is None and "default" not in registered[task], task
            with pytest.raises(ValueError, match=rf"{task} has no released model yet.*pipeline\('{task}', model="):
                pipeline(task)  # transformers alone: KeyError: 'default'


def test_pipeline_with_no_model_loads_each_tasks_default_from_the_local_cache(default_models, tmp_path):
    """`pipeline(task)` loads `DEFAULT_MODELS[task]` from the HF cache, offline, for every task that has one."""
    hf_home, folders = default_models
    expected = {
        task: strict_json(pipeline(task, model=str(folder))(EXAMPLES[task])) for task, folder in folders.items()
    }
    script = f"""
import json
import numpy as np
from transformers import pipeline
import linalg_transformers

for task, repo_id in {DEFAULT_MODELS!r}.items():
    solver = pipeline(task)
    assert solver.model.name_or_path == repo_id, (task, solver.model.name_or_path)
    assert type(solver) is linalg_transformers.PIPELINES[task]
    print(json.dumps(solver(np.array({ {t: x.tolist() for t, x in EXAMPLES.items()}!r}[task]))))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=subprocess_env(hf_home, TRANSFORMERS_VERBOSITY="error"),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert printed == [expected[task] for task in DEFAULT_MODELS]


def run_cli(argv: list[str], hf_home: Path, cwd: Path, **popen: Any) -> subprocess.CompletedProcess:
    """The command line in a fresh interpreter (transformers' logging as a user sees it), offline."""
    command = [sys.executable, "-c", "import sys; from linalg_transformers import cli; sys.exit(cli.main())", *argv]
    if "stdout" not in popen:
        popen["capture_output"] = True
    return subprocess.run(command, cwd=cwd, env=subprocess_env(hf_home), text=True, timeout=240, **popen)


def test_solve_prints_only_the_answer_unless_verbose(default_models, tmp_path):
    """No "No model was supplied", no loading bars: `solve` chose the default model itself."""
    hf_home, folders = default_models
    expected = strict_json(pipeline("matrix-eigen", model=str(folders["matrix-eigen"]))(SYMMETRIC))
    matrix = json.dumps(SYMMETRIC.tolist())
    quiet = run_cli(["solve", "--task", "matrix-eigen", matrix], hf_home, tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr[-3000:]
    assert json.loads(quiet.stdout) == expected
    verbose = run_cli(["solve", "--task", "matrix-eigen", "--verbose", matrix], hf_home, tmp_path)
    assert verbose.returncode == 0 and "Loading weights" in verbose.stderr, verbose.stderr[-3000:]
    assert json.loads(verbose.stdout) == expected


def test_solve_into_a_closed_pipe_ends_quietly(eigen_folder, tmp_path):
    """`linalg-transformers solve ... | head`: the reader goes away; no BrokenPipeError traceback, exit code 0."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        argv = ["solve", "--task", "matrix-eigen", "--model", str(eigen_folder), json.dumps(SYMMETRIC.tolist())]
        result = run_cli(argv, tmp_path / "hf_home", tmp_path, stdout=write, stderr=subprocess.PIPE)
    finally:
        os.close(write)
    assert result.returncode == 0 and result.stderr == "", result.stderr[-3000:]


def test_the_help_examples_fit_the_released_models():
    """Every `solve` example of --help that uses a default model is in that model's training distribution."""
    import shlex

    checked = 0
    examples = [*cli.pipelines.SOLVE_EXAMPLES, *(line.strip() for line in cli.EPILOG.splitlines())]
    for example in examples:
        if not example.startswith("linalg-transformers solve "):
            continue
        argv = shlex.split(example.split("#")[0])
        if "--model" in argv or "--file" in argv:
            continue
        task = argv[argv.index("--task") + 1]
        released = ROOT / "checkpoints" / DEFAULT_MODELS[task]
        config = json.loads((released / "config.json").read_text())
        tokenizer = MatrixTokenizer.from_pretrained(released)
        sizes = {**SIZES, "max_position_embeddings": config["max_position_embeddings"]}
        model = tiny_model(tokenizer, training_problem=config["training_problem"], **sizes)
        solver = pipeline(task, model=model, tokenizer=tokenizer)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # far from the training distribution would warn
            solver.preprocess(json.loads(argv[-1]))  # the length checks and the distribution warning
        checked += 1
    assert checked >= 2  # the top-level help and solve --help


# --------------------------------------------------------------------------------------------------- solve
def solve(capsys, *argv: str):
    assert cli.main(["solve", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_solve_prints_the_pipelines_json(eigen_folder, tmp_path, capsys, monkeypatch):
    expected = strict_json(pipeline("matrix-eigen", model=str(eigen_folder))(SYMMETRIC))
    model = ["--task", "matrix-eigen", "--model", str(eigen_folder)]
    assert solve(capsys, *model, json.dumps(SYMMETRIC.tolist())) == expected
    plain = strict_json(pipeline("matrix-eigen", model=str(eigen_folder))(SYMMETRIC, decoding="greedy"))
    assert solve(capsys, *model, "--decoding", "greedy", json.dumps(SYMMETRIC.tolist())) == plain
    np.save(tmp_path / "one.npy", SYMMETRIC)
    assert solve(capsys, *model, "--file", str(tmp_path / "one.npy")) == expected
    np.save(tmp_path / "batch.npy", np.stack([SYMMETRIC, SYMMETRIC]))
    assert solve(capsys, *model, "--file", str(tmp_path / "batch.npy"), "--batch-size", "2") == [expected] * 2
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(SYMMETRIC.tolist())))
    assert solve(capsys, *model, "-") == expected
    reranked = solve(capsys, *model, "--verify-rerank", "--num-beams", "3", json.dumps(SYMMETRIC.tolist()))
    assert reranked["rerank"]["candidates"] == 3


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--task", "matrix-eigen"], "give the matrix either as JSON"),
        (["--task", "matrix-eigen", "[[1, 2], [2, 1]]", "--file", "x.npy"], "give the matrix either as JSON"),
        (["--task", "matrix-eigen", "[[1, 2], [2"], "the matrix is not JSON"),
        (["--task", "matrix-eigen", "--file", "no-such-file.npy"], "cannot read 'no-such-file.npy' as a .npy array"),
        (["--task", "matrix-eigen", "--file", __file__], "as a .npy array"),
        (["--task", "matrix-eigen", "[[1, 2], [3, 4]]"], "matrix-eigen: the matrix is not symmetric"),
        (["--task", "matrix-inverse", "[[1, 2], [3, 4]]"], "matrix-inverse has no default model; pass --model"),
        (["--task", "matrix-eigen", "[]"], "matrix-eigen: got an empty batch"),
        (
            ["--task", "matrix-transpose", "--model", "/nonexistent", "[[1]]"],
            "cannot load a model from '/nonexistent' (a model folder or a Hub id): there is no folder '/nonexistent'",
        ),
        (
            ["--task", "matrix-transpose", "--model", "nobody/no-such-model", "[[1]]"],
            "cannot load a model from 'nobody/no-such-model' (a model folder or a Hub id): ",
        ),
    ],
)
def test_solve_reports_bad_input_as_an_error(eigen_folder, capsys, argv, match):
    if "matrix-eigen" in argv:
        argv = [*argv, "--model", str(eigen_folder)]
    with pytest.raises(SystemExit) as exit_:
        cli.main(["solve", *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1 and err.startswith("linalg-transformers solve: error: "), err


def test_solve_an_empty_npy_batch_is_an_error(eigen_folder, tmp_path, capsys):
    np.save(tmp_path / "empty.npy", np.zeros((0, 3, 3)))
    with pytest.raises(SystemExit) as exit_:
        cli.main(
            ["solve", "--task", "matrix-eigen", "--model", str(eigen_folder), "--file", str(tmp_path / "empty.npy")]
        )
    assert exit_.value.code == 2
    assert "matrix-eigen: got an empty batch (no matrices)" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------- benchmark
def test_the_rerank_benchmark_measures_the_three_decodings(eigen_folder):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_rerank
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    rows = bench_rerank.measure_rerank(str(eigen_folder), size=4, num_beams=2, batch_size=2)
    assert list(rows) == ["greedy", "beam search, top beam (num_beams=2)", "verify_rerank (num_beams=2)"]
    for row in rows.values():
        assert set(row) == {f"accuracy@{t:g}" for t in (0.05, 0.02, 0.01, 0.005)} | {"well_formed", "seconds"}
        assert all(0 <= row[k] <= 1 for k in row if k != "seconds")
    assert bench_rerank.task_for("sym_inverse") == "matrix-inverse"


def test_the_grammar_benchmark_times_both_decodings_at_each_beam_size(eigen_folder):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_grammar
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    ways = bench_grammar.measure_grammar(str(eigen_folder), n=4, beams=[1, 2], repeats=1, batch_size=2)
    assert [(w.num_beams, w.decoding) for w in ways] == [(1, "greedy"), (1, "grammar"), (2, "greedy"), (2, "grammar")]
    assert all(w.matrices_per_s > 0 and 0 <= w.accuracy_at_5 <= 1 for w in ways)
    assert all(w.well_formed == 1.0 for w in ways if w.decoding == "grammar")  # within the grammar, always
    with pytest.raises(ValueError, match="positive"):
        bench_grammar.measure_grammar(str(eigen_folder), n=4, beams=[0], repeats=1)
