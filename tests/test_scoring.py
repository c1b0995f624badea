"""Scoring: the tolerances, correct answers, accuracy summaries, `Score`, labels and the accuracy table."""

from __future__ import annotations

import ast
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from linalg_transformers import scoring
from linalg_transformers.problems import get_problem
from linalg_transformers.scoring import (
    MAIN_TOLERANCE,
    TOLERANCES,
    AccuracySummary,
    Score,
    accuracy_key,
    format_accuracy_table,
    format_percent,
    is_correct,
    summarize,
    tolerance_label,
)

ERRORS = np.array([0.001, 0.03, math.inf, 0.2])
WELL_FORMED = np.array([True, True, False, True])


def test_the_tolerances_are_the_papers():
    assert TOLERANCES == (0.05, 0.02, 0.01, 0.005) and MAIN_TOLERANCE == 0.05


def test_correct_is_strictly_below_the_tolerance():
    errors = np.array([0.0, 0.0499, 0.05, math.inf, -1.0, math.nan])
    assert is_correct(errors, 0.05).tolist() == [True, True, False, False, False, False]


def test_labels_keys_and_percentages():
    assert [tolerance_label(t) for t in TOLERANCES] == ["5%", "2%", "1%", "0.5%"]
    assert [accuracy_key(t) for t in TOLERANCES] == [
        "accuracy@0.05",
        "accuracy@0.02",
        "accuracy@0.01",
        "accuracy@0.005",
    ]
    assert (
        format_percent(0.995) == "99.50%" and format_percent(1.0) == "100.00%" and format_percent(1 / 3, 1) == "33.3%"
    )
    assert format_percent(None) == format_percent(math.nan) == "n/a"


# ---------------------------------------------------------------------------------------------- summaries
def test_summarize_names_every_figure():
    summary = summarize(ERRORS, WELL_FORMED)
    assert isinstance(summary, AccuracySummary) and summary.num_examples == 4 and summary.tolerances == TOLERANCES
    assert summary.accuracy == {0.05: 0.5, 0.02: 0.25, 0.01: 0.25, 0.005: 0.25}
    assert summary.well_formed == 0.75
    assert summary.mean_relative_error == pytest.approx(0.077) and summary.median_relative_error == pytest.approx(0.03)
    metrics = summary.metrics()
    assert list(metrics) == [accuracy_key(t) for t in TOLERANCES] + [
        "well_formed",
        "mean_relative_error",
        "median_relative_error",
    ]
    assert metrics["accuracy@0.05"] == 0.5 and metrics["accuracy@0.005"] == 0.25 and metrics["well_formed"] == 0.75


def test_nothing_well_formed_has_no_mean_error_and_an_empty_set_no_accuracy():
    summary = summarize(np.full(3, math.inf), np.zeros(3, dtype=bool), tolerances=(0.1,))
    assert summary.accuracy == {0.1: 0.0} and summary.well_formed == 0.0
    assert summary.mean_relative_error is None and summary.median_relative_error is None
    metrics = summary.metrics()
    assert math.isnan(metrics["mean_relative_error"]) and math.isnan(metrics["median_relative_error"])
    with pytest.raises(ValueError, match="empty set"):
        summarize(np.array([]), np.array([], dtype=bool))


@pytest.mark.parametrize(
    ("tolerances", "message"),
    [((), "at least one"), ((0.05, 0.0), "above 0"), ((math.inf,), "above 0"), ((0.05, 0.05), "repeat")],
)
def test_bad_tolerances_are_refused(tolerances, message):
    with pytest.raises(ValueError, match=message):
        summarize(ERRORS, WELL_FORMED, tolerances)
    with pytest.raises(ValueError, match=message):
        Score(ERRORS, WELL_FORMED, tolerances)


# ------------------------------------------------------------------------------------------------- Score
def test_score_holds_errors_correct_answers_and_accuracy():
    score = Score([0.001, 0.03, math.inf, 0.2], [1, 1, 0, 1], tolerances=[0.05, 0.01])
    assert len(score) == 4 and score.tolerances == (0.05, 0.01)
    assert score.errors.dtype == np.float64 and score.well_formed.dtype == bool
    assert {t: c.tolist() for t, c in score.correct.items()} == {
        0.05: [True, True, False, False],
        0.01: [True, False, False, False],
    }
    assert score.accuracy == {0.05: 0.5, 0.01: 0.25}
    assert score.summary == summarize(ERRORS, WELL_FORMED, (0.05, 0.01))
    assert score.by_task() == {} and score.metrics() == score.summary.metrics()
    assert "errors" not in repr(score)  # the arrays stay out of the repr


def test_score_summarizes_each_task_in_the_given_order():
    tasks = ["E", "T", "E", "T"]
    score = Score(ERRORS, WELL_FORMED, tasks=tasks, task_tokens=("T", "I", "E"))
    by_task = score.by_task()
    assert list(by_task) == ["T", "E"]  # tasks absent from the batch are left out
    assert by_task["E"] == summarize(ERRORS[[0, 2]], WELL_FORMED[[0, 2]])
    assert by_task["T"].accuracy[0.05] == 0.5 and by_task["T"].well_formed == 1.0
    metrics = score.metrics()
    assert metrics["E/accuracy@0.05"] == 0.5 and metrics["E/well_formed"] == 0.5 and metrics["T/accuracy@0.005"] == 0
    assert list(metrics)[: len(score.summary.metrics())] == list(score.summary.metrics())
    assert list(Score(ERRORS, WELL_FORMED, tasks=tasks).by_task()) == ["E", "T"]  # by default, first appearance


def test_score_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="one length"):
        Score(ERRORS, WELL_FORMED[:3])
    with pytest.raises(ValueError, match="one length"):
        Score(ERRORS[None], WELL_FORMED[None])
    with pytest.raises(ValueError, match="3 tasks for 4"):
        Score(ERRORS, WELL_FORMED, tasks=["E"] * 3)
    with pytest.raises(ValueError, match="empty set"):
        Score([], []).metrics()


def test_a_problems_score_is_a_score():
    problem = get_problem("eigenvalues", dim=3)
    batch = problem.generate(20, seed=0)
    predictions = list(batch.targets[:10] * 1.03) + [None] * 5 + list(batch.targets[15:])
    score = problem.score(batch.inputs, predictions, tolerances=(0.05, 0.02))
    assert isinstance(score, Score) and score.tolerances == (0.05, 0.02)
    assert score.accuracy == {0.05: 0.75, 0.02: 0.25} and score.summary.well_formed == 0.75
    assert score.tasks is None and score.by_task() == {}
    assert problem.check(batch.inputs[0], predictions[0]) and not problem.check(batch.inputs[0], predictions[0], 0.02)
    assert not problem.check(batch.inputs[10], None)
    targets = problem.score_targets(batch.targets, predictions)
    np.testing.assert_allclose(targets.errors, problem.score(batch.inputs, predictions).errors, rtol=1e-9)


# ------------------------------------------------------------------------------------------------- the table
def test_format_accuracy_table():
    row = {accuracy_key(t): v for t, v in zip(TOLERANCES, (0.995, 0.9, 0.5, 0.125))} | {"well_formed": 1.0}
    summary = summarize([0.001, 0.03, math.inf, 0.2], WELL_FORMED)
    table = format_accuracy_table(
        {"semicircle": row, "laplace": summary, "no answers": {"accuracy@0.05": 0.0}}, (0.05,)
    )
    lines = table.splitlines()
    assert lines[0] == "| test set | 5% tol. | well formed |" and lines[1] == "|---|---:|---:|"
    assert lines[2:] == [
        "| semicircle | 99.50% | 100.00% |",
        "| laplace | 50.00% | 75.00% |",
        "| no answers | 0.00% | n/a |",
    ]
    full = format_accuracy_table({"semicircle": row})
    assert full.splitlines()[0] == "| test set | 5% tol. | 2% tol. | 1% tol. | 0.5% tol. | well formed |"
    assert full.splitlines()[2] == "| semicircle | 99.50% | 90.00% | 50.00% | 12.50% | 100.00% |"


# --------------------------------------------------------------------------------------------- remote code
def test_scoring_is_flat_so_it_travels_as_remote_code():
    """It imports numpy and the standard library only: no package module, no relative import."""
    tree = ast.parse(Path(scoring.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, "scoring.py imports a sibling module"
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
    assert imported - set(sys.stdlib_module_names) - {"__future__"} == {"numpy"}


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(scoring, raise_on_error=True)
    assert result.attempted > 0 and result.failed == 0
