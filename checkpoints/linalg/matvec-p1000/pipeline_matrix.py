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

``pipeline(task)`` loads the task's released model, `DEFAULT_MODELS` (``matrix-eigen``: ``linalg/eigen-p1000``,
...); a task with no released model raises a `ValueError` asking for ``model=`` (a model folder or a Hub id).

**Input.** One matrix (a numpy array, a torch tensor, a pandas DataFrame of numbers, or a nested list of numbers: a
nested list is one matrix, not a batch), or a batch: a list of matrices, or a 3-D array ``(batch, rows, cols)``,
processed `DEFAULT_BATCH_SIZE` at a time unless ``batch_size`` says otherwise, with a progress bar on stderr for
batches of more than `PROGRESS_BAR_MIN` matrices (``progress=True`` or ``False`` to choose). Layouts are the problems':
``matrix-add`` and ``matrix-multiply`` read ``[A | B]`` (``n x 2m``) and ``matrix-vector`` reads ``[A | v]``
(``n x (m + 1)``); the products are the reference's ``A^T B`` and ``A^T v``. ``matrix-multiply`` and
``matrix-vector`` also take a pair of operands, a tuple ``(A, B)`` or a dict ``{"a": A, "b": B}`` (a tuple is then a
pair, not a batch: pass a list of pairs for a batch), and return the product ``A @ B`` (``A @ v``): the pipeline
writes the pair as ``[A^T | B]``, so A is ``m x n`` and B is ``n x m`` (v has ``n`` entries).

**Output.** For each matrix a JSON-serialisable dict of plain Python floats: the answer keys (``None`` when the model
wrote no well-formed answer; eigenvalues and singular values in descending order, their vectors reordered with them,
vectors as the *columns* of ``eigenvectors``, ``U`` and ``V``, as numpy returns them), then

- ``valid``: the model wrote a well-formed answer (a finite matrix of the expected shape);
- ``error``: the problem's own relative error (`linalg_transformers.verification`), ``None`` when not valid;
- ``correct_at``: whether ``error`` is below each tolerance (`linalg_transformers.scoring`), ``{"5%": ..., "2%": ...,
  "1%": ..., "0.5%": ...}``;
- ``check``: what ``error`` measures;
- ``consistency`` (``matrix-eigen``, ``matrix-singular-values``): invariants checked without solving, see below;
- ``generated``: the tokens the model wrote;
- ``rerank`` (with ``verify_rerank=True``): the number of candidates, the one chosen and every candidate's error;
- ``candidates`` (with ``num_return_sequences``): every decoded candidate, in the model's order, with its answer keys,
  ``valid``, ``error``, ``correct_at``, ``consistency`` and ``generated``.

**Verification at no model cost.** Eigenvectors, inverses and SVDs are checked by their defining property (the answer
is not unique), which needs no solver: ``max(|Q^T M Q - D|_1 / |D|_1, |Q^T Q - I|_1 / n)``, ``|M P - I|_1 / n``, and
the SVD analogue. Transposes, sums and products are compared with the exact answer, which numpy computes exactly and
cheaply. Eigenvalues (and singular values) alone have no cheap property check: ``error`` compares them with numpy's
(that is, numpy solves the problem again), and ``consistency`` reports two invariants that need no solver, the trace
(``|tr M - sum(l)| / sum|l|``) and the Frobenius norm (``|  |M|_F - sqrt(sum l^2) | / |M|_F``): necessary
conditions for a right answer, not sufficient ones. The check is applied to the matrix as given; the model reads it
rounded to its input encoding's three significant digits.

**Options** (at construction or per call): ``num_beams`` (beam search; 1, greedy, by default), ``max_new_tokens``
(default: the length of the expected answer), ``num_return_sequences`` (decode that many candidates, listed under
``candidates``; beam search then uses at least that many beams), ``generate_kwargs`` (a dict of further
`generate()` options, e.g. ``{"do_sample": True, "top_k": 5}``; it may also hold the three options above), and
``verify_rerank=True``: decode ``num_beams`` beam candidates (default `DEFAULT_RERANK_BEAMS`, at least 2; or
``num_return_sequences`` of them) and return the one that best satisfies the check (ties: the higher beam): the
lowest ``error`` for the tasks with a property check or a cheap exact answer, and for ``matrix-eigen`` and
``matrix-singular-values``, which have neither, the lowest of the ``consistency`` invariants (the largest of the
trace and Frobenius errors): rerank never asks numpy for the answer it is choosing between. ``decoding``:
``"grammar"`` (the default, `DEFAULT_DECODING`: `generate()` with the options above, within the output grammar,
`linalg_transformers.grammar`: only tokens that continue a well-formed answer of the expected shape are generated,
so every answer and candidate is a matrix, and one that greedy writes well formed and of that shape is unchanged),
``"greedy"`` (plain `generate()`, the paper's evaluation: an answer can come out malformed, ``valid`` false), or
``"median"`` / ``"mean"``, regression-aware decoding (`linalg_transformers.regression_decoding`): each number of the
answer is that statistic of the model's distribution over its value, decoded number by number (one answer; not with
beams, candidates or rerank).

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
from transformers import AutoModelForSeq2SeqLM, LogitsProcessorList, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from .encodings import MAX_DIMENSION, get_encoding
from .grammar import MatrixGrammarLogitsProcessor, has_grammar
from .regression_decoding import GENERATE_DECODINGS, check_decoding, regression_generate
from .scoring import Score, tolerance_label
from .verification import (
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
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_DECODING",
    "DEFAULT_MODELS",
    "DEFAULT_RERANK_BEAMS",
    "PIPELINES",
    "PROGRESS_BAR_MIN",
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

DEFAULT_MODELS: dict[str, str] = {
    "matrix-eigen": "linalg/eigen-p1000",
    "matrix-transpose": "linalg/transpose-p1000",
    "matrix-add": "linalg/add-p1000",
    "matrix-vector": "linalg/matvec-p1000",
}
"""Pipeline task -> Hub id of its released model, which ``pipeline(task)`` loads (revision ``main``) when given no
``model=``. The one list of released defaults: ``pipeline(task)`` for a task not listed here raises a `ValueError`
that asks for ``model=``."""

DEFAULT_DECODING = "grammar"
"""The pipelines' decoding when ``decoding`` is not given: `generate()` within the output grammar, so that every answer
is a matrix of the expected shape (where greedy decoding writes one of that shape, the same one). For an output
encoding without a grammar (a user's, not in `grammar.NUMBER_GRAMMARS`) the default is plain greedy.
``decoding="greedy"`` is plain `generate()`, the paper's evaluation, which `linalg-transformers evaluate` and the
model cards report."""

DEFAULT_RERANK_BEAMS = 4
"""Beam candidates decoded by ``verify_rerank=True`` when ``num_beams`` is not given."""

DEFAULT_BATCH_SIZE = 64
"""Matrices per `generate()` call for a batch input (a list or a 3-D array) when ``batch_size`` is not given."""

PROGRESS_BAR_MIN = 256
"""A batch of more matrices than this shows a progress bar on stderr (unless ``progress=False``)."""

GENERATE_KWARGS_RESERVED = ("input_ids", "inputs", "attention_mask", "max_length", "decoder_input_ids")
"""`generate()` arguments the pipeline sets itself (from the input and the answer's length): not in
``generate_kwargs``."""

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
        operands (`tuple[str, str]`): For products, the names of the two operands of a pair input (``("A", "B")``);
            empty for tasks that take one matrix. Such tasks define `stack_pair` and `pair_check`.
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
    operands: ClassVar[tuple[str, ...]] = ()

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

    def stack_pair(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Write a pair of operands as the problem's input matrix (tasks with `operands`).

        Raises:
            ValueError: if the shapes do not fit the problem's layout.
        """
        raise NotImplementedError(f"{self.name} takes one matrix, not a pair")

    pair_check: ClassVar[str] = ""
    """What ``error`` measures for a pair input (tasks with `operands`)."""

    # ------------------------------------------------------------------------------------------ calling
    def __call__(self, inputs: Any, **kwargs: Any) -> dict[str, Any] | list[dict[str, Any]]:
        """Solve one matrix or a batch.

        Args:
            inputs: One matrix (`np.ndarray`, `torch.Tensor` or `pandas.DataFrame` of shape `(rows, cols)`, or a
                nested list of numbers), or a batch (a list of matrices, or an array of shape `(batch, rows, cols)`).
                ``matrix-multiply`` and ``matrix-vector`` also take a pair ``(A, B)`` or ``{"a": A, "b": B}``.
            **kwargs: ``num_beams``, ``num_return_sequences``, ``max_new_tokens``, ``verify_rerank``,
                ``generate_kwargs``, ``batch_size`` (for a batch, `DEFAULT_BATCH_SIZE` by default) and ``progress``
                (a progress bar on stderr; by default for batches of more than `PROGRESS_BAR_MIN` matrices).

        Returns:
            `dict` for one matrix, `list[dict]` for a batch (see the module docstring for the keys).

        Raises:
            ValueError: for bad input (naming the task and the fault) or bad options.
        """
        progress = kwargs.pop("progress", None)
        if progress is not None and not isinstance(progress, bool):
            raise ValueError(f"{self.name}: progress must be True, False or None; got {progress!r}")
        items = self._as_batch_or_matrix(inputs)
        if not isinstance(items, list):
            return super().__call__(items, **kwargs)
        if kwargs.get("batch_size") is None and self._batch_size is None:
            kwargs["batch_size"] = DEFAULT_BATCH_SIZE
        if not (len(items) > PROGRESS_BAR_MIN if progress is None else progress):
            return super().__call__(items, **kwargs)
        from tqdm.auto import tqdm

        outputs = []
        with tqdm(total=len(items), desc=self.name, unit="matrix") as bar:
            for out in super().__call__((item for item in items), **kwargs):  # a generator: answers as they come
                outputs.append(out)
                bar.update(1)
        return outputs

    def _as_batch_or_matrix(self, inputs: Any) -> Any:
        """A batch becomes a list of matrices; one matrix (a nested list of numbers included) or pair stays one item.

        Raises:
            ValueError: for an empty batch (an empty list, or an array of shape ``(0, rows, cols)``).
        """
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.detach().cpu().numpy()
        if self._is_pair(inputs):
            return inputs
        empty = f"{self.name}: got an empty batch (no matrices): pass a matrix or a list of matrices"
        if isinstance(inputs, np.ndarray):
            if inputs.ndim == 3 and not len(inputs):
                raise ValueError(f"{empty}; the array has shape {inputs.shape}")
            return list(inputs) if inputs.ndim == 3 else inputs
        if isinstance(inputs, list | tuple):
            if not len(inputs):
                raise ValueError(empty)
            if any(_is_matrix_like(item) for item in inputs):
                return list(inputs)
            return np.asarray(_validated_nested(inputs, self.name), dtype=np.float64)
        return inputs

    def _is_pair(self, inputs: Any) -> bool:
        """Whether `inputs` is one pair of operands: a 2-tuple or a dict, for the tasks with `operands`."""
        return bool(self.operands) and (isinstance(inputs, dict) or (isinstance(inputs, tuple) and len(inputs) == 2))

    def _pair_matrix(self, inputs: tuple[Any, Any] | dict[str, Any]) -> np.ndarray:
        """The problem's input matrix of a pair ``(A, B)`` or ``{"a": A, "b": B}`` (`stack_pair`)."""
        first, second = self.operands
        if isinstance(inputs, dict):
            keys = {str(k).lower(): k for k in inputs}
            if set(keys) != {"a", "b"} or len(inputs) != 2:
                raise ValueError(
                    f"{self.name}: a dict input is a pair {{'a': {first}, 'b': {second}}}; got the keys "
                    f"{sorted(map(str, inputs))}"
                )
            a, b = inputs[keys["a"]], inputs[keys["b"]]
        else:
            a, b = inputs
        return self.stack_pair(_as_real_matrix(a, f"{self.name}: {first}"), _as_operand(b, f"{self.name}: {second}"))

    def _sanitize_parameters(
        self,
        num_beams: int | None = None,
        max_new_tokens: int | None = None,
        verify_rerank: bool | None = None,
        num_return_sequences: int | None = None,
        generate_kwargs: dict[str, Any] | None = None,
        decoding: str | None = None,
        **unknown: Any,
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        if unknown:
            raise ValueError(
                f"{self.name}: unknown option(s) {sorted(unknown)}; valid: num_beams, num_return_sequences, "
                "max_new_tokens, verify_rerank, generate_kwargs, decoding, batch_size, progress (pass other "
                "generate() options as generate_kwargs={...})"
            )
        check_decoding(decoding, num_beams, num_return_sequences, verify_rerank, generate_kwargs, task=self.name)
        extra: dict[str, Any] = {}
        if generate_kwargs is not None:
            if not isinstance(generate_kwargs, dict):
                raise ValueError(f"{self.name}: generate_kwargs must be a dict; got {type(generate_kwargs).__name__}")
            extra = dict(generate_kwargs)
            reserved = sorted(set(extra) & set(GENERATE_KWARGS_RESERVED))
            if reserved:
                raise ValueError(
                    f"{self.name}: generate_kwargs cannot set {reserved}: the pipeline writes the input and sets the "
                    "length of the answer (max_new_tokens changes it)"
                )
            lifted = {"num_beams": num_beams, "num_return_sequences": num_return_sequences}
            lifted["max_new_tokens"] = max_new_tokens
            for key, given in lifted.items():
                if key in extra:
                    value = extra.pop(key)
                    if given is not None and given != value:
                        raise ValueError(f"{self.name}: {key} is {given!r} and generate_kwargs[{key!r}] is {value!r}")
                    lifted[key] = value
            num_beams, num_return_sequences = lifted["num_beams"], lifted["num_return_sequences"]
            max_new_tokens = lifted["max_new_tokens"]
        forward: dict[str, Any] = {}
        postprocess: dict[str, Any] = {}
        if extra:
            forward["generate_kwargs"] = extra
        if num_return_sequences is not None:
            if (
                isinstance(num_return_sequences, bool)
                or not isinstance(num_return_sequences, int)
                or num_return_sequences < 1
            ):
                raise ValueError(
                    f"{self.name}: num_return_sequences must be a positive int; got {num_return_sequences!r}"
                )
            forward["num_return_sequences"] = num_return_sequences
            postprocess["list_candidates"] = True
        if num_beams is not None:
            if isinstance(num_beams, bool) or not isinstance(num_beams, int) or num_beams < 1:
                raise ValueError(f"{self.name}: num_beams must be a positive int; got {num_beams!r}")
            forward["num_beams"] = num_beams
        if verify_rerank is not None:
            if not isinstance(verify_rerank, bool):
                raise ValueError(f"{self.name}: verify_rerank must be True or False; got {verify_rerank!r}")
            forward["verify_rerank"] = verify_rerank
            postprocess["rerank"] = verify_rerank
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
        if decoding is not None:
            forward["decoding"] = decoding
        self._decoding(forward.get("num_beams"), forward.get("verify_rerank"), num_return_sequences, _sampling(extra))
        return {}, forward, postprocess

    def _decoding(
        self,
        num_beams: int | None,
        verify_rerank: bool | None,
        num_return_sequences: int | None = None,
        sampling: bool = False,
    ) -> tuple[int, int]:
        """``(num_beams, candidates)`` of the options: the beam width and the number of sequences to decode.

        Raises:
            ValueError: if rerank would have fewer than 2 candidates, or beam search fewer beams than sequences.
        """
        if verify_rerank:
            beams = num_beams if num_beams is not None else DEFAULT_RERANK_BEAMS
            candidates = beams if num_return_sequences is None else num_return_sequences
            if candidates < 2:
                raise ValueError(
                    f"{self.name}: verify_rerank=True needs at least 2 beam candidates; got "
                    + (f"num_beams={beams}" if num_return_sequences is None else f"num_return_sequences={candidates}")
                )
        else:
            candidates = num_return_sequences or 1
            beams = num_beams if num_beams is not None else (1 if sampling else candidates)
        if candidates > beams and not sampling:
            raise ValueError(
                f"{self.name}: num_return_sequences={candidates} needs num_beams >= {candidates} (beam search returns "
                f"at most num_beams sequences); got num_beams={beams}"
            )
        return beams, candidates

    # ------------------------------------------------------------------------------------------ stages
    def preprocess(self, inputs: Any) -> dict[str, Any]:
        """Validate one matrix and write it as model inputs.

        Returns:
            `dict`: ``input_ids`` and ``attention_mask`` `(1, length)`, ``budget`` `(1,)` (tokens of the expected
            answer, end of sequence included), ``matrix`` (the validated input, float64 `(rows, cols)`), ``shape``
            `(1, 2)` (the answer's rows and columns) and ``pair`` `(1,)` (1 if the input was a pair of operands).
        """
        pair = self._is_pair(inputs)
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
            "shape": torch.tensor([out_shape]),
            "pair": torch.tensor([int(pair)]),
        }

    def _forward(
        self,
        model_inputs: dict[str, Any],
        num_beams: int | None = None,
        verify_rerank: bool | None = None,
        max_new_tokens: int | None = None,
        num_return_sequences: int | None = None,
        generate_kwargs: dict[str, Any] | None = None,
        decoding: str | None = None,
    ) -> dict[str, Any]:
        matrices = model_inputs.pop("matrix")
        shapes = model_inputs.pop("shape").reshape(-1, 2)
        pair = model_inputs.pop("pair")
        budget = int(model_inputs.pop("budget").max())
        if decoding not in (None, *GENERATE_DECODINGS):  # regression-aware: one answer, number by number
            generated = regression_generate(
                self.model,
                self.tokenizer,
                model_inputs["input_ids"],
                model_inputs["attention_mask"],
                statistic=decoding,
                max_new_tokens=max_new_tokens or budget,
            )
            return {"ids": generated[:, None], "matrix": matrices, "pair": pair}
        extra = dict(generate_kwargs or {})
        beams, candidates = self._decoding(num_beams, verify_rerank, num_return_sequences, _sampling(extra))
        default_grammar = decoding is None and has_grammar(self.tokenizer.output_encoding)  # else plain greedy
        if decoding == "grammar" or default_grammar:  # within the output grammar, each answer of its shape
            grammar = MatrixGrammarLogitsProcessor(self.tokenizer, shapes=[tuple(s) for s in shapes.tolist()])
            extra["logits_processor"] = LogitsProcessorList([*extra.get("logits_processor", []), grammar])
        generated = self.model.generate(
            input_ids=model_inputs["input_ids"],
            attention_mask=model_inputs["attention_mask"],
            max_length=(max_new_tokens or budget) + 1,  # the decoder start token counts
            num_beams=beams,
            num_return_sequences=candidates,
            **{"do_sample": False, **extra},
        )
        batch = model_inputs["input_ids"].shape[0]
        ids = generated.reshape(batch, candidates, -1)  # (batch, candidates, L)
        return {"ids": ids, "matrix": matrices, "pair": pair}

    def postprocess(
        self, model_outputs: dict[str, Any], rerank: bool = False, list_candidates: bool = False
    ) -> dict[str, Any]:
        """Decode the candidates, check each with the problem's check, and describe the chosen one.

        The chosen one is the first (the top beam), or with ``rerank`` (``verify_rerank=True``) the one the check
        likes best. With ``list_candidates`` (``num_return_sequences`` given), every candidate is described under
        ``candidates``.
        """
        ids = model_outputs["ids"][0]  # (candidates, L)
        pair = bool(torch.as_tensor(model_outputs.get("pair", 0)).reshape(-1)[0])
        x = np.asarray(model_outputs["matrix"], dtype=np.float64)
        x = x.reshape(x.shape[-2:])
        out_shape = self.check.output_shape(x.shape)
        answers = [
            None if m is None or m.shape != out_shape else self.arrange(x, _shortest(m))
            for m in self.tokenizer.decode_matrices(ids).matrices
        ]
        inputs = np.broadcast_to(x, (len(answers), *x.shape))
        errors, valid = self.check.verify(inputs, answers)
        correct = Score(errors, valid).correct
        consistency = self._consistency(x, answers, valid)
        ranking = errors if not consistency else np.max(np.stack(list(consistency.values())), axis=0)
        rerank = rerank and len(answers) > 1
        best = int(np.argmin(ranking)) if rerank else 0  # argmin: the first (highest-scored) beam among equals

        def describe(i: int) -> dict[str, Any]:
            answer, error = answers[i], float(errors[i])
            out: dict[str, Any] = self.fields(x, answer) if valid[i] else dict.fromkeys(self.field_names)
            out["valid"] = bool(valid[i])
            out["error"] = _finite_or_none(error) if valid[i] else None
            out["correct_at"] = {tolerance_label(t): bool(c[i]) for t, c in correct.items()}
            out["check"] = self.pair_check if pair else self.check.description
            if self.invariants:
                out["consistency"] = None
                if valid[i]:
                    out["consistency"] = {k: _finite_or_none(float(v[i])) for k, v in consistency.items()}
            out["generated"] = self.tokenizer.decode(ids[i], skip_special_tokens=True)
            return out

        result = describe(best)
        if rerank:
            result["rerank"] = {
                "candidates": len(answers),
                "chosen": best,
                "ranked_by": "consistency" if consistency else "error",
                "errors": [_finite_or_none(e) if ok else None for e, ok in zip(errors.tolist(), valid)],
            }
        if list_candidates:
            listed = [describe(i) for i in range(len(answers))]
            result["candidates"] = [{k: v for k, v in c.items() if k != "check"} for c in listed]
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
        """One input (a matrix, or a pair of operands for products) as a float64 matrix the model can read.

        Raises:
            ValueError: naming the task and what is wrong (see the module docstring).
        """
        x = self._pair_matrix(inputs) if self._is_pair(inputs) else _as_real_matrix(inputs, self.name)
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


def _sampling(generate_kwargs: dict[str, Any]) -> bool:
    """Whether `generate()` options sample (then several sequences need no more beams)."""
    return bool(generate_kwargs.get("do_sample", False))


def _is_matrix_like(item: Any) -> bool:
    """Whether a list item is itself a matrix or a pair (so that the list is a batch).

    Matrices are 2-D arrays and array-likes (a pandas DataFrame) and lists of rows; pairs are ``(A, B)`` and
    ``{"a": A, "b": B}``.
    """
    if hasattr(item, "__array__") and hasattr(item, "ndim"):  # numpy, torch, pandas
        return item.ndim >= 2
    if isinstance(item, dict):
        return True
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
    elif not isinstance(inputs, np.ndarray) and hasattr(inputs, "__array__"):  # a pandas DataFrame, ...
        inputs = np.asarray(inputs)
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


def _as_operand(inputs: Any, task: str) -> np.ndarray:
    """The second operand of a pair: a matrix, or a vector (1-D) as a one-column matrix."""
    if isinstance(inputs, torch.Tensor):
        inputs = inputs.detach().cpu().numpy()
    elif not isinstance(inputs, np.ndarray) and hasattr(inputs, "__array__"):
        inputs = np.asarray(inputs)
    if isinstance(inputs, np.ndarray) and inputs.ndim == 1 and inputs.dtype.kind in "iuf":
        inputs = inputs[:, None]
    elif isinstance(inputs, list | tuple) and inputs and not any(isinstance(v, list | tuple) for v in inputs):
        if not any(isinstance(v, np.ndarray) for v in inputs):
            inputs = [[v] for v in _validated_nested(inputs, task)]
    return _as_real_matrix(inputs, task)


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
    """``matrix-multiply``: ``A^T B`` of the input ``[A | B]`` (``n x 2m``; the reference's layout), or ``A @ B``.

    A pair ``(A, B)`` or ``{"a": A, "b": B}`` (A ``m x n``, B ``n x m``) is written as ``[A^T | B]``, whose product
    is ``A @ B``.
    """

    name = "matrix-multiply"
    problems = ("matmul",)
    check = MatMulCheck()
    field_names = ("product",)
    operands = ("A", "B")
    pair_check = "d1 to A @ B of the pair (A, B), read as [A^T | B]: sum|P - A B| / sum|A B|"

    def stack_pair(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``[A^T | B]``, whose product ``(A^T)^T B`` is ``A @ B``.

        Raises:
            ValueError: unless A is ``m x n`` and B is ``n x m`` (the layout holds A^T and B side by side).
        """
        if a.shape[1] != b.shape[0]:
            raise ValueError(
                f"{self.name}: A is {a.shape[0]}x{a.shape[1]} and B is {b.shape[0]}x{b.shape[1]}: A @ B needs as "
                "many columns in A as rows in B"
            )
        if b.shape[1] != a.shape[0]:
            raise ValueError(
                f"{self.name}: A is {a.shape[0]}x{a.shape[1]} and B is {b.shape[0]}x{b.shape[1]}: the model reads "
                f"the pair as [A^T | B], A^T and B of the same shape, so B must be {a.shape[1]}x{a.shape[0]}"
            )
        return np.hstack([a.T, b])


class MatrixVectorPipeline(MatrixPipeline):
    """``matrix-vector``: ``A^T v`` (``m`` floats) of the input ``[A | v]`` (``n x (m + 1)``, the reference layout).

    A pair ``(A, v)`` or ``{"a": A, "b": v}`` (A ``m x n``, v ``n`` entries) is written as ``[A^T | v]``, whose
    product is ``A @ v``.
    """

    name = "matrix-vector"
    problems = ("matvec",)
    check = MatVecCheck()
    field_names = ("product",)
    operands = ("A", "v")
    pair_check = "d1 to A @ v of the pair (A, v), read as [A^T | v]: sum|P - A v| / sum|A v|"

    def stack_pair(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``[A^T | v]``, whose product ``(A^T)^T v`` is ``A @ v``.

        Raises:
            ValueError: unless v is a vector (or a one-column matrix) with as many entries as A has columns.
        """
        if b.shape[1] != 1 or b.shape[0] != a.shape[1]:
            raise ValueError(
                f"{self.name}: A is {a.shape[0]}x{a.shape[1]} and v is {b.shape[0]}x{b.shape[1]}: A @ v needs a "
                f"vector of {a.shape[1]} entries (A's columns)"
            )
        return np.hstack([a.T, b])

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


class _TaskWithoutDefault(dict):
    """The registry entry of a task with no released model (not in `DEFAULT_MODELS`).

    ``pipeline(task)`` with no model reads ``entry["default"]``; a plain entry would raise ``KeyError: 'default'`` from
    inside transformers, this one a `ValueError` that says what to do. ``entry.get("default")`` is ``None`` as usual.
    """

    def __missing__(self, key: str) -> Any:
        if key != "default":
            raise KeyError(key)
        task = getattr(self.get("impl"), "name", "this task")
        released = ", ".join(f"{t}: {m}" for t, m in DEFAULT_MODELS.items())
        raise ValueError(
            f"{task} has no released model yet, so pipeline({task!r}) has no default to load (released: {released}). "
            f"Pass a trained model: pipeline({task!r}, model=...) with a model folder or a Hub id"
        )


def register_pipelines() -> None:
    """Register every task of `PIPELINES` with `transformers.pipelines.PIPELINE_REGISTRY` (idempotent).

    Each task's default model is its entry in `DEFAULT_MODELS`; a task without one raises a `ValueError` from
    ``pipeline(task)`` with no model.
    """
    for task, cls in PIPELINES.items():
        if PIPELINE_REGISTRY.supported_tasks.get(task, {}).get("impl") is cls:
            continue
        default = {"model": (DEFAULT_MODELS[task], "main")} if task in DEFAULT_MODELS else None
        PIPELINE_REGISTRY.register_pipeline(
            task, pipeline_class=cls, pt_model=AutoModelForSeq2SeqLM, default=default, type="text"
        )
        if default is None:
            entry = _TaskWithoutDefault(PIPELINE_REGISTRY.supported_tasks[task])
            PIPELINE_REGISTRY.supported_tasks[task] = entry
            cls._registered_impl = {task: entry}


register_pipelines()
