"""`MatrixTokenizer`: a transformers fast tokenizer over an input and an output number encoding.

The vocabulary is a plain word list (a `tokenizers` WordLevel model split on whitespace), so a saved tokenizer loads
anywhere as a generic fast tokenizer with identical ids. The class adds batched helpers that go straight from numpy
matrices to ids and back, through the vectorized encodings (no per-number string work).

Default vocabulary order (ours): the special tokens ``<s> </s> <pad> <unk>``, the task tokens, the output encoding's
symbols, then the input encoding's remaining symbols. Every token the decoder can emit thus has an id below
`output_vocab_size`, which lets the model's output layer cover only those (1,317 rows for FP15 -> P1000 instead of
30,318; `tokenizer_files/fp15-p1000`). The reference code's order (`lawt_vocabulary`) is used for converted
reference checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from tokenizers import Tokenizer, pre_tokenizers, processors
from tokenizers.models import WordLevel
from transformers import BatchEncoding, PreTrainedTokenizerFast

from .encodings import PAD_SYMBOL, UNKNOWN_SYMBOL, DecodedBatch, NumberEncoding, encoding_from_lawt, get_encoding

if TYPE_CHECKING:
    import torch

__all__ = [
    "MatrixTokenizer",
    "TASK_TOKENS",
    "SPECIAL_TOKENS",
    "STANDARD_TOKENIZERS",
    "DecodedMatrices",
    "default_vocabulary",
    "lawt_vocabulary",
]

SPECIAL_TOKENS = ("<s>", "</s>", "<pad>", "<unk>")
"""Our special tokens, ids 0..3: ``<s>`` starts decoding, ``</s>`` ends every sequence, ``<pad>`` pads."""

TASK_TOKENS = ("T", "A", "D", "M", "E", "F", "I", "S", "U", "Y")
"""Task tokens for co-training (the paper's: T transpose, A add, D matrix-vector, M matrix product,
E eigenvalues, F eigenvectors, I inversion; ours: S singular values, U SVD, Y symmetric inversion)."""

STANDARD_TOKENIZERS = {
    "p10": ("P10", "P10"),
    "p1000": ("P1000", "P1000"),
    "b1999": ("B1999", "B1999"),
    "fp15": ("FP15", "FP15"),
    "fp15-p1000": ("FP15", "P1000"),
}
"""The setups saved in ``tokenizer_files/``: folder name -> (input encoding, output encoding)."""

_LAWT_SPECIAL = ("<s>", "</s>", "<pad>", "(", ")", *(f"<SPECIAL_{i}>" for i in range(10)), *"TADMEFI")
_LAWT_COMMON = ("+", "-", "10^", ".", "|")
_FRAMINGS = ("eos", "lawt")


def default_vocabulary(input_encoding: str, output_encoding: str) -> list[str]:
    """Our vocabulary: special tokens, task tokens, output symbols, then the input-only symbols."""
    words = list(SPECIAL_TOKENS) + list(TASK_TOKENS)
    seen = set(words)
    for name in (output_encoding, input_encoding):
        for s in get_encoding(name).symbols:
            if s not in seen:
                seen.add(s)
                words.append(s)
    return words


def lawt_vocabulary(input_encoding: str, output_encoding: str) -> list[str]:
    """The reference code's vocabulary (LAWT ``numeric.py``): 22 special words, ``+ - 10^ . |``, then the sorted union.

    Args:
        input_encoding (`str`): An encoding name (``"FP15"``) or a reference spec (``"FP15,2,16"``).
        output_encoding (`str`): Likewise for the output.
    """
    encs = [encoding_from_lawt(e) if "," in e else get_encoding(e) for e in (input_encoding, output_encoding)]
    symbols = set(encs[0].symbols) | set(encs[1].symbols)
    return list(_LAWT_SPECIAL) + list(_LAWT_COMMON) + sorted(symbols - set(_LAWT_COMMON))


@dataclass(frozen=True)
class DecodedMatrices(DecodedBatch):
    """`DecodedBatch` plus the task token read in front of each matrix (co-training), or `None`.

    Attributes:
        tasks (`list[str | None] | None`): The task tokens, when decoding with ``with_task=True``.
    """

    tasks: list[str | None] | None = None


class MatrixTokenizer(PreTrainedTokenizerFast):
    """Tokenizer for matrices written in a number encoding (P10, P1000, B1999, FP15).

    Args:
        vocab (`dict[str, int]` or `list[str]`, *optional*):
            The vocabulary; by default `default_vocabulary(input_encoding, output_encoding)`. Ids must be 0..N-1.
        input_encoding (`str`, *optional*, defaults to `"P1000"`):
            Encoding of the problems (encoder side).
        output_encoding (`str`, *optional*):
            Encoding of the solutions (decoder side); defaults to `input_encoding`.
        framing (`str`, *optional*, defaults to `"eos"`):
            ``"eos"``: sequences are ``tokens </s>``, decoding starts from ``<s>``. ``"lawt"``: the reference code's
            ``<s> tokens <s>``, with ``</s>`` as padding (converted reference checkpoints).
        output_vocab_size (`int`, *optional*):
            Number of leading ids the decoder can emit; computed from the vocabulary when not given.
    """

    vocab_files_names = {"tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "attention_mask"]
    model = WordLevel

    def __init__(
        self,
        vocab: dict[str, int] | list[str] | None = None,
        input_encoding: str = "P1000",
        output_encoding: str | None = None,
        framing: str = "eos",
        output_vocab_size: int | None = None,
        bos_token: str | None = None,
        eos_token: str | None = None,
        pad_token: str | None = None,
        unk_token: str | None = None,
        **kwargs: Any,
    ) -> None:
        output_encoding = output_encoding or input_encoding
        if framing not in _FRAMINGS:
            raise ValueError(f"framing must be one of {_FRAMINGS}; got {framing!r}")
        self.input_encoding = get_encoding(input_encoding).name
        self.output_encoding = get_encoding(output_encoding).name
        self.framing = framing
        if vocab is None:
            vocab = default_vocabulary(self.input_encoding, self.output_encoding)
        if isinstance(vocab, dict):
            words = sorted(vocab, key=vocab.__getitem__)
            if [vocab[w] for w in words] != list(range(len(words))):
                raise ValueError("vocabulary ids must be exactly 0..N-1")
        else:
            words = list(vocab)
        if framing == "eos":
            defaults = {"bos": "<s>", "eos": "</s>", "pad": "<pad>", "unk": "<unk>"}
        else:  # LAWT: <s> (id 0) is both BOS and EOS, </s> (id 1) pads; its unused <pad> word stands in for unknowns
            defaults = {"bos": "<s>", "eos": "<s>", "pad": "</s>", "unk": "<pad>"}
        bos_token, eos_token = bos_token or defaults["bos"], eos_token or defaults["eos"]
        pad_token, unk_token = pad_token or defaults["pad"], unk_token or defaults["unk"]
        self._words = words
        self._word_to_id = {w: i for i, w in enumerate(words)}
        if len(self._word_to_id) != len(words):
            raise ValueError("the vocabulary has duplicate tokens")
        for tok in (bos_token, eos_token, pad_token, unk_token):
            if str(tok) not in self._word_to_id:
                raise ValueError(f"special token {tok!r} is not in the vocabulary")
        self._build_tables(words)
        if output_vocab_size is None:
            emit = [self._word_to_id[str(t)] for t in (bos_token, eos_token, pad_token, unk_token)]
            emit += [self._word_to_id[t] for t in TASK_TOKENS if t in self._word_to_id]
            emit += list(self._out_to_id)
            output_vocab_size = int(max(emit)) + 1
        self.output_vocab_size = int(output_vocab_size)

        self._tokenizer = Tokenizer(WordLevel(vocab=self._word_to_id, unk_token=str(unk_token)))
        self._tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        super().__init__(
            bos_token=bos_token,
            eos_token=eos_token,
            pad_token=pad_token,
            unk_token=unk_token,
            input_encoding=self.input_encoding,
            output_encoding=self.output_encoding,
            framing=framing,
            output_vocab_size=self.output_vocab_size,
            **kwargs,
        )
        eos, bos = str(self.eos_token), str(self.bos_token)
        single = f"$A:0 {eos}:0" if framing == "eos" else f"{bos}:0 $A:0 {eos}:0"
        special = sorted({(eos, self.eos_token_id), (bos, self.bos_token_id)}, key=lambda x: x[1])
        self._tokenizer.post_processor = processors.TemplateProcessing(single=single, special_tokens=special)

    def _build_tables(self, words: list[str]) -> None:
        """Lookup tables: local symbol index of each encoding <-> global id."""
        enc_in, enc_out = get_encoding(self.input_encoding), get_encoding(self.output_encoding)
        missing = [s for e in (enc_in, enc_out) for s in e.symbols if s not in self._word_to_id]
        if missing:
            raise ValueError(f"the vocabulary lacks {len(missing)} encoding symbols, e.g. {missing[:5]}")
        self._in_to_id = np.array([self._word_to_id[s] for s in enc_in.symbols], dtype=np.int64)
        self._out_to_id = np.array([self._word_to_id[s] for s in enc_out.symbols], dtype=np.int64)
        self._id_to_out = np.full(len(words), UNKNOWN_SYMBOL, dtype=np.int64)
        self._id_to_out[self._out_to_id] = np.arange(len(self._out_to_id))
        self._task_ids = {t: self._word_to_id[t] for t in TASK_TOKENS if t in self._word_to_id}

    # ------------------------------------------------------------------------------------------------ vocabulary
    @property
    def vocab_size(self) -> int:
        """Number of tokens in the vocabulary."""
        return len(self._words)

    def _side(self, side: str) -> tuple[NumberEncoding, np.ndarray]:
        if side == "input":
            return get_encoding(self.input_encoding), self._in_to_id
        if side == "output":
            return get_encoding(self.output_encoding), self._out_to_id
        raise ValueError(f"side must be 'input' or 'output'; got {side!r}")

    # ----------------------------------------------------------------------------------------- matrices -> ids
    def matrix_to_text(self, matrix: np.ndarray, side: str = "input", task: str | None = None) -> str:
        """Write one matrix as space-separated tokens (no special tokens), optionally after a task token."""
        encoding, _ = self._side(side)
        tokens = encoding.encode_matrix(matrix)
        return " ".join(([task] if task else []) + tokens)

    def encode_matrices(
        self,
        matrices: np.ndarray | Sequence[np.ndarray],
        side: str = "input",
        tasks: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Turn matrices into framed token ids, vectorized (matrices of one shape are encoded in one call).

        Args:
            matrices (`np.ndarray` of shape `(batch, rows, cols)`, or a sequence of 2-D arrays of any shapes):
                The matrices.
            side (`str`, *optional*, defaults to `"input"`): Which encoding to use, ``"input"`` or ``"output"``.
            tasks (`Sequence[str]`, *optional*): A task token to write before each matrix (co-training).

        Returns:
            `(ids, lengths)`: int64 ids of shape `(batch, max_length)` padded with the pad id, and the lengths.
        """
        encoding, to_id = self._side(side)
        if isinstance(matrices, np.ndarray) and matrices.ndim == 3:
            groups = {matrices.shape[1:]: np.arange(len(matrices))}
            arrays = matrices
        else:
            arrays = [np.asarray(m) for m in matrices]
            arrays = [m[:, None] if m.ndim == 1 else m for m in arrays]
            groups: dict[tuple[int, ...], list[int]] = {}
            for i, m in enumerate(arrays):
                groups.setdefault(m.shape, []).append(i)
        batch = len(arrays)
        if tasks is not None and len(tasks) != batch:
            raise ValueError(f"got {len(tasks)} task tokens for {batch} matrices")
        encoded = {}
        for shape, idx in groups.items():
            sub = arrays[idx] if isinstance(arrays, np.ndarray) else np.stack([arrays[i] for i in idx])
            encoded[shape] = (np.asarray(idx), encoding.encode_batch(sub))
        prefix = int(tasks is not None) + int(self.framing == "lawt")
        max_len = max(e.symbols.shape[1] for _, e in encoded.values()) + prefix + 1
        ids = np.full((batch, max_len), self.pad_token_id, dtype=np.int64)
        lengths = np.zeros(batch, dtype=np.int64)
        for idx, enc in encoded.values():
            sym = enc.symbols
            body = np.where(sym >= 0, to_id[np.maximum(sym, 0)], self.pad_token_id)
            ids[idx, prefix : prefix + sym.shape[1]] = body
            ids[idx, prefix + enc.lengths] = self.eos_token_id
            lengths[idx] = enc.lengths + prefix + 1
        if self.framing == "lawt":
            ids[:, 0] = self.bos_token_id
        if tasks is not None:
            unknown = sorted({t for t in tasks if t not in self._task_ids})
            if unknown:
                raise ValueError(f"unknown task tokens {unknown}; valid: {sorted(self._task_ids)}")
            ids[:, prefix - 1] = [self._task_ids[t] for t in tasks]
        return ids, lengths

    def prepare_batch(
        self,
        inputs: np.ndarray | Sequence[np.ndarray],
        targets: np.ndarray | Sequence[np.ndarray] | None = None,
        tasks: Sequence[str] | None = None,
        return_tensors: str | None = "pt",
    ) -> BatchEncoding:
        """Model inputs (and labels) for a batch of problems, straight from numpy matrices.

        Args:
            inputs: The problems, `(batch, rows, cols)` or a list of 2-D arrays.
            targets (*optional*): The solutions; adds `labels` (padding set to -100).
            tasks (*optional*): Task tokens (co-training), written before both the input and the target.
            return_tensors (`str`, *optional*, defaults to `"pt"`): ``"pt"``, ``"np"`` or `None` (lists).

        Returns:
            `BatchEncoding` with `input_ids`, `attention_mask` and, with targets, `labels`.
        """
        ids, lengths = self.encode_matrices(inputs, "input", tasks)
        mask = (np.arange(ids.shape[1])[None, :] < lengths[:, None]).astype(np.int64)
        data: dict[str, np.ndarray] = {"input_ids": ids, "attention_mask": mask}
        rows = {"input_ids": lengths, "attention_mask": lengths}
        if targets is not None:
            lab, lab_len = self.encode_matrices(targets, "output", tasks)
            if self.framing == "lawt":  # the decoder starts from <s>, so labels do not repeat it
                lab, lab_len = lab[:, 1:], lab_len - 1
            data["labels"] = np.where(np.arange(lab.shape[1])[None, :] < lab_len[:, None], lab, -100)
            rows["labels"] = lab_len
        if return_tensors is None:  # unpadded lists, as a tokenizer call without padding returns
            return BatchEncoding({k: [r[:n].tolist() for r, n in zip(v, rows[k])] for k, v in data.items()})
        return BatchEncoding(data, tensor_type=return_tensors)

    # ----------------------------------------------------------------------------------------- ids -> matrices
    def decode_matrices(
        self, ids: torch.Tensor | np.ndarray | Sequence[Sequence[int]], with_task: bool = False
    ) -> DecodedMatrices:
        """Read generated (or label) ids back into matrices of the output encoding, batched.

        Leading ``<s>`` tokens (the decoder start) are skipped, each sequence ends at its first EOS (or padding,
        or -100), and whatever does not form exactly one well-formed matrix is invalid (`None`): an empty sequence,
        or one holding an id that is no token of the vocabulary (negative, other than -100, or ``>= vocab_size``).
        Malformed ids never raise.

        Args:
            ids (`torch.Tensor`, `np.ndarray` or nested lists of shape `(batch, length)`): Token ids.
            with_task (`bool`, *optional*, defaults to `False`): Expect a task token before each matrix.

        Returns:
            `DecodedMatrices`: matrices (or `None`), the validity mask and, with `with_task`, the task tokens.
        """
        arr = _as_id_array(ids, self.pad_token_id)
        batch, length = arr.shape
        if length == 0:  # no tokens at all: nothing well formed
            none: list[str | None] | None = [None] * batch if with_task else None
            return DecodedMatrices(matrices=[None] * batch, valid=np.zeros(batch, dtype=bool), tasks=none)
        # Only EOS, padding and the labels' -100 end a sequence; any other id outside the vocabulary makes it invalid.
        ends = (arr == self.eos_token_id) | (arr == self.pad_token_id) | (arr == -100)
        unknown = ((arr < 0) | (arr >= self.vocab_size)) & ~ends
        arr = np.where(unknown | (arr == -100), self.pad_token_id, arr)
        # Skip leading decoder-start tokens: at most one for "eos" framing; for "lawt", <s> is also the EOS.
        start = (arr[:, 0] == self.bos_token_id).astype(np.int64)
        cols = np.arange(length)[None, :]
        stop = ends & (cols >= start[:, None])
        end = np.where(stop.any(axis=1), stop.argmax(axis=1), length)
        tasks: list[str | None] | None = None
        ok_task = np.ones(batch, dtype=bool)
        if with_task:
            first = arr[np.arange(batch), np.minimum(start, length - 1)]
            id_to_task = {v: k for k, v in self._task_ids.items()}
            tasks = [id_to_task.get(int(t)) if s < e else None for t, s, e in zip(first, start, end)]
            ok_task = np.array([t is not None for t in tasks], dtype=bool)
            start = start + 1
        width = max(int((end - start).max(initial=0)), 0)
        local = np.full((batch, max(width, 1)), PAD_SYMBOL, dtype=np.int64)
        for_take = np.clip(start[:, None] + np.arange(local.shape[1])[None, :], 0, max(length - 1, 0))
        body = self._id_to_out[np.take_along_axis(arr, for_take, axis=1)]
        body = np.where(np.take_along_axis(unknown, for_take, axis=1), UNKNOWN_SYMBOL, body)
        inside = np.arange(local.shape[1])[None, :] < (end - start)[:, None]
        local = np.where(inside, body, PAD_SYMBOL)
        decoded = get_encoding(self.output_encoding).decode_batch(local, np.maximum(end - start, 0))
        valid = decoded.valid & ok_task
        matrices = [m if v else None for m, v in zip(decoded.matrices, valid)]
        return DecodedMatrices(matrices=matrices, valid=valid, tasks=tasks)

    def text_to_matrix(self, text: str, side: str = "output") -> np.ndarray | None:
        """Read one matrix from space-separated tokens (special tokens ignored); `None` if malformed."""
        encoding, _ = self._side(side)
        specials = {str(t) for t in (self.bos_token, self.eos_token, self.pad_token)}
        return encoding.decode_matrix([t for t in text.split() if t not in specials])


def _as_id_array(ids: torch.Tensor | np.ndarray | Sequence[Sequence[int]], pad_id: int) -> np.ndarray:
    """A 2-D int64 array from a tensor, an array, or (possibly ragged) nested lists."""
    if hasattr(ids, "detach"):
        ids = ids.detach().cpu().numpy()
    if isinstance(ids, np.ndarray):
        arr = ids.astype(np.int64, copy=False)
        return arr[None] if arr.ndim == 1 else arr
    rows = [list(r) if hasattr(r, "__len__") else r for r in ids]
    if rows and not isinstance(rows[0], list):  # one flat sequence
        rows = [rows]
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), pad_id, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out
