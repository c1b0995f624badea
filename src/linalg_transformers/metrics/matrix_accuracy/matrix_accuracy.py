"""matrix_accuracy: accuracy of predicted matrices at the paper's tolerances, with each problem's own check.

This file is an `evaluate` module: ``evaluate.load(<folder of this file>)`` (or
``linalg_transformers.metrics.load_matrix_accuracy()``) loads it offline. evaluate copies the file alone into its
module cache, so it imports the package absolutely (``import linalg_transformers``): the metric requires the
linalg-transformers package to be installed.
"""

import datasets
import evaluate
import numpy as np

import linalg_transformers
from linalg_transformers.problems import get_problem
from linalg_transformers.scoring import TOLERANCES

_CITATION = """\
@article{charton2022linear,
  title={Linear algebra with transformers},
  author={Charton, Fran{\\c{c}}ois},
  journal={Transactions on Machine Learning Research},
  year={2022},
  url={https://openreview.net/forum?id=Hp4g7FAXXG}
}
"""

_DESCRIPTION = """\
Accuracy of predicted matrices on a linear-algebra problem (transpose, add, matvec, matmul, eigenvalues,
eigenvectors, inverse, sym_inverse, singular_values, svd, cotraining, or a problem you registered), at the
tolerances 5%, 2%, 1% and 0.5% of "Linear algebra with transformers" (Charton, 2022).

A prediction is correct at tolerance t iff 0 <= error < t. With `inputs`, the error is the problem's own check on
its input: the relative L1 distance sum|P - T| / sum|T| to the solution of that input for problems with a unique
answer, or how far the prediction is from the defining property (eigenvectors: Q^T M Q = D with Q orthogonal; SVD:
U^T M V = S with U, V orthogonal; inversion: sum|M P - I| / n). Without `inputs`, problems with a unique answer are
scored by the same relative L1 distance to the references. Malformed predictions (not decodable, wrong shape, NaN,
wrong task token) are wrong.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list`): One answer per example: a matrix (nested lists or array; a flat list for a column
        vector), a token string in `encoding` (e.g. "V2 V1 + 314 E-2 - 500 E-3"; co-training answers start with
        their task token, e.g. "E V2 V1 ..."), or None (no answer).
    references (`list`): The target matrices, in the same forms (None where unknown). Used for the score when
        `inputs` is not given; for co-training their leading task tokens give `tasks`.
    problem (`str` or `dict`, defaults to "eigenvalues"): The problem's name or its `config_dict()`.
    problem_options (`dict`, *optional*): Options of the problem (e.g. {"tasks": ["transpose", "eigenvalues"]}).
    inputs (`list`, *optional*): The problems' input matrices (or token strings in `input_encoding`), as given to
        the model. Required by problems checked by a property (eigenvectors, inverse, sym_inverse, svd).
    encoding (`str`, *optional*): Encoding of token-string predictions and references (P10, P1000, B1999, FP15).
    input_encoding (`str`, *optional*): Encoding of token-string inputs (defaults to `encoding`).
    tasks (`list[str]`, *optional*): Co-training: the task token of each example.
    prediction_tasks (`list[str]`, *optional*): Co-training: the task token written before each matrix prediction.
    tolerances (`list[float]`, defaults to [0.05, 0.02, 0.01, 0.005]): The tolerances.

Returns:
    accuracy@0.05, accuracy@0.02, accuracy@0.01, accuracy@0.005 (`float`): Share of correct predictions.
    well_formed (`float`): Share of predictions that are matrices of the right shape (and task).
    mean_relative_error, median_relative_error (`float`): Over the well-formed predictions.
    Co-training adds these per task, prefixed by the task token ("E/accuracy@0.05").

Examples:

    >>> from linalg_transformers.metrics import load_matrix_accuracy
    >>> metric = load_matrix_accuracy()

    Eigenvalues (descending), predictions as lists, references as token strings:

    >>> results = metric.compute(
    ...     predictions=[[3.0, 1.0], [3.1, 1.0], None],
    ...     references=["V2 V1 + 300 E-2 + 100 E-2"] * 3,
    ...     problem="eigenvalues",
    ...     encoding="P1000",
    ... )
    >>> [round(results[k], 4) for k in ("accuracy@0.05", "accuracy@0.02", "accuracy@0.005", "well_formed")]
    [0.6667, 0.3333, 0.3333, 0.6667]

    Inversion is checked on the inputs (M P = I): any accurate inverse passes.

    >>> m = [[2.0, 1.0], [1.0, 1.0]]
    >>> results = metric.compute(
    ...     predictions=[
    ...         "V2 V2 + 100 E-2 - 100 E-2 - 100 E-2 + 200 E-2",
    ...         "V2 V2 + 100 E-2 + 100 E-2 - 100 E-2 + 200 E-2",
    ...     ],
    ...     references=[None, None],
    ...     inputs=[m, m],
    ...     problem="inverse",
    ...     encoding="P1000",
    ... )
    >>> results["accuracy@0.05"], results["well_formed"]
    (0.5, 1.0)
"""

_SPECIAL_TOKENS = frozenset({"<s>", "</s>", "<pad>"})


def _matrix_features(kind):
    """`datasets` feature of one prediction or reference: a matrix, a flat vector, or a token string."""
    if kind == "matrix":
        return datasets.Sequence(datasets.Sequence(datasets.Value("float64")))
    if kind == "vector":
        return datasets.Sequence(datasets.Value("float64"))
    return datasets.Value("string")


def _decode(items, encoding, task_tokens):
    """Matrices (or None) and leading task tokens (or None) of predictions given as matrices or token strings."""
    matrices, tasks = [], []
    enc = None
    for item in items:
        task = None
        if isinstance(item, str):
            if encoding is None:
                raise ValueError("token strings need the encoding that wrote them: pass encoding='P1000' (or another)")
            enc = enc or linalg_transformers.get_encoding(encoding)
            tokens = [t for t in item.split() if t not in _SPECIAL_TOKENS]
            if tokens and tokens[0] in task_tokens:
                task, tokens = tokens[0], tokens[1:]
            item = enc.decode_matrix(tokens) if tokens else None
        matrices.append(item)
        tasks.append(task)
    return matrices, tasks


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MatrixAccuracy(evaluate.Metric):
    """Accuracy of predicted matrices at several tolerances, with the problem's own check."""

    def _info(self):
        kinds = [("matrix", "matrix"), ("string", "string"), ("string", "matrix"), ("matrix", "string")]
        kinds += [("vector", "vector"), ("vector", "string"), ("string", "vector")]
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({"predictions": _matrix_features(p), "references": _matrix_features(r)})
                for p, r in kinds
            ],
            reference_urls=["https://arxiv.org/abs/2112.01898"],
        )

    def _compute(
        self,
        predictions,
        references,
        problem="eigenvalues",
        problem_options=None,
        inputs=None,
        encoding=None,
        input_encoding=None,
        tasks=None,
        prediction_tasks=None,
        tolerances=TOLERANCES,
    ):
        prob = get_problem(problem, **(problem_options or {}))
        task_tokens = set(prob.task_tokens)  # a leading task token is read (co-training) or skipped (own token)
        preds, pred_tasks = _decode(predictions, encoding, task_tokens)
        refs, ref_tasks = _decode(references, encoding, task_tokens)
        if prob.uses_task_tokens:
            tasks = tasks if tasks is not None else (ref_tasks if all(ref_tasks) else None)
            if prediction_tasks is None and tasks is not None:  # token strings must carry the right task
                prediction_tasks = [
                    pt if isinstance(p, str) else t for p, pt, t in zip(predictions, pred_tasks, tasks)
                ]
        else:
            tasks = prediction_tasks = None
        if inputs is not None:
            if len(inputs) != len(preds):
                raise ValueError(f"got {len(inputs)} inputs for {len(preds)} predictions")
            seen, _ = _decode(inputs, input_encoding or encoding, task_tokens)
            if any(m is None for m in seen):
                raise ValueError("every input must be a matrix (or a well-formed token string)")
            score = prob.score(seen, preds, tasks, prediction_tasks, tolerances=tuple(tolerances))
        else:
            if prob.verifies_property:
                raise ValueError(f"problem {prob.name!r} checks a property of the input: pass inputs=[...]")
            if any(r is None for r in refs):
                raise ValueError("without inputs, every reference must be a matrix (or a well-formed token string)")
            targets = [np.asarray(r, dtype=np.float64) for r in refs]
            score = prob.score_targets(targets, preds, tasks, prediction_tasks, tolerances=tuple(tolerances))
        return score.metrics()
