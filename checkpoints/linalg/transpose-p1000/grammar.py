"""The output grammar: which tokens can continue a well-formed answer, as automata and as a `LogitsProcessor`.

An answer of the ``"eos"`` framing is, after the decoder start token: an optional task token (co-training models),
the header ``V{rows} V{cols}``, then ``rows * cols`` numbers, each in the output encoding's grammar, then ``</s>``.
`MatrixTokenizer.decode_matrices` reads exactly those sequences and calls anything else malformed.

- `NUMBER_GRAMMARS`: for each output encoding, the automaton of one number (`NumberGrammar`): which local symbols
  each state allows and the state each leads to. It accepts exactly what the encoding's reader accepts (P1000
  ``+ 314 E-2``; P10 ``+ 3 1 4 E-2`` or the short zero ``+ 0 E0``; B1999 ``N314 E-2``; FP15 one token), so a
  sequence the automaton accepts always decodes.
- `MatrixGrammarLogitsProcessor`: a `transformers.LogitsProcessor` that, at each step of `generate()`, sets the
  scores of the tokens that cannot continue a well-formed answer to ``-inf``. Greedy decoding with it is *greedy
  decoding within the grammar*: the most likely token among those allowed, so every finished answer is a well-formed
  matrix (and of the expected shape, when the shapes are given). It composes with beam search, sampling and several
  returned sequences.

Why: a trained model's few malformed greedy answers count as infinitely wrong. On the released eigenvalue model most
are the eigenvalue nearest zero written as two signs and no mantissa (``- + E-4``): the model hesitates between a
small negative and a small positive value, and greedy takes one sign, then the other. Within the grammar, the second
sign is not allowed and the most likely mantissa follows the first (docs/recipes.md has the measured effect).

This module travels with a model as Hub remote code (beside the pipelines): it imports only torch, numpy,
transformers and its flat sibling `encodings.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import LogitsProcessor

from .encodings import MAX_DIMENSION, FP15Encoding, NumberEncoding, PositionalEncoding, SymbolicEncoding, get_encoding

__all__ = [
    "MatrixGrammarLogitsProcessor",
    "NUMBER_GRAMMARS",
    "NumberGrammar",
    "has_grammar",
    "number_grammar",
]


# ---------------------------------------------------------------------------------------------- number grammars
@dataclass(frozen=True)
class NumberGrammar:
    """The automaton of one number over an encoding's local symbols.

    States are ``0..num_states - 1``; state 0 reads a number's first token. `next_state[s, v]` is the state after
    symbol ``v`` in state ``s``: another state, `num_states` when the number is complete, or -1 where ``v`` is not
    allowed. States are numbered along the full-length numbers (`tokens_per_number` tokens), so ``s + 1`` follows
    ``s`` on them; a shorter number (P10's zero) jumps ahead.

    Attributes:
        next_state (`np.ndarray` of shape `(num_states, num_symbols)`, int64): The transitions.
    """

    next_state: np.ndarray

    @property
    def num_states(self) -> int:
        """States of the automaton (the tokens of a full-length number)."""
        return int(self.next_state.shape[0])

    @property
    def allowed(self) -> np.ndarray:
        """`np.ndarray` of shape `(num_states, num_symbols)`, bool: the symbols each state allows."""
        return self.next_state >= 0

    def full_length_slots(self) -> list[np.ndarray]:
        """The symbols allowed at each token of a full-length number: one boolean mask `(num_symbols,)` per state.

        State ``s`` keeps the symbols leading to ``s + 1`` (or completing the number from the last state), so P10's
        first digit excludes ``0``, which starts the short zero. Regression-aware decoding proposes these numbers.
        """
        return [self.next_state[s] == s + 1 for s in range(self.num_states)]

    def accepts(self, symbols: np.ndarray) -> np.ndarray:
        """Whether each row of local symbols is exactly a sequence of complete numbers.

        Args:
            symbols (`np.ndarray` of shape `(N, T)`): Local symbols; a negative entry ends its row (padding), and a
                symbol after it makes the row rejected.

        Returns:
            `np.ndarray` of shape `(N,)`, bool.
        """
        state = np.zeros(len(symbols), dtype=np.int64)
        ended = np.zeros(len(symbols), dtype=bool)
        for column in symbols.T:
            live = (column >= 0) & (state >= 0) & ~ended
            step = self.next_state[np.clip(state, 0, self.num_states - 1), np.clip(column, 0, None)]
            state = np.where(live, np.where(step == self.num_states, 0, step), state)
            state[(column >= 0) & ended] = -1
            ended |= column < 0
        return state == 0


def _chain(num_symbols: int, slots: Sequence[np.ndarray]) -> np.ndarray:
    """Transitions of a chain of slots (local symbol indices allowed at each), each leading to the next."""
    next_state = np.full((len(slots), num_symbols), -1, dtype=np.int64)
    for state, symbols in enumerate(slots):
        next_state[state, symbols] = state + 1
    return next_state


def _positional(encoding: PositionalEncoding) -> NumberGrammar:
    signs = np.array([encoding._plus, encoding._minus])
    exponents = np.arange(encoding._exp0, encoding.num_symbols)
    digits = encoding._digit0 + np.arange(encoding.base)
    if encoding.base == 1000:  # + 314 E-2; the mantissa 0 writes zero
        return NumberGrammar(_chain(encoding.num_symbols, [signs, digits, exponents]))
    # + 3 1 4 E-2: a non-zero first digit and two more; or zero's single digit, "+ 0 E0", then the exponent.
    next_state = _chain(encoding.num_symbols, [signs, digits[1:], digits, digits, exponents])
    next_state[1, encoding._digit0] = 4
    return NumberGrammar(next_state)


def _symbolic(encoding: SymbolicEncoding) -> NumberGrammar:
    mantissas = encoding._mant0 + np.arange(-1000, 1001)
    return NumberGrammar(_chain(encoding.num_symbols, [mantissas, np.arange(encoding._exp0, encoding.num_symbols)]))


def _fp15(encoding: FP15Encoding) -> NumberGrammar:
    return NumberGrammar(_chain(encoding.num_symbols, [np.arange(MAX_DIMENSION, encoding.num_symbols)]))


NUMBER_GRAMMARS: dict[str, Callable[[Any], NumberGrammar]] = {
    "P10": _positional,
    "P1000": _positional,
    "B1999": _symbolic,
    "FP15": _fp15,
}
"""Encoding name -> builder of the automaton of one number (`NumberGrammar`) from the encoding instance."""


def has_grammar(encoding: str | NumberEncoding) -> bool:
    """Whether `encoding` has a grammar in `NUMBER_GRAMMARS` (a user's registered encoding may not)."""
    return get_encoding(encoding).name in NUMBER_GRAMMARS


def number_grammar(encoding: str | NumberEncoding) -> NumberGrammar:
    """The automaton of one number of `encoding`.

    Raises:
        ValueError: for an encoding without a grammar in `NUMBER_GRAMMARS` (the message lists those known).
    """
    encoding = get_encoding(encoding)
    if not has_grammar(encoding):
        raise ValueError(f"no output grammar for the encoding {encoding.name!r}; known: {', '.join(NUMBER_GRAMMARS)}")
    return NUMBER_GRAMMARS[encoding.name](encoding)


# --------------------------------------------------------------------------------------------- the processor
# Phases of an answer before and after its numbers; inside the numbers, the phase is the number automaton's state.
_TASK, _ROWS, _COLS, _END, _DONE, _FREE = -1, -2, -3, -4, -5, -6


class MatrixGrammarLogitsProcessor(LogitsProcessor):
    """Lets `generate()` write only well-formed answers: the scores of tokens that cannot continue one are ``-inf``.

    At each step the processor reads each row's prefix (after the decoder start token) through the answer's grammar
    (the module docstring) and allows only the tokens that continue it: the task token (the problem's, when `tasks`
    are given), the header's dimension tokens (the problem's shape, when `shapes` are given), then each number's
    tokens in the output encoding's grammar, then ``</s>`` after the last number. A row that has ended may only
    continue with padding or ``</s>``, as `generate()` pads it. A prefix that is not in the grammar (e.g.
    ``decoder_input_ids`` given by hand) leaves its row unconstrained. Should an earlier processor have ruled out
    every token the grammar allows (``min_new_tokens`` at the end of an answer, say), the grammar's tokens are kept,
    at the lowest finite score.

    The state of each row is a function of its problem and prefix alone. At each step a row's state is found from
    the previous step's row with the same problem and prefix (beam search reorders rows), and only the new token is
    read; the prefixes are read in full only at the first call, or when a row has no such predecessor.

    Use: ``model.generate(input_ids, logits_processor=LogitsProcessorList([MatrixGrammarLogitsProcessor(tokenizer,
    shapes=[(5, 1)] * len(input_ids))]))``; the pipelines and the evaluation do it with ``decoding="grammar"``.

    Args:
        tokenizer (`MatrixTokenizer`): The model's tokenizer (its output encoding, special and task tokens).
        shapes (`Sequence[tuple[int, int]]`, *optional*): The answer's shape for each problem of the batch; the header
            is then that shape's. Rows of `generate()` (problems times beams or returned sequences, each problem's
            rows next to each other, as `generate()` expands them) are matched to problems in order. Default: any
            header (an answer too long for the generation budget is then cut short, as without the grammar).
        with_task (`bool`, *optional*, defaults to `False`): The answer starts with a task token (co-training).
        tasks (`Sequence[str]`, *optional*): The task token of each problem (implies `with_task`).

    Raises:
        ValueError: for an output encoding without a grammar, shapes outside ``1..MAX_DIMENSION``, task tokens the
            tokenizer lacks, or `shapes` and `tasks` for different numbers of problems.
    """

    def __init__(
        self,
        tokenizer: Any,
        shapes: Sequence[tuple[int, int]] | None = None,
        with_task: bool = False,
        tasks: Sequence[str] | None = None,
    ) -> None:
        encoding, out_to_id = tokenizer._side("output")
        self.grammar = number_grammar(encoding)
        self.shapes: np.ndarray | None = None
        if shapes is not None:
            dims = np.asarray([tuple(s) for s in shapes], dtype=np.int64).reshape(-1, 2)
            if len(dims) == 0 or ((dims < 1) | (dims > MAX_DIMENSION)).any():
                raise ValueError(f"shapes must be (rows, cols) pairs in 1..{MAX_DIMENSION}; got {list(shapes)!r}")
            self.shapes = dims
        task_ids: dict[str, int] = dict(tokenizer._task_ids)
        self.with_task = bool(with_task) or tasks is not None
        if self.with_task and not task_ids:
            raise ValueError("with_task: this tokenizer has no task tokens")
        self.tasks: np.ndarray | None = None
        if tasks is not None:
            unknown = sorted(set(tasks) - set(task_ids))
            if unknown or not len(tasks):
                raise ValueError(
                    f"tasks must be task tokens of the tokenizer ({', '.join(task_ids)}); got {list(tasks)!r}"
                )
            self.tasks = np.asarray([task_ids[t] for t in tasks], dtype=np.int64)
        if self.shapes is not None and self.tasks is not None and len(self.shapes) != len(self.tasks):
            raise ValueError(f"{len(self.shapes)} shapes and {len(self.tasks)} tasks: give one of each per problem")
        self.eos, self.pad = int(tokenizer.eos_token_id), int(tokenizer.pad_token_id)
        vocab = int(tokenizer.vocab_size)
        self._local = np.full(vocab + 1, -1, dtype=np.int64)  # global id -> local output symbol; the last: none
        self._local[out_to_id] = np.arange(len(out_to_id))
        self._out_to_id = np.asarray(out_to_id, dtype=np.int64)
        self._task_ids = np.asarray(sorted(task_ids.values()), dtype=np.int64)
        self._is_task = np.zeros(vocab + 1, dtype=bool)
        self._is_task[self._task_ids] = True
        self._tables: dict[tuple[int, str], torch.Tensor] = {}
        self._last: tuple[dict[tuple[int, bytes], int], np.ndarray, np.ndarray, int] | None = None

    # ------------------------------------------------------------------------------------------ the automaton
    def _problems(self, rows: int) -> np.ndarray:
        """The problem of each of `rows` rows (`generate()` repeats each problem's rows next to each other)."""
        given = self.shapes if self.shapes is not None else self.tasks
        if given is None:
            return np.zeros(rows, dtype=np.int64)
        if rows % len(given):
            raise ValueError(f"generate() has {rows} rows for {len(given)} problems: not a multiple")
        return np.arange(rows) // (rows // len(given))

    def _advance(self, phase: np.ndarray, left: np.ndarray, ids: np.ndarray, problem: np.ndarray) -> None:
        """Read one token `ids` `(R,)` per row, updating `phase` and `left` (numbers still to write) in place."""
        known = (ids >= 0) & (ids < len(self._local) - 1)
        safe = np.where(known, ids, len(self._local) - 1)
        local = self._local[safe]
        ended = (ids == self.eos) | (ids == self.pad)
        new = np.full_like(phase, _FREE)
        new[phase == _DONE] = _DONE
        new[(phase == _END) & ended] = _DONE
        task_ok = self._is_task[safe] if self.tasks is None else safe == self.tasks[problem]
        new[(phase == _TASK) & task_ok] = _ROWS
        dim = (local >= 0) & (local < MAX_DIMENSION)
        if self.shapes is not None:
            dim &= local + 1 == self.shapes[problem, np.where(phase == _ROWS, 0, 1)]
        rows_read = (phase == _ROWS) & dim
        new[rows_read] = _COLS
        left[rows_read] = local[rows_read] + 1
        cols_read = (phase == _COLS) & dim
        new[cols_read] = 0
        left[cols_read] *= local[cols_read] + 1
        inside = phase >= 0
        step = self.grammar.next_state[np.clip(phase, 0, self.grammar.num_states - 1), np.maximum(local, 0)]
        step = np.where(inside & (local >= 0), step, -1)
        complete = inside & (step == self.grammar.num_states)
        left[complete] -= 1
        moved = inside & (step >= 0) & ~complete
        new[moved] = step[moved]
        new[complete] = np.where(left[complete] == 0, _END, 0)
        phase[:] = new

    def _states(self, input_ids: torch.Tensor, problem: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The phase and numbers left of each row (problem `problem` `(R,)`) after its prefix `input_ids` `(R, t)`."""
        ids = input_ids.detach().cpu().numpy()
        length = ids.shape[1]
        keys = [(int(p), row.tobytes()) for p, row in zip(problem, ids)]
        last = self._last
        previous = None
        if last is not None and last[3] == length - 1:
            found = [last[0].get((int(p), row[:-1].tobytes())) for p, row in zip(problem, ids)]
            if all(i is not None for i in found):
                previous = np.asarray(found, dtype=np.int64)
        if previous is not None:
            phase, left = last[1][previous], last[2][previous]
            self._advance(phase, left, ids[:, -1], problem)
        else:
            phase = np.full(len(ids), _TASK if self.with_task else _ROWS, dtype=np.int64)
            left = np.zeros(len(ids), dtype=np.int64)
            for column in ids[:, 1:].T:  # position 0 is the decoder start token
                self._advance(phase, left, column, problem)
        self._last = ({key: i for i, key in enumerate(keys)}, phase, left, length)
        return phase, left

    # ------------------------------------------------------------------------------------------------- masks
    def _table(self, width: int, device: torch.device) -> torch.Tensor:
        """The allowed ids `(kinds, width)` of every kind of position (`_kinds`), built once per width and device."""
        key = (width, str(device))
        if key not in self._tables:
            states = self.grammar.num_states
            table = np.zeros((5 + states + MAX_DIMENSION + len(self._task_ids), width), dtype=bool)
            rows = [
                np.arange(width),  # 0: free
                np.array([self.eos, self.pad]),  # 1: done
                np.array([self.eos]),  # 2: end
                self._task_ids,  # 3: any task
                self._out_to_id[:MAX_DIMENSION],  # 4: any dimension
                *(self._out_to_id[np.flatnonzero(self.grammar.allowed[s])] for s in range(states)),
                *(self._out_to_id[d : d + 1] for d in range(MAX_DIMENSION)),  # one dimension each
                *(self._task_ids[k : k + 1] for k in range(len(self._task_ids))),  # one task each
            ]
            for index, ids in enumerate(rows):
                table[index, ids[ids < width]] = True
            self._tables[key] = torch.from_numpy(table).to(device)
        return self._tables[key]

    def _kinds(self, phase: np.ndarray, problem: np.ndarray) -> np.ndarray:
        """The row of `_table` that applies to each row, from its phase and problem."""
        states = self.grammar.num_states
        kind = np.where(phase >= 0, 5 + phase, 0)
        kind[phase == _DONE], kind[phase == _END] = 1, 2
        task = phase == _TASK
        if self.tasks is None:
            kind[task] = 3
        else:
            kind[task] = 5 + states + MAX_DIMENSION + np.searchsorted(self._task_ids, self.tasks[problem[task]])
        for which, column in ((_ROWS, 0), (_COLS, 1)):
            header = phase == which
            kind[header] = 4 if self.shapes is None else 5 + states + self.shapes[problem[header], column] - 1
        return kind

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Mask the scores `(R, V)` of the tokens that cannot follow each row of `input_ids` `(R, t)`."""
        problem = self._problems(input_ids.shape[0])
        phase, _ = self._states(input_ids, problem)
        kinds = torch.from_numpy(self._kinds(phase, problem)).to(scores.device)
        allowed = self._table(scores.shape[-1], scores.device)[kinds]
        masked = scores.masked_fill(~allowed, float("-inf"))
        dead = ~torch.isfinite(masked).any(dim=-1)  # an earlier processor ruled out all the grammar allows
        if dead.any():
            floor = torch.finfo(scores.dtype).min
            masked[dead] = torch.full_like(masked[dead], float("-inf")).masked_fill(allowed[dead], floor)
        return masked
