"""Pipelines: ``matrix-eigen`` and one per problem, with every answer verified by the problem's own check.

Nine `transformers.Pipeline` tasks, registered with `PIPELINE_REGISTRY` when `linalg_transformers` is imported:

========================  ==============================  ======================================  ==================
task                      problems served                 answer keys                             check
========================  ==============================  ======================================  ==================
``matrix-eigen``          eigenvalues                     ``eigenvalues``                         d1 to numpy's
``matrix-eigenvectors``   eigenvectors                    ``eigenvalues``, ``eigenvectors``       Q^T M Q ~= D
``matrix-inverse``        inverse, sym_inverse            ``inverse``                             M P ~= I
``matrix-svd``            svd                             ``singular_values``, ``U``, ``V``       U^T M V ~= S
``matrix-singular-values``  singular_values               ``singular_values``                     d1 to numpy's
``matrix-transpose``      transpose                       ``transpose``                           d1 to M^T
``matrix-add``            add                             ``sum``                                 d1 to A + B
``matrix-multiply``       matmul                          ``product``                             d1 to A^T B
``matrix-vector``         matvec                          ``product``                             d1 to A^T v
========================  ==============================  ======================================  ==================

``matrix-eigen`` defaults to the released model ``linalg/eigen-p1000``; the others need ``model=``.

**Input.** One matrix (a numpy array, or a nested list of numbers: a nested list is one matrix, not a batch), or a
batch: a list of matrices, or a 3-D array ``(batch, rows, cols)``, processed ``batch_size`` at a time. Layouts are the
problems' (PAPER.md section 3): ``matrix-add`` and ``matrix-multiply`` read ``[A | B]`` (``n x 2m``) and
``matrix-vector`` reads ``[A | v]`` (``n x (m + 1)``); the products are the reference's ``A^T B`` and ``A^T v``.

**Output.** For each matrix a JSON-serialisable dict of plain Python floats: the answer keys (``None`` when the model
wrote no well-formed answer; eigenvalues and singular values in descending order, their vectors reordered with them,
vectors as the *columns* of ``eigenvectors``, ``U`` and ``V``, as numpy returns them), then

- ``valid``: the model wrote a well-formed answer (a finite matrix of the expected shape);
- ``error``: the problem's own relative error (`linalg_transformers.verification`), ``None`` when not valid;
- ``correct_at``: whether ``error`` is below each tolerance, ``{"5%": ..., "2%": ..., "1%": ..., "0.5%": ...}``;
- ``check``: what ``error`` measures;
- ``consistency`` (``matrix-eigen``, ``matrix-singular-values``): invariants checked without solving, see below;
- ``generated``: the tokens the model wrote;
- ``rerank`` (with ``verify_rerank=True``): the number of candidates, the one chosen and every candidate's error.

**Verification at no model cost.** Eigenvectors, inverses and SVDs are checked by their defining property (the answer
is not unique), which needs no solver: ``max(|Q^T M Q - D|_1 / |D|_1, |Q^T Q - I|_1 / n)``, ``|M P - I|_1 / n``, and
the SVD analogue. Transposes, sums and products are compared with the exact answer, which numpy computes exactly and
cheaply. Eigenvalues (and singular values) alone have no cheap property check: ``error`` compares them with numpy's
(that is, numpy solves the problem again), and ``consistency`` reports two invariants that need no solver, the trace
(``|tr M - sum(l)| / sum|l|``) and the Frobenius norm (``|  |M|_F - sqrt(sum l^2) | / |M|_F``): necessary
conditions for a right answer, not sufficient ones. The check is applied to the matrix as given; the model reads it
rounded to its input encoding's three significant digits.

**Options** (at construction or per call): ``num_beams`` (beam search; 1, greedy, by default), ``max_new_tokens``
(default: the length of the expected answer), and ``verify_rerank=True``: decode ``num_beams`` beam candidates
(default `DEFAULT_RERANK_BEAMS`, at least 2) and return the one that best satisfies the check (ties: the higher beam):
the lowest ``error`` for the tasks with a property check or a cheap exact answer, and for ``matrix-eigen`` and
``matrix-singular-values``, which have neither, the lowest of the ``consistency`` invariants (the largest of the
trace and Frobenius errors): rerank never asks numpy for the answer it is choosing between.

**Bad input** raises a `ValueError` naming the task and what is wrong: not a matrix, ragged rows, strings, NaN or
infinity, complex numbers, a shape the problem does not take (non-square for eigenvalues, eigenvectors and inverse;
an odd number of columns for ``[A | B]``), a non-symmetric matrix for ``matrix-eigen`` and ``matrix-eigenvectors``
(an error, not a silent symmetrisation: a non-symmetric matrix can have complex eigenvalues, and the model was trained
on symmetric ones; pass ``(M + M.T) / 2`` for those of the symmetric part), a size the vocabulary cannot write (more
than 100 rows or columns, in the input or the answer) or longer than the model's positions, and values outside the
input encoding's range. A size or a coefficient scale far from the model's training distribution
(``model.config.training_problem``), or a model trained on another problem, gives a `UserWarning` naming that
distribution. Co-training models (task tokens) are not supported yet: the pipelines write no task token.

This module travels with a model as Hub remote code, so it imports only flat sibling modules of the package.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from transformers import AutoModelForSeq2SeqLM, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from .encodings import MAX_DIMENSION, get_encoding
from .verification import (
    TOLERANCES,
    AddCheck,
    Check,
    EigenvaluesCheck,
    EigenvectorsCheck,
    InverseCheck,
    MatMulCheck,
    MatVecCheck,
    SingularValuesCheck,
    SVDCheck,
    TransposeCheck,
    invariant_errors,
    is_correct,
)

__all__ = [
    "DEFAULT_RERANK_BEAMS",
    "PIPELINES",
    "MatrixAddPipeline",
    "MatrixEigenPipeline",
    "MatrixEigenvectorsPipeline",
    "MatrixInversePipeline",
    "MatrixMultiplyPipeline",
    "MatrixPipeline",
    "MatrixSVDPipeline",
    "MatrixSingularValuesPipeline",
    "MatrixTransposePipeline",
    "MatrixVectorPipeline",
    "register_pipelines",
]

DEFAULT_RERANK_BEAMS = 4
"""Beam candidates decoded by ``verify_rerank=True`` when ``num_beams`` is not given."""

SYMMETRY_TOLERANCE = 1e-8
"""``max|M - M^T| <= SYMMETRY_TOLERANCE * max|M|`` counts as symmetric (then M is symmetrised exactly)."""

SCALE_WARNING_FACTOR = 4.0
"""A matrix whose root mean square entry is more than this factor above that of the training coefficients
(``coeff_range / sqrt(3)``) is far from the training distribution: the pipeline warns."""

SMALL_SCALE_WARNING_FACTOR = 10.0
"""A matrix whose largest entry is below ``coeff_range`` divided by this factor is far from the training distribution.
The largest entry, not the root mean square: a small in-distribution matrix often has a small root mean square by
chance (in the 2x2 inversion test set, some of the first 1,000 were 4x below the training RMS), while all its
entries below ``coeff_range / 10`` has probability ``0.1 ** entries`` (1e-4 for 2x2)."""


def _tolerance_label(t: float) -> str:
    return f"{100 * t:g}%"


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _shortest(answer: np.ndarray) -> np.ndarray:
    """Decoded numbers without float noise (``197 E-1`` decodes to 19.700000000000003; this gives 19.7).

    15 significant digits change a value by at most 5e-15 relative, far below the encodings' three digits; the answer
    is checked after this, so the check describes exactly the numbers returned.
    """
    return np.array([float(f"{v:.15g}") for v in answer.ravel()]).reshape(answer.shape)


def _descending(values: np.ndarray) -> np.ndarray:
    """Indices sorting `values` in descending order (stable: equal values keep the model's order)."""
    return np.argsort(-values, kind="stable")


class MatrixPipeline(Pipeline):
    """Solve one linear-algebra problem with a `MatrixSeq2Seq` model and verify the answer (see the module docstring).

    Subclasses set the class attributes and `fields`; `PIPELINES` maps task names to them.

    Class attributes:
        name (`str`): The task, e.g. ``"matrix-eigen"``.
        problems (`tuple[str, ...]`): The training problems whose models this pipeline serves (the Hub publishing code
            ships the pipeline with models trained on them).
        check (`Check`): The problem's answer layout and check (`linalg_transformers.verification`).
        field_names (`tuple[str, ...]`): The answer keys of the output.
        symmetric (`bool`): Inputs must be symmetric.
        invariants (`tuple[str, ...]`): Invariants reported under ``consistency`` (``"trace"``, ``"frobenius"``) for
            answers that are a column of eigenvalues or singular values.
        default_model (`tuple[str, str] | None`): ``(model id, revision)`` used by ``pipeline(task)``.
    """

    _load_tokenizer = True
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_video_processor = False

    name: ClassVar[str] = ""
    problems: ClassVar[tuple[str, ...]] = ()
    check: ClassVar[Check]
    field_names: ClassVar[tuple[str, ...]] = ()
    symmetric: ClassVar[bool] = False
    invariants: ClassVar[tuple[str, ...]] = ()
    default_model: ClassVar[tuple[str, str] | None] = None

    # ------------------------------------------------------------------------------------------ per task
    def fields(self, matrix: np.ndarray, answer: np.ndarray) -> dict[str, Any]:
        """The answer keys of a well-formed answer.

        Args:
            matrix (`np.ndarray` of shape `(rows, cols)`): The input.
            answer (`np.ndarray` of shape ``check.output_shape(matrix.shape)``): The decoded answer.

        Returns:
            `dict`: `field_names` -> nested lists of floats.
        """
        return {self.field_names[0]: answer.tolist()}

    def arrange(self, matrix: np.ndarray, answer: np.ndarray) -> np.ndarray:
        """Put a well-formed answer in canonical order before it is checked (by default, as the model wrote it)."""
        return answer

    # ------------------------------------------------------------------------------------------ calling
    def __call__(self, inputs: Any, **kwargs: Any) -> dict[str, Any] | list[dict[str, Any]]:
        """Solve one matrix or a batch.

        Args:
            inputs: One matrix (`np.ndarray` or `torch.Tensor` of shape `(rows, cols)`, or a nested list of numbers),
                or a batch (a list of matrices, or an array of shape `(batch, rows, cols)`).
            **kwargs: ``num_beams``, ``max_new_tokens``, ``verify_rerank``, ``batch_size``.

        Returns:
            `dict` for one matrix, `list[dict]` for a batch (see the module docstring for the keys).
        """
        return super().__call__(self._as_batch_or_matrix(inputs), **kwargs)

    def _as_batch_or_matrix(self, inputs: Any) -> Any:
        """A batch becomes a list of matrices; one matrix (a nested list of numbers included) stays one item."""
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.detach().cpu().numpy()
        if isinstance(inputs, np.ndarray):
            return list(inputs) if inputs.ndim == 3 else inputs
        if isinstance(inputs, list | tuple):
            if not len(inputs):
                raise ValueError(f"{self.name}: got an empty list: pass a matrix or a list of matrices")
            if any(_is_matrix_like(item) for item in inputs):
                return list(inputs)
            return np.asarray(_validated_nested(inputs, self.name), dtype=np.float64)
        return inputs

    def _sanitize_parameters(
        self,
        num_beams: int | None = None,
        max_new_tokens: int | None = None,
        verify_rerank: bool | None = None,
        **unknown: Any,
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        if unknown:
            raise ValueError(
                f"{self.name}: unknown option(s) {sorted(unknown)}; valid: num_beams, max_new_tokens, verify_rerank, "
                "batch_size"
            )
        forward: dict[str, Any] = {}
        if num_beams is not None:
            if isinstance(num_beams, bool) or not isinstance(num_beams, int) or num_beams < 1:
                raise ValueError(f"{self.name}: num_beams must be a positive int; got {num_beams!r}")
            forward["num_beams"] = num_beams
        if verify_rerank is not None:
            if not isinstance(verify_rerank, bool):
                raise ValueError(f"{self.name}: verify_rerank must be True or False; got {verify_rerank!r}")
            forward["verify_rerank"] = verify_rerank
        if max_new_tokens is not None:
            limit = self.model.config.max_position_embeddings - 1
            if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens:
                raise ValueError(f"{self.name}: max_new_tokens must be a positive int; got {max_new_tokens!r}")
            if max_new_tokens > limit:
                raise ValueError(
                    f"{self.name}: max_new_tokens={max_new_tokens} is more than the model can decode ({limit}: "
                    f"max_position_embeddings={limit + 1}, one position for the decoder start)"
                )
            forward["max_new_tokens"] = max_new_tokens
        self._decoding(forward.get("num_beams"), forward.get("verify_rerank"))
        return {}, forward, {}

    def _decoding(self, num_beams: int | None, verify_rerank: bool | None) -> tuple[int, int]:
        """``(num_beams, num_return_sequences)`` of the options."""
        if not verify_rerank:
            return num_beams or 1, 1
        beams = DEFAULT_RERANK_BEAMS if num_beams is None else num_beams
        if beams < 2:
            raise ValueError(
                f"{self.name}: verify_rerank=True needs at least 2 beam candidates; got num_beams={beams}"
            )
        return beams, beams

    # ------------------------------------------------------------------------------------------ stages
    def preprocess(self, inputs: Any) -> dict[str, Any]:
        """Validate one matrix and write it as model inputs.

        Returns:
            `dict`: ``input_ids`` and ``attention_mask`` `(1, length)`, ``budget`` `(1,)` (tokens of the expected
            answer, end of sequence included) and ``matrix`` (the validated input, float64 `(rows, cols)`).
        """
        x = self.validate(inputs)
        out_shape = self.check.output_shape(x.shape)
        enc = self.tokenizer.prepare_batch(x[None], return_tensors="pt")
        positions = self.model.config.max_position_embeddings
        length = int(enc["attention_mask"].sum())
        if length > positions:
            raise ValueError(
                f"{self.name}: the {x.shape[0]}x{x.shape[1]} matrix takes {length} input positions; this model reads "
                f"at most {positions} (max_position_embeddings){self._trained_on()}"
            )
        budget = get_encoding(self.tokenizer.output_encoding).sequence_length(*out_shape) + 1
        if budget + 1 > positions:
            raise ValueError(
                f"{self.name}: the answer to the {x.shape[0]}x{x.shape[1]} matrix is {out_shape[0]}x{out_shape[1]}, "
                f"{budget + 1} output positions; this model writes at most {positions} (max_position_embeddings)"
                f"{self._trained_on()}"
            )
        self._warn_if_out_of_distribution(x)
        return {
            "input_ids": enc["input_ids"],
            "attention_mask": enc["attention_mask"],
            "budget": torch.tensor([budget]),
            "matrix": x,
        }

    def _forward(
        self,
        model_inputs: dict[str, Any],
        num_beams: int | None = None,
        verify_rerank: bool | None = None,
        max_new_tokens: int | None = None,
    ) -> dict[str, Any]:
        matrices = model_inputs.pop("matrix")
        budget = int(model_inputs.pop("budget").max())
        beams, candidates = self._decoding(num_beams, verify_rerank)
        generated = self.model.generate(
            input_ids=model_inputs["input_ids"],
            attention_mask=model_inputs["attention_mask"],
            max_length=(max_new_tokens or budget) + 1,  # the decoder start token counts
            num_beams=beams,
            num_return_sequences=candidates,
            do_sample=False,
        )
        batch = model_inputs["input_ids"].shape[0]
        return {"ids": generated.reshape(batch, candidates, -1), "matrix": matrices}  # ids: (batch, candidates, L)

    def postprocess(self, model_outputs: dict[str, Any]) -> dict[str, Any]:
        """Decode the candidates, check each with the problem's check, and describe the chosen one."""
        ids = model_outputs["ids"][0]  # (candidates, L)
        x = np.asarray(model_outputs["matrix"], dtype=np.float64)
        x = x.reshape(x.shape[-2:])
        out_shape = self.check.output_shape(x.shape)
        answers = [
            None if m is None or m.shape != out_shape else self.arrange(x, _shortest(m))
            for m in self.tokenizer.decode_matrices(ids).matrices
        ]
        inputs = np.broadcast_to(x, (len(answers), *x.shape))
        errors, valid = self.check.verify(inputs, answers)
        consistency = self._consistency(x, answers, valid)
        ranking = errors if not consistency else np.max(np.stack(list(consistency.values())), axis=0)
        best = int(np.argmin(ranking))  # the first (highest-scored) beam among equals; 0 without rerank
        answer, error = answers[best], float(errors[best])
        result: dict[str, Any] = self.fields(x, answer) if valid[best] else dict.fromkeys(self.field_names)
        result["valid"] = bool(valid[best])
        result["error"] = _finite_or_none(error) if valid[best] else None
        result["correct_at"] = {_tolerance_label(t): bool(is_correct(np.array([error]), t)[0]) for t in TOLERANCES}
        result["check"] = self.check.description
        if self.invariants:
            result["consistency"] = None
            if valid[best]:
                result["consistency"] = {k: _finite_or_none(float(v[best])) for k, v in consistency.items()}
        result["generated"] = self.tokenizer.decode(ids[best], skip_special_tokens=True)
        if len(answers) > 1:
            result["rerank"] = {
                "candidates": len(answers),
                "chosen": best,
                "ranked_by": "consistency" if consistency else "error",
                "errors": [_finite_or_none(e) if ok else None for e, ok in zip(errors.tolist(), valid)],
            }
        return result

    def _consistency(
        self, x: np.ndarray, answers: list[np.ndarray | None], valid: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The `invariants` of every candidate (infinite where not valid); empty for tasks without invariants.

        Args:
            x (`np.ndarray` of shape `(rows, cols)`): The input.
            answers (`list`): The decoded candidates, ``None`` where not well formed.
            valid (`np.ndarray` of shape `(candidates,)`): Which candidates are well formed.

        Returns:
            `dict[str, np.ndarray]`: invariant name -> errors of shape `(candidates,)`.
        """
        if not self.invariants:
            return {}
        k = self.check.output_shape(x.shape)[0]
        values = np.stack([a[:, 0] if ok else np.zeros(k) for a, ok in zip(answers, valid)])
        checked = invariant_errors(
            np.broadcast_to(x, (len(answers), *x.shape)), values, trace="trace" in self.invariants
        )
        return {name: np.where(valid, err, np.inf) for name, err in checked.items()}

    # ------------------------------------------------------------------------------------------ validation
    def validate(self, inputs: Any) -> np.ndarray:
        """One input as a float64 matrix the model can read.

        Raises:
            ValueError: naming the task and what is wrong (see the module docstring).
        """
        x = _as_real_matrix(inputs, self.name)
        try:
            out_shape = self.check.output_shape(x.shape)
        except ValueError as err:
            raise ValueError(f"{self.name}: {err}") from None
        for shape, what in ((x.shape, "matrix"), (out_shape, "answer")):
            if max(shape) > MAX_DIMENSION:
                raise ValueError(
                    f"{self.name}: the {what} is {shape[0]}x{shape[1]}; the vocabulary writes at most {MAX_DIMENSION} "
                    f"rows and columns (tokens V1..V{MAX_DIMENSION})"
                )
        if self.symmetric:
            asymmetry = float(np.abs(x - x.T).max())
            if asymmetry > SYMMETRY_TOLERANCE * float(np.abs(x).max()):
                raise ValueError(
                    f"{self.name}: the matrix is not symmetric (max |M - M^T| = {asymmetry:.3g}); the model was "
                    "trained on symmetric matrices, and a non-symmetric matrix can have complex eigenvalues. Pass "
                    "(M + M.T) / 2 for those of its symmetric part"
                )
            x = 0.5 * (x + x.T)
        encoding = get_encoding(self.tokenizer.input_encoding)
        try:
            rounded = encoding.round(x)
        except ValueError as err:
            raise ValueError(
                f"{self.name}: a value is outside the range of the input encoding {encoding.name}: {err}"
            ) from None
        overflow = (np.abs(rounded - x) > 0.01 * np.abs(x)) & (np.abs(x) >= 1)
        if overflow.any():
            raise ValueError(
                f"{self.name}: {float(np.abs(x[overflow]).max()):.4g} is outside the range of the input encoding "
                f"{encoding.name} (it would be read as {float(rounded[overflow][0]):.4g})"
            )
        return x

    @property
    def training_problem(self) -> dict[str, Any] | None:
        """The problem the model was trained on (``model.config.training_problem``), if training recorded it."""
        tp = getattr(self.model.config, "training_problem", None)
        return tp if isinstance(tp, dict) else None

    def _trained_on(self) -> str:
        tp = self.training_problem
        return "" if tp is None else f"; it was trained on {_describe(tp)}"

    def _warn_if_out_of_distribution(self, x: np.ndarray) -> None:
        """Warn when the size or the scale of `x` is far from the training distribution (none if unrecorded)."""
        tp = self.training_problem
        if tp is None:
            return
        reasons = []
        if tp.get("name") not in self.problems:  # e.g. a transposition model, or co-training (task tokens unwritten)
            reasons.append(f"the model was trained on {tp.get('name')!r}, not on {' or '.join(self.problems)}")
        n, m = self.check.dims(x.shape)
        dim = tp.get("dim")
        if isinstance(dim, int | list | tuple):
            lo, hi = (dim, dim) if isinstance(dim, int) else (int(dim[0]), int(dim[1]))
            if not (lo <= n <= hi and lo <= m <= hi):
                trained = f"{lo}" if lo == hi else f"{lo} to {hi}"
                reasons.append(f"dimensions {n}, {m} are outside the trained dim {trained}")
            elif n != m and not tp.get("rectangular", False):
                reasons.append(f"dimensions {n} != {m}, but the model was trained on n = m (rectangular=False)")
        coeff_range = tp.get("coeff_range")
        if isinstance(coeff_range, int | float) and coeff_range > 0:
            rms, trained = float(np.sqrt(np.mean(x**2))), coeff_range / math.sqrt(3.0)
            largest = float(np.abs(x).max())
            if rms > SCALE_WARNING_FACTOR * trained:
                reasons.append(
                    f"its entries' root mean square is {rms:.3g}, the training coefficients' {trained:.3g} "
                    f"(coeff_range={coeff_range})"
                )
            elif largest < coeff_range / SMALL_SCALE_WARNING_FACTOR:
                reasons.append(
                    f"its largest entry is {largest:.3g}, where the training coefficients spread over "
                    f"[-{coeff_range}, {coeff_range}]"
                )
        if reasons:
            warnings.warn(
                f"{self.name}: this {x.shape[0]}x{x.shape[1]} matrix is far from the model's training distribution "
                f"({_describe(tp)}): {'; '.join(reasons)}. Expect a wrong answer; the verification fields say.",
                UserWarning,
                stacklevel=2,
            )


def _describe(tp: dict[str, Any]) -> str:
    """A training problem dict as ``eigenvalues (dim=5, coeff_range=10, ...)``."""
    options = ", ".join(
        f"{k}={v}" for k, v in sorted(tp.items()) if k not in ("name", "input_encoding", "output_encoding")
    )
    return f"{tp.get('name')} ({options})" if options else str(tp.get("name"))


def _is_matrix_like(item: Any) -> bool:
    """Whether a list item is itself a matrix (so that the list is a batch): 2-D arrays, lists of rows."""
    if isinstance(item, np.ndarray | torch.Tensor):
        return item.ndim >= 2
    return isinstance(item, list | tuple) and any(isinstance(row, list | tuple | np.ndarray) for row in item)


def _validated_nested(rows: Sequence[Any], task: str) -> list[Any]:
    """A nested list of numbers, checked for strings, complex numbers and ragged rows before numpy reads it."""
    if all(isinstance(r, list | tuple | np.ndarray) for r in rows):
        lengths = {len(r) for r in rows}
        if len(lengths) > 1:
            raise ValueError(f"{task}: ragged rows: the rows have {sorted(lengths)} entries; a matrix has equal rows")
        leaves = [v for r in rows for v in (r.tolist() if isinstance(r, np.ndarray) else r)]
    else:
        leaves = list(rows)
    for v in leaves:
        if isinstance(v, str | bytes):
            raise ValueError(f"{task}: the matrix holds a string ({v!r}); entries must be real numbers")
        if isinstance(v, complex | np.complexfloating):
            raise ValueError(f"{task}: the matrix holds a complex number ({v!r}); entries must be real numbers")
        if isinstance(v, list | tuple):
            raise ValueError(f"{task}: not a matrix: entries nest deeper than rows of numbers")
        if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.integer | np.floating):
            raise ValueError(f"{task}: the matrix holds {type(v).__name__} {v!r}; entries must be real numbers")
    return list(rows)


def _as_real_matrix(inputs: Any, task: str) -> np.ndarray:
    """One input as a finite real float64 `(rows, cols)` array.

    Raises:
        ValueError: not a matrix, ragged rows, strings, complex numbers, NaN or infinity.
    """
    if isinstance(inputs, torch.Tensor):
        inputs = inputs.detach().cpu().numpy()
    if isinstance(inputs, str | bytes):
        raise ValueError(f"{task}: got a string ({inputs[:40]!r}); pass a matrix of numbers, e.g. [[2, 1], [1, 2]]")
    if isinstance(inputs, list | tuple):
        if not len(inputs):
            raise ValueError(f"{task}: not a matrix: the list is empty")
        inputs = np.asarray(_validated_nested(inputs, task), dtype=np.float64)
    if not isinstance(inputs, np.ndarray):
        raise ValueError(f"{task}: not a matrix: got {type(inputs).__name__}; pass a 2-D array or a nested list")
    if inputs.dtype.kind == "c":
        raise ValueError(f"{task}: the matrix holds complex numbers; entries must be real numbers")
    if inputs.dtype.kind in "USO":
        return _as_real_matrix(inputs.tolist(), task)
    if inputs.dtype.kind not in "iuf":
        raise ValueError(f"{task}: the matrix has dtype {inputs.dtype}; entries must be real numbers")
    if inputs.ndim != 2:
        hint = " (a vector: write it as a one-column matrix, [[1], [2], [3]])" if inputs.ndim == 1 else ""
        raise ValueError(f"{task}: not a matrix: got an array of shape {inputs.shape}{hint}")
    if inputs.size == 0:
        raise ValueError(f"{task}: not a matrix: shape {inputs.shape} has no entries")
    x = inputs.astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{task}: the matrix holds NaN or infinity; entries must be finite")
    return x


# ------------------------------------------------------------------------------------------------ the tasks
def _rows(answer: np.ndarray, order: np.ndarray) -> np.ndarray:
    return answer[order]


def _columns(answer: np.ndarray, order: np.ndarray) -> np.ndarray:
    return answer[:, order]


class MatrixEigenPipeline(MatrixPipeline):
    """``matrix-eigen``: the eigenvalues of a symmetric ``n x n`` matrix, descending (a list of ``n`` floats)."""

    name = "matrix-eigen"
    problems = ("eigenvalues",)
    check = EigenvaluesCheck()
    field_names = ("eigenvalues",)
    symmetric = True
    invariants = ("trace", "frobenius")
    default_model = ("linalg/eigen-p1000", "main")

    def fields(self, matrix: np.ndarray, answer: np.ndarray) -> dict[str, Any]:
        """``eigenvalues``: a list of ``n`` floats."""
        return {"eigenvalues": answer[:, 0].tolist()}

    def arrange(self, matrix: np.ndarray, answer: np.ndarray) -> np.ndarray:
        """Descending order."""
        return _rows(answer, _descending(answer[:, 0]))


class MatrixEigenvectorsPipeline(MatrixPipeline):
    """``matrix-eigenvectors``: eigenvalues (descending) and eigenvectors (the columns of an ``n x n`` matrix)."""

    name = "matrix-eigenvectors"
    problems = ("eigenvectors",)
    check = EigenvectorsCheck()
    field_names = ("eigenvalues", "eigenvectors")
    symmetric = True

    def fields(self, matrix: np.ndarray, answer: np.ndarray) -> dict[str, Any]:
        """``eigenvalues`` (``n`` floats), ``eigenvectors`` (``n x n``: column ``k`` pairs with eigenvalue ``k``)."""
        return {"eigenvalues": answer[0].tolist(), "eigenvectors": answer[1:].tolist()}

    def arrange(self, matrix: np.ndarray, answer: np.ndarray) -> np.ndarray:
        """Eigenvalues descending, each eigenvector moved with its eigenvalue."""
        return _columns(answer, _descending(answer[0]))


class MatrixInversePipeline(MatrixPipeline):
    """``matrix-inverse``: the inverse of a square ``n x n`` matrix."""

    name = "matrix-inverse"
    problems = ("inverse", "sym_inverse")
    check = InverseCheck()
    field_names = ("inverse",)


class MatrixSVDPipeline(MatrixPipeline):
    """``matrix-svd``: singular values (descending), U (``n x k``) and V (``m x k``) with ``M = U diag(S) V^T``."""

    name = "matrix-svd"
    problems = ("svd",)
    check = SVDCheck()
    field_names = ("singular_values", "U", "V")

    def fields(self, matrix: np.ndarray, answer: np.ndarray) -> dict[str, Any]:
        """``singular_values`` (``k`` floats), ``U`` and ``V`` (singular vectors as columns)."""
        n = matrix.shape[0]
        return {"singular_values": answer[0].tolist(), "U": answer[1 : 1 + n].tolist(), "V": answer[1 + n :].tolist()}

    def arrange(self, matrix: np.ndarray, answer: np.ndarray) -> np.ndarray:
        """Singular values descending, singular vectors moved with them."""
        return _columns(answer, _descending(answer[0]))


class MatrixSingularValuesPipeline(MatrixPipeline):
    """``matrix-singular-values``: the singular values of an ``n x m`` matrix, descending (``min(n, m)`` floats)."""

    name = "matrix-singular-values"
    problems = ("singular_values",)
    check = SingularValuesCheck()
    field_names = ("singular_values",)
    invariants = ("frobenius",)

    def fields(self, matrix: np.ndarray, answer: np.ndarray) -> dict[str, Any]:
        """``singular_values``: a list of ``min(n, m)`` floats."""
        return {"singular_values": answer[:, 0].tolist()}

    def arrange(self, matrix: np.ndarray, answer: np.ndarray) -> np.ndarray:
        """Descending order."""
        return _rows(answer, _descending(answer[:, 0]))


class MatrixTransposePipeline(MatrixPipeline):
    """``matrix-transpose``: the transpose of an ``n x m`` matrix."""

    name = "matrix-transpose"
    problems = ("transpose",)
    check = TransposeCheck()
    field_names = ("transpose",)


class MatrixAddPipeline(MatrixPipeline):
    """``matrix-add``: ``A + B`` of the input ``[A | B]`` (``n x 2m``, the problem's layout)."""

    name = "matrix-add"
    problems = ("add",)
    check = AddCheck()
    field_names = ("sum",)


class MatrixMultiplyPipeline(MatrixPipeline):
    """``matrix-multiply``: ``A^T B`` of the input ``[A | B]`` (``n x 2m``; the reference's layout, PAPER.md §3)."""

    name = "matrix-multiply"
    problems = ("matmul",)
    check = MatMulCheck()
    field_names = ("product",)


class MatrixVectorPipeline(MatrixPipeline):
    """``matrix-vector``: ``A^T v`` (``m`` floats) of the input ``[A | v]`` (``n x (m + 1)``, the reference layout)."""

    name = "matrix-vector"
    problems = ("matvec",)
    check = MatVecCheck()
    field_names = ("product",)

    def fields(self, matrix: np.ndarray, answer: np.ndarray) -> dict[str, Any]:
        """``product``: a list of ``m`` floats."""
        return {"product": answer[:, 0].tolist()}


PIPELINES: dict[str, type[MatrixPipeline]] = {
    cls.name: cls
    for cls in (
        MatrixEigenPipeline,
        MatrixEigenvectorsPipeline,
        MatrixInversePipeline,
        MatrixSVDPipeline,
        MatrixSingularValuesPipeline,
        MatrixTransposePipeline,
        MatrixAddPipeline,
        MatrixMultiplyPipeline,
        MatrixVectorPipeline,
    )
}
"""Task name -> pipeline class. Add a task by subclassing `MatrixPipeline`, adding it here and calling
`register_pipelines`."""


def register_pipelines() -> None:
    """Register every task of `PIPELINES` with `transformers.pipelines.PIPELINE_REGISTRY` (idempotent)."""
    for task, cls in PIPELINES.items():
        if PIPELINE_REGISTRY.supported_tasks.get(task, {}).get("impl") is cls:
            continue
        default = None if cls.default_model is None else {"model": cls.default_model}
        PIPELINE_REGISTRY.register_pipeline(
            task, pipeline_class=cls, pt_model=AutoModelForSeq2SeqLM, default=default, type="text"
        )


register_pipelines()
