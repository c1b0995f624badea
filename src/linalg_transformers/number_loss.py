"""A number-aware loss on the output's number tokens, added to cross-entropy in training.

Cross-entropy over the 900 mantissas of P1000 gives nothing for being one mantissa off. This loss adds a term that
does, on the target positions whose token carries a number's digits (the *mantissa group* of the output encoding):

* ``"wasserstein"`` (Number Token Loss, Zausinger et al., "Regress, Don't Guess", ICML 2025): the Wasserstein-1
  distance between the predicted distribution over the group's ordered tokens (renormalized over the group) and the
  target token. Against a one-hot target the difference-of-CDFs formula reduces to the expected distance
  ``sum_k p_k d(k, target)``, which is what is computed, for any of the distances below (it is W1 on a circle too).
* ``"soft"`` (soft ordinal labels, Diaz and Marathe, CVPR 2019): cross-entropy of the full output distribution
  against soft targets ``q_k ~ exp(-d(k, target) / width)`` over the group. As the width goes to 0 the targets become
  one-hot and the term becomes plain cross-entropy.

Distances are in natural-log units of the value, so that a small miss costs about its relative error, and a miss
across a power of ten costs what it costs in value (`MANTISSA_GROUPS`, one builder per output encoding):

==========  ==============================================  ===================================================
encoding    group (target tokens that get the term)         distance between two tokens
==========  ==============================================  ===================================================
``P1000``   mantissas ``100`` .. ``999``                    ``|ln m - ln m'|`` on a circle of period ln 10:
                                                            ``999`` (9.99) is next to ``100`` (10.0)
``B1999``   signed mantissas ``N±100`` .. ``N±999``         the same, per sign; opposite signs: `MAX_DISTANCE`
``FP15``    every finite non-zero token ``N{m}e{e}``        ``|ln|v| - ln|v'||``; opposite signs: `MAX_DISTANCE`
``P10``     digits ``0`` .. ``9`` (each digit position)     ``0.1 |d - d'|`` (the ordinal digits of the paper)
==========  ==============================================  ===================================================

Every distance is capped at `MAX_DISTANCE` (one decade, ln 10): beyond it, all misses are equally wrong. Sign,
exponent and format tokens get cross-entropy only; they are learned in the first few hundred thousand examples.

The term is a sum over the group's target positions divided by the same count as the cross-entropy (the target
tokens of the batch, or `num_items_in_batch` when `Trainer` passes it), so that ``CE + weight * term`` is a loss per
target token, right under gradient accumulation and several processes. It is computed in float32 from the logits the
cross-entropy already needs, on the group's positions only.

Example:
```python
>>> import torch
>>> from linalg_transformers import MatrixTokenizer
>>> from linalg_transformers.number_loss import NumberTokenLoss
>>> tok = MatrixTokenizer(input_encoding="P1000")
>>> loss = NumberTokenLoss(tok)
>>> labels = tok.prepare_batch([[[1.0]]], [[[3.14]]])["labels"]          # V1 V1 + 314 E-2 </s>
>>> near = torch.zeros(1, labels.shape[1], tok.output_vocab_size)
>>> far = near.clone()
>>> near[0, 3, tok.convert_tokens_to_ids("315")] = 20.0                  # one mantissa off
>>> far[0, 3, tok.convert_tokens_to_ids("700")] = 20.0
>>> bool(loss.term(near, labels) < loss.term(far, labels))
True

```
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .encodings import FP15Encoding, PositionalEncoding, SymbolicEncoding, get_encoding

__all__ = [
    "LOSS_KINDS",
    "MANTISSA_GROUPS",
    "MAX_DISTANCE",
    "NumberTokenGroup",
    "NumberTokenLoss",
    "number_token_group",
    "register_mantissa_group",
]

MAX_DISTANCE = math.log(10.0)
"""Cap on the distance between two tokens (one decade in natural-log units); also the distance across signs."""

_MIN_WIDTH = 1e-6  # a soft-target width below this is a one-hot target (no division by zero)
_TABLE_COLUMNS = 4096  # groups spanning at most this many ids keep a precomputed distance table


@dataclass(frozen=True)
class NumberTokenGroup:
    """The tokens of an output encoding that carry a number's digits, with their place on the number line.

    Attributes:
        name (`str`): What the group holds, e.g. ``"P1000 mantissas"``.
        symbols (`np.ndarray` of shape `(G,)`, int64): Local symbol indices in the encoding.
        coordinates (`np.ndarray` of shape `(G,)`, float64): Position of each token (natural-log units for the
            mantissas of P1000 and B1999 and the values of FP15).
        sheets (`np.ndarray` of shape `(G,)`, int64): Tokens on different sheets (signs) are `MAX_DISTANCE` apart.
        period (`float | None`): The coordinates lie on a circle of this period (P1000, B1999: ln 10), else a line.
    """

    name: str
    symbols: np.ndarray
    coordinates: np.ndarray
    sheets: np.ndarray
    period: float | None = None


def _positional_group(encoding: PositionalEncoding) -> NumberTokenGroup:
    if encoding.base == 10:
        digits = np.arange(10)
        return NumberTokenGroup(
            "P10 digits", encoding._digit0 + digits, 0.1 * digits.astype(np.float64), np.zeros(10, np.int64)
        )
    mantissas = np.arange(100, 1000)
    return NumberTokenGroup(
        "P1000 mantissas",
        encoding._digit0 + mantissas,
        np.log(mantissas.astype(np.float64)),
        np.zeros(len(mantissas), np.int64),
        period=math.log(10.0),
    )


def _symbolic_group(encoding: SymbolicEncoding) -> NumberTokenGroup:
    signed = np.concatenate([np.arange(-999, -99), np.arange(100, 1000)])
    return NumberTokenGroup(
        "B1999 signed mantissas",
        encoding._mant0 + signed,
        np.log(np.abs(signed).astype(np.float64)),
        (signed < 0).astype(np.int64),
        period=math.log(10.0),
    )


def _fp15_group(encoding: FP15Encoding) -> NumberTokenGroup:
    values = encoding._value
    local = np.flatnonzero(np.isfinite(values) & (values != 0) & (np.abs(values) < encoding.limit))
    return NumberTokenGroup("FP15 numbers", local, np.log(np.abs(values[local])), (values[local] < 0).astype(np.int64))


MANTISSA_GROUPS: dict[str, Callable[[Any], NumberTokenGroup]] = {
    "P10": _positional_group,
    "P1000": _positional_group,
    "B1999": _symbolic_group,
    "FP15": _fp15_group,
}
"""Output encoding name -> the builder of its mantissa group. Add one with `register_mantissa_group`."""


def register_mantissa_group(name: str, builder: Callable[[Any], NumberTokenGroup]) -> None:
    """Register the mantissa group of an encoding (e.g. one registered with `register_encoding`).

    Args:
        name (`str`): The encoding's name, as `get_encoding(name).name` spells it.
        builder (`Callable[[NumberEncoding], NumberTokenGroup]`): Builds the group from the encoding.
    """
    MANTISSA_GROUPS[name] = builder


def number_token_group(tokenizer: Any) -> tuple[NumberTokenGroup, np.ndarray]:
    """The mantissa group of a tokenizer's output encoding, and its tokens' vocabulary ids.

    Args:
        tokenizer (`MatrixTokenizer`): Its `output_encoding` selects the group.

    Returns:
        `(group, ids)`: the `NumberTokenGroup` and the vocabulary ids of its tokens, int64 of shape `(G,)`.

    Raises:
        ValueError: if no group is registered for the output encoding.
    """
    encoding = get_encoding(tokenizer.output_encoding)
    if encoding.name not in MANTISSA_GROUPS:
        raise ValueError(
            f"the number-aware loss has no mantissa group for the output encoding {encoding.name!r}; known: "
            f"{', '.join(MANTISSA_GROUPS)} (add one with register_mantissa_group)"
        )
    group = MANTISSA_GROUPS[encoding.name](encoding)
    _, out_to_id = tokenizer._side("output")
    return group, out_to_id[group.symbols]


def _wasserstein(
    group_logits: torch.Tensor,
    logits: torch.Tensor,
    distance: torch.Tensor,
    member: torch.Tensor | None,
    width: float,
) -> torch.Tensor:
    """Expected distance under the group-renormalized prediction: W1 to the one-hot target, per position `(M,)`."""
    if member is not None:
        group_logits = group_logits.masked_fill(~member, float("-inf"))
    return (torch.softmax(group_logits, dim=-1) * distance).sum(-1)


def _soft_targets(
    group_logits: torch.Tensor,
    logits: torch.Tensor,
    distance: torch.Tensor,
    member: torch.Tensor | None,
    width: float,
) -> torch.Tensor:
    """Cross-entropy of the full prediction against ``softmax(-distance / width)`` over the group, per position."""
    scores = -distance / max(width, _MIN_WIDTH)
    if member is not None:
        scores = scores.masked_fill(~member, float("-inf"))
    targets = torch.softmax(scores, dim=-1)
    log_probs = group_logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    return -(targets * log_probs).sum(-1)


LossKind = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, "torch.Tensor | None", float], torch.Tensor]
LOSS_KINDS: dict[str, LossKind] = {
    "wasserstein": _wasserstein,
    "soft": _soft_targets,
}
"""Kind -> per-position term `(M,)` from the group's columns of the logits `(M, C)`, all logits `(M, K)`, the
distances `(M, C)`, which columns hold group tokens (`(C,)` bool, `None` for all) and the soft-target width."""


class NumberTokenLoss:
    """The number-aware term for a tokenizer's output encoding (see the module docstring), weighted and annealed.

    Calling it gives ``weight(step) * term``, the amount added to the cross-entropy at optimizer step `step`.

    Args:
        tokenizer (`MatrixTokenizer`): Its output encoding selects the mantissa group.
        weight (`float`, *optional*, defaults to 1.0): Weight of the term (0: off).
        kind (`str`, *optional*, defaults to `"wasserstein"`): A key of `LOSS_KINDS`: ``"wasserstein"`` or
            ``"soft"``.
        width (`float`, *optional*, defaults to 0.02): Width of the soft targets (``"soft"`` only), in the group's
            distance units (natural log: 0.02 is about 2% in value). 0 gives one-hot targets.
        anneal_steps (`int`, *optional*, defaults to 0): Over this many optimizer steps the term fades linearly into
            plain cross-entropy: the weight (``"wasserstein"``) or the width (``"soft"``) falls to 0. 0: constant.

    Raises:
        ValueError: for an unknown kind, a negative weight, width or anneal_steps, or an output encoding without a
            mantissa group.
    """

    def __init__(
        self,
        tokenizer: Any,
        weight: float = 1.0,
        kind: str = "wasserstein",
        width: float = 0.02,
        anneal_steps: int = 0,
    ) -> None:
        if kind not in LOSS_KINDS:
            raise ValueError(f"unknown number loss kind {kind!r}; valid: {', '.join(LOSS_KINDS)}")
        for name, value in (("weight", weight), ("width", width), ("anneal_steps", anneal_steps)):
            if not value >= 0:
                raise ValueError(f"the number loss {name} must be >= 0; got {value!r}")
        self.weight, self.kind, self.width, self.anneal_steps = float(weight), kind, float(width), int(anneal_steps)
        self.group, ids = number_token_group(tokenizer)
        self.ids = torch.from_numpy(ids)
        self.coordinates = torch.from_numpy(self.group.coordinates).float()
        self.sheets = torch.from_numpy(self.group.sheets)
        # The term works on "columns" of the logits: the span of ids from the group's first to its last when the
        # group fills most of it (a slice: no gather, and a cheap backward), else the group's ids gathered.
        low, high = int(ids.min()), int(ids.max()) + 1
        self._columns: slice | torch.Tensor
        if high - low <= 2 * len(ids):
            self._columns, columns = slice(low, high), np.arange(low, high)
        else:
            self._columns, columns = self.ids, ids
        column_of = np.full(high, -1, dtype=np.int64)
        column_of[columns] = np.arange(len(columns))
        group_columns = column_of[ids]
        self._group_columns = torch.from_numpy(group_columns)
        member = np.zeros(len(columns), dtype=bool)
        member[group_columns] = True
        self._member = None if member.all() else torch.from_numpy(member)
        # Column coordinates with each sheet shifted past the others by more than the cap, so that one subtraction
        # gives every distance; columns outside the group sit past every sheet.
        coords = self.group.coordinates
        offset = float(coords.max() - coords.min()) + 2 * MAX_DISTANCE + 1.0
        shifted = np.full(len(columns), offset * (int(self.group.sheets.max()) + 2), dtype=np.float64)
        shifted[group_columns] = coords - coords.min() + offset * self.group.sheets
        self._shifted = torch.from_numpy(shifted)  # float64; the table is exact, on-the-fly distances float32
        position = np.full(max(int(tokenizer.vocab_size), high), -1, dtype=np.int64)
        position[ids] = group_columns
        self._position = torch.from_numpy(position)  # vocabulary id -> column of a group token, else -1
        self._table: torch.Tensor | None = None
        if len(columns) <= _TABLE_COLUMNS:  # every distance once, float32 (P1000: 900 x 900, 3 MB)
            self._table = self._column_distances(torch.arange(len(columns)), torch.float64).float()

    def _column_distances(self, targets: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Distances `(M, C)` from the target columns `(M,)` to every column, capped at `MAX_DISTANCE`."""
        if self._table is not None:
            return self._table.to(targets.device)[targets]
        coords = self._shifted.to(targets.device, dtype)
        delta = (coords[None, :] - coords[targets][:, None]).abs_()
        if self.group.period is not None:
            delta = torch.minimum(delta, (self.group.period - delta).abs_())
        return delta.clamp_(max=MAX_DISTANCE)

    def schedule(self, step: int | None) -> tuple[float, float]:
        """``(weight, width)`` at optimizer step `step` (`None`: the start)."""
        fraction = 1.0
        if self.anneal_steps and step is not None:
            fraction = max(0.0, 1.0 - step / self.anneal_steps)
        if self.kind == "soft":
            return self.weight, self.width * fraction
        return self.weight * fraction, self.width

    def distances(self, targets: torch.Tensor) -> torch.Tensor:
        """Distance from each target to every token of the group.

        Args:
            targets (`torch.LongTensor` of shape `(M,)`): Indices into the group.

        Returns:
            `torch.Tensor` of shape `(M, G)`, float32, in `[0, MAX_DISTANCE]`.
        """
        columns = self._group_columns.to(targets.device)
        return self._column_distances(columns[targets])[:, columns]

    def term(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        num_items_in_batch: int | torch.Tensor | None = None,
        width: float | None = None,
    ) -> torch.Tensor:
        """The unweighted term, per target token of the batch.

        Args:
            logits (`torch.Tensor` of shape `(B, T, K)`): Decoder logits (teacher forcing), any float dtype.
            labels (`torch.LongTensor` of shape `(B, T)`): Targets, -100 where ignored.
            num_items_in_batch (`int` or `torch.Tensor`, *optional*): Divide the sum by this (the target tokens of
                the whole accumulated batch, as `Trainer` passes it); by default, by this batch's target tokens.
            width (`float`, *optional*): Soft-target width for this call; default `width`.

        Returns:
            `torch.Tensor`: a float32 scalar, differentiable in `logits` (0 when no target is in the group).
        """
        flat_labels = labels.reshape(-1).to(logits.device)
        position = self._position.to(logits.device)
        inside = (flat_labels >= 0) & (flat_labels < len(position))
        column = torch.where(inside, position[flat_labels.clamp(0, len(position) - 1)], -1)
        rows = (column >= 0).nonzero(as_tuple=True)[0]
        if num_items_in_batch is None:
            normalizer: int | torch.Tensor = max(int((flat_labels != -100).sum()), 1)
        else:
            normalizer = num_items_in_batch
            if isinstance(normalizer, torch.Tensor):
                normalizer = normalizer.to(logits.device)
        if rows.numel() == 0:
            return logits.float().sum() * 0.0
        selected = logits.reshape(-1, logits.shape[-1])[rows].float()  # (M, K)
        columns = self._columns if isinstance(self._columns, slice) else self._columns.to(logits.device)
        group_logits = selected[:, columns]  # (M, C)
        distance = self._column_distances(column[rows])
        member = None if self._member is None else self._member.to(logits.device)
        kind = LOSS_KINDS[self.kind]
        per_position = kind(group_logits, selected, distance, member, self.width if width is None else width)
        return per_position.sum() / normalizer

    def __call__(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        num_items_in_batch: int | torch.Tensor | None = None,
        step: int | None = None,
    ) -> torch.Tensor:
        """``weight * term`` at optimizer step `step` (annealed), per target token; arguments as in `term`."""
        weight, width = self.schedule(step)
        if weight == 0:
            return logits.float().sum() * 0.0
        return weight * self.term(logits, labels, num_items_in_batch, width)
