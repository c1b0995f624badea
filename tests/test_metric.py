"""The matrix_accuracy evaluate module: doctests (evaluate convention), offline loading, agreement with the checks."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from conftest import Trace, registered_problem

from linalg_transformers import get_encoding
from linalg_transformers.metrics import MATRIX_ACCURACY_PATH, load_matrix_accuracy
from linalg_transformers.problems import get_problem, test_set
from linalg_transformers.problems.test_sets import round_matrices


@pytest.fixture(scope="module")
def metric():
    return load_matrix_accuracy()


def _strings(matrices, encoding="P1000", tasks=None):
    enc = get_encoding(encoding)
    out = [" ".join(enc.encode_matrix(m)) for m in matrices]
    return out if tasks is None else [f"{t} {s}" for t, s in zip(tasks, out)]


def test_docstring_examples_run_as_doctests(metric):
    import sys

    module = sys.modules[type(metric).__module__]  # the copy evaluate loaded, as evaluate's own tests do
    result = doctest.testmod(module, raise_on_error=True, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 6 and result.failed == 0


def test_metric_card_examples_run(metric):
    result = doctest.testfile(
        str(MATRIX_ACCURACY_PATH / "README.md"), module_relative=False, globs={"metric": metric}, raise_on_error=True
    )
    assert result.attempted >= 5 and result.failed == 0


def test_evaluate_load_on_the_bundled_folder_works_offline(monkeypatch):
    import evaluate

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    module = evaluate.load(str(MATRIX_ACCURACY_PATH))
    x = [[[1.0, 2.0]]]  # the transpose of this 1x2 input is 2x1
    out = module.compute(predictions=[[[1.0, 2.0]]], references=[[[1.0], [2.0]]], inputs=x, problem="transpose")
    assert out["accuracy@0.05"] == 0.0 and out["well_formed"] == 0.0
    out = module.compute(predictions=[[[1.0], [2.0]]], references=[[[1.0], [2.0]]], inputs=x, problem="transpose")
    assert out["accuracy@0.005"] == 1.0


@pytest.mark.parametrize("name", ["eigenvalues", "eigenvectors", "inverse", "svd", "matmul"])
def test_metric_equals_the_problems_own_accuracy(metric, name):
    problem = get_problem(name, dim=4)
    data = test_set(problem, size=200)
    seen = round_matrices(data.inputs, "FP15")
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, data.targets.shape) * (np.arange(200) % 2)[:, None, None]  # every other one exact
    answers = round_matrices(data.targets * (1 + noise), "P1000")
    expected = problem.score(seen, answers).metrics()
    as_matrices = metric.compute(
        predictions=answers.tolist(), references=data.targets.tolist(), inputs=seen.tolist(), problem=name
    )
    as_tokens = metric.compute(
        predictions=_strings(answers),
        references=_strings(data.targets),
        inputs=_strings(data.inputs, "FP15"),
        problem=problem.config_dict(),
        encoding="P1000",
        input_encoding="FP15",
    )
    for out in (as_matrices, as_tokens):
        assert out.keys() == expected.keys()
        for k, v in expected.items():
            assert out[k] == pytest.approx(v, rel=1e-12), k
    assert any(0.05 < v < 0.95 for k, v in expected.items() if k.startswith("accuracy@"))  # it discriminates


def test_without_inputs_unique_answers_are_compared_with_the_references(metric):
    problem = get_problem("singular_values", dim=(2, 4), rectangular=True)
    data = test_set(problem, size=60)
    preds = [t * 1.03 for t in data.targets]
    out = metric.compute(
        predictions=[p.ravel().tolist() for p in preds],
        references=[t.ravel().tolist() for t in data.targets],
        problem=problem.config_dict(),
    )
    assert out["accuracy@0.05"] == 1.0 and out["accuracy@0.02"] == 0.0
    assert out["mean_relative_error"] == pytest.approx(0.03)
    with pytest.raises(ValueError, match="pass inputs"):
        metric.compute(predictions=[[[1.0]]], references=[[[1.0]]], problem="inverse")
    with pytest.raises(ValueError, match="encoding"):
        metric.compute(predictions=["V1 V1 + 100 E-2"], references=["V1 V1 + 100 E-2"], problem="eigenvalues")


def test_malformed_token_strings_are_wrong(metric):
    refs = ["V2 V1 + 300 E-2 + 100 E-2"] * 5
    preds = [
        "V2 V1 + 300 E-2 + 100 E-2 </s>",  # special tokens are ignored
        "V2 V1 + 300 E-2",  # too short
        "V2 V1 + 300 E-2 + 100 E-2 + 100 E-2",  # trailing tokens
        "+ 300 E-2 + 100 E-2",  # no header
        "",
    ]
    out = metric.compute(predictions=preds, references=refs, problem="eigenvalues", encoding="P1000")
    assert out["well_formed"] == 0.2 and out["accuracy@0.005"] == 0.2


def test_cotraining_needs_the_right_task_token(metric):
    problem = get_problem("cotraining", tasks="TEF", dim=3)
    data = test_set(problem, size=60)
    refs = _strings(data.targets, tasks=data.tasks)
    wrong = ["E" if t == "T" else t for t in data.tasks]
    preds = _strings(data.targets, tasks=wrong)
    out = metric.compute(
        predictions=preds,
        references=refs,
        inputs=[x.tolist() for x in data.inputs],
        problem=problem.config_dict(),
        encoding="P1000",
    )
    share_t = data.tasks.count("T") / 60
    assert out["accuracy@0.05"] == pytest.approx(1 - share_t) and out["T/accuracy@0.05"] == 0.0
    assert out["E/accuracy@0.005"] == 1.0 and out["F/accuracy@0.005"] == 1.0
    # matrices with explicit tasks: the same table
    out2 = metric.compute(
        predictions=[np.asarray(y).tolist() for y in data.targets],
        references=[np.asarray(y).tolist() for y in data.targets],
        inputs=[x.tolist() for x in data.inputs],
        problem=problem.config_dict(),
        tasks=data.tasks,
        prediction_tasks=wrong,
    )
    counts = [k for k in out if "accuracy@" in k or "well_formed" in k]  # out's errors are of rounded answers
    assert out2.keys() == out.keys() and {k: out2[k] for k in counts} == {k: out[k] for k in counts}
    no_token = _strings(data.targets)  # answers without their task token are malformed
    out3 = metric.compute(
        predictions=no_token,
        references=refs,
        inputs=[x.tolist() for x in data.inputs],
        problem=problem.config_dict(),
        encoding="P1000",
    )
    assert out3["well_formed"] == 0.0


def test_incremental_batches_give_the_same_result(metric):
    problem = get_problem("eigenvalues", dim=3)
    data = test_set(problem, size=100)
    preds = (data.targets * 1.01).tolist()
    whole = metric.compute(predictions=preds, references=data.targets.tolist(), problem="eigenvalues")
    for i in range(0, 100, 25):
        metric.add_batch(predictions=preds[i : i + 25], references=data.targets[i : i + 25].tolist())
    assert metric.compute(problem="eigenvalues") == whole


class Determinant(Trace):
    """A user's problem for the metric test: the determinant, 1 x 1."""

    task_token = None

    def solve(self, inputs):
        return np.linalg.det(inputs)[:, None, None]


def test_metric_scores_a_registered_user_problem(metric):
    with registered_problem("determinant", Determinant):
        problem = get_problem("determinant", dim=3)
        data = problem.generate(50, seed=0)
        preds = _strings(data.targets * 1.02)
        out = metric.compute(
            predictions=preds,
            references=_strings(data.targets),
            problem="determinant",
            encoding="P1000",
            inputs=data.inputs.tolist(),
            tolerances=[0.05, 0.01],
        )
        assert out["accuracy@0.05"] == 1.0 and out["accuracy@0.01"] == 0.0
        assert out["mean_relative_error"] == pytest.approx(0.02, abs=6e-3)
