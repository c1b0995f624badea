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

import numpy as np
import pytest
import torch
from transformers import pipeline
from transformers.dynamic_module_utils import get_relative_import_files
from transformers.pipelines import PIPELINE_REGISTRY

import linalg_transformers
from linalg_transformers import MatrixSeq2SeqConfig, MatrixSeq2SeqForConditionalGeneration, MatrixTokenizer, cli, hub
from linalg_transformers.pipeline_matrix import DEFAULT_RERANK_BEAMS, PIPELINES, MatrixPipeline
from linalg_transformers.problems import get_problem
from linalg_transformers.verification import invariant_errors

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "linalg_transformers"
TOK = MatrixTokenizer(input_encoding="P1000", output_encoding="P1000")
POSITIONS = 96

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


def tiny_model(tokenizer: MatrixTokenizer, training_problem: dict | None, positions: int = POSITIONS, seed: int = 0):
    torch.manual_seed(seed)
    config = MatrixSeq2SeqConfig(
        vocab_size=tokenizer.vocab_size,
        decoder_vocab_size=tokenizer.output_vocab_size,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=positions,
        training_problem=training_problem,
    )
    return MatrixSeq2SeqForConditionalGeneration(config).eval()


def problem_of(task: str):
    return get_problem(PIPELINES[task].problems[0], dim=3)


@pytest.fixture(scope="module")
def solvers() -> dict[str, MatrixPipeline]:
    """One pipeline per task, each on a tiny model trained (nominally) on its problem with dim 3."""
    return {
        task: pipeline(task, model=tiny_model(TOK, problem_of(task).config_dict()), tokenizer=TOK)
        for task in PIPELINES
    }


@pytest.fixture(scope="module")
def eigen_folder(tmp_path_factory) -> Path:
    """A saved tiny eigenvalue model (dim 3) with its tokenizer: a model folder as training writes it."""
    folder = tmp_path_factory.mktemp("models") / "eigen-tiny"
    tiny_model(TOK, problem_of("matrix-eigen").config_dict()).save_pretrained(folder)
    TOK.save_pretrained(folder)
    return folder


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

    def __call__(self, input_ids, attention_mask, max_length, num_beams, num_return_sequences, do_sample):
        self.calls.append({"batch": len(input_ids), "num_beams": num_beams, "k": num_return_sequences})
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
    assert shipped == {"encodings.py", "verification.py"}
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
def test_every_pipeline_verifies_an_answer_with_the_problems_own_check(solvers, task, monkeypatch):
    solver, x = solvers[task], EXAMPLES[task]
    monkeypatch.setattr(solver.model, "generate", Scripted(lambda m: [exact(task, m)]))
    out = strict_json(solver(x))
    assert out["valid"] and out["correct_at"]["5%"], out
    prediction = as_prediction(task, out)
    np.testing.assert_allclose(prediction, exact(task, x), rtol=6e-3, atol=1e-12)  # three significant digits
    assert out["error"] == pytest.approx(problem_of(task).relative_error(x, prediction), rel=1e-12, abs=1e-15)
    assert out["generated"] == TOK.decode(answer_ids([exact(task, x)])[0], skip_special_tokens=True)

    monkeypatch.setattr(solver.model, "generate", Scripted(lambda m: [2 * exact(task, m)]))  # wrong by 100%
    out = strict_json(solver(x))
    assert out["valid"] and not out["correct_at"]["5%"] and out["error"] > 0.5
    assert out["error"] == pytest.approx(problem_of(task).relative_error(x, as_prediction(task, out)), rel=1e-12)


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
    residuals = [problem_of("matrix-inverse").relative_error(x, w) for w in written]  # the problem's own check
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
    ("matrix-eigen", [], "empty list"),
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
    solver = pipeline("matrix-eigen", model=tiny_model(tok, None), tokenizer=tok)
    assert solver([[9.9e8, 0.0], [0.0, 1.0]])["valid"] in (True, False)  # the largest FP15 writes
    with pytest.raises(ValueError, match=r"matrix-eigen: 2e\+09 is outside the range of the input encoding FP15"):
        solver([[2e9, 0.0], [0.0, 1.0]])


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
def test_pipeline_with_no_model_resolves_the_default_from_the_local_cache(eigen_folder, tmp_path):
    """`pipeline("matrix-eigen")` and `solve` without --model load linalg/eigen-p1000 from the HF cache, offline."""
    hf_home = tmp_path / "hf_home"
    hub.install_checkpoint(eigen_folder, "linalg/eigen-p1000", hf_home / "hub")
    expected = strict_json(pipeline("matrix-eigen", model=str(eigen_folder))(SYMMETRIC))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HF_HUB_CACHE", "HF_TOKEN")}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(hf_home), TRANSFORMERS_VERBOSITY="error", OMP_NUM_THREADS="1")
    script = f"""
import json, sys
import numpy as np
from transformers import pipeline
import linalg_transformers
from linalg_transformers import cli

solver = pipeline("matrix-eigen")
assert solver.model.name_or_path == "linalg/eigen-p1000", solver.model.name_or_path
print(json.dumps(solver(np.array({SYMMETRIC.tolist()!r}))))
sys.stdout.flush()
sys.exit(cli.main(["solve", "--task", "matrix-eigen", {json.dumps(SYMMETRIC.tolist())!r}]))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    first, rest = result.stdout.split("\n", 1)
    assert json.loads(first) == expected
    assert json.loads(rest) == expected


# --------------------------------------------------------------------------------------------------- solve
def solve(capsys, *argv: str):
    assert cli.main(["solve", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_solve_prints_the_pipelines_json(eigen_folder, tmp_path, capsys, monkeypatch):
    expected = strict_json(pipeline("matrix-eigen", model=str(eigen_folder))(SYMMETRIC))
    model = ["--task", "matrix-eigen", "--model", str(eigen_folder)]
    assert solve(capsys, *model, json.dumps(SYMMETRIC.tolist())) == expected
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
    ],
)
def test_solve_reports_bad_input_as_an_error(eigen_folder, capsys, argv, match):
    if "matrix-eigen" in argv:
        argv = [*argv, "--model", str(eigen_folder)]
    with pytest.raises(SystemExit) as exit_:
        cli.main(["solve", *argv])
    assert exit_.value.code == 2
    assert match in capsys.readouterr().err


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
