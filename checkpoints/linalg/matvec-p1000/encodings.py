"""Number encodings of "Linear algebra with transformers" (Charton, 2022), section 1 of the paper.

Four encodings write a real number with three significant digits:

==========  ===========================  ==============================  ==================
name        3.14159                      -3.14159                        zero
==========  ===========================  ==============================  ==================
``P10``     ``+ 3 1 4 E-2``              ``- 3 1 4 E-2``                 ``+ 0 E0``
``P1000``   ``+ 314 E-2``                ``- 314 E-2``                   ``+ 0 E0``
``B1999``   ``N314 E-2``                 ``N-314 E-2``                   ``N0 E0``
``FP15``    ``N314e7``                   ``N-314e7``                     ``N0e0``
==========  ===========================  ==============================  ==================

A matrix is written ``V{rows} V{cols}`` followed by its coefficients in row-major order.

Every encoding works on whole batches with numpy: numbers become *local symbol indices* (positions in
`NumberEncoding.symbols`) arithmetically, with no per-number string work, and the tokenizer maps those indices to
vocabulary ids with one lookup table. The string API (`encode_number`, `encode_matrix`, `decode_matrix`) is a thin
wrapper over the same batched code, so both paths always agree.

Token formats follow the reference code token for token (LAWT ``src/envs/encoders.py``), including rounding, carries
(9.996 -> ``+ 100 E-1``), tiny numbers (written as zero below ``1e-98``), FP15 subnormals (``N-99e0``..``N99e0``) and
FP15 overflow (``NaN``/``-NaN``, decoded as +-1e9). Two deliberate differences, both about invalid input rather than
token formats:

* NaN, infinity and complex input raise `ValueError` (the reference asserts, or crashes later).
* P10, P1000 and B1999 can only write exponents ``E-100``..``E100``, i.e. magnitudes below 9.995e102. The reference
  emits an out-of-vocabulary token beyond that (its generators reject such examples); here encoding raises
  `ValueError`. FP15 keeps the reference behaviour: beyond about 9.995e8 it writes ``NaN``.

Decoding is stricter than the reference: a matrix decodes only if the header is two dimension tokens, every number
follows the encoding's grammar exactly, and no token is left over. Anything else is *invalid* (`None` for one
matrix, ``valid=False`` in a batch), never a wrong matrix and never an exception.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_DIMENSION",
    "PAD_SYMBOL",
    "UNKNOWN_SYMBOL",
    "DecodedBatch",
    "EncodedBatch",
    "NumberEncoding",
    "PositionalEncoding",
    "SymbolicEncoding",
    "FP15Encoding",
    "available_encodings",
    "encoding_from_lawt",
    "get_encoding",
    "register_encoding",
]

MAX_DIMENSION = 100
"""Largest matrix dimension: tokens ``V1``..``V100`` (LAWT ``max_encoder_dimension``)."""

_DIMENSION_TOKENS = tuple(f"V{i}" for i in range(1, MAX_DIMENSION + 1))
_MIN_EXPONENT, _MAX_EXPONENT = -100, 100  # exponent tokens E-100..E100 (P10, P1000, B1999)
_EXPONENT_TOKENS = tuple(f"E{e}" for e in range(_MIN_EXPONENT, _MAX_EXPONENT + 1))
PAD_SYMBOL = -1
"""Local symbol index of "no symbol": padding of a symbol batch, and P10's unused digit slots."""

UNKNOWN_SYMBOL = -2
"""Local symbol index of a token the encoding does not know (it makes a sequence invalid)."""


@dataclass(frozen=True)
class EncodedBatch:
    """A batch of matrices written as local symbol indices.

    Attributes:
        symbols (`np.ndarray` of shape `(batch, max_length)`, int32):
            Indices into `NumberEncoding.symbols`, right-padded with `PAD_SYMBOL` (-1).
        lengths (`np.ndarray` of shape `(batch,)`, int64):
            Number of symbols of each sequence.
    """

    symbols: np.ndarray
    lengths: np.ndarray


@dataclass(frozen=True)
class DecodedBatch:
    """Matrices decoded from a batch of symbol sequences.

    Attributes:
        matrices (`list[np.ndarray | None]`):
            One float64 matrix of shape `(rows, cols)` per sequence, or `None` where the sequence is invalid.
        valid (`np.ndarray` of shape `(batch,)`, bool):
            Whether each sequence decoded to a matrix.
    """

    matrices: list[np.ndarray | None]
    valid: np.ndarray

    def stack(self, shape: tuple[int, int], fill: float = np.nan) -> np.ndarray:
        """Stack into one array, with `fill` for invalid matrices and matrices of another shape.

        Args:
            shape (`tuple[int, int]`): The expected `(rows, cols)`.
            fill (`float`, *optional*, defaults to NaN): Value of the entries of rejected matrices.

        Returns:
            `np.ndarray` of shape `(batch, rows, cols)`.
        """
        out = np.full((len(self.matrices), *shape), fill, dtype=np.float64)
        for i, m in enumerate(self.matrices):
            if m is not None and m.shape == shape:
                out[i] = m
        return out


def _check_real_finite(x: np.ndarray, what: str) -> np.ndarray:
    """Return `x` as float64, raising `ValueError` for complex, non-numeric or non-finite values."""
    arr = np.asarray(x)
    if np.iscomplexobj(arr):
        raise ValueError(f"{what} must be real; got complex values")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{what} must be numeric; got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} must be finite; got NaN or infinity")
    return arr


class NumberEncoding(ABC):
    """Base class of a number encoding: numbers <-> symbols, batched with numpy.

    A subclass defines its symbol table and two vectorized primitives:

    * `_encode_numbers(values)`: float64 numbers of shape `(n,)` -> symbol indices of shape `(n, k)` (k =
      `tokens_per_number`), with -1 in slots a number does not use (P10 writes zero with 3 of its 5 slots).
    * `_read_number(symbols, pos)`: read one number per row of `symbols` (shape `(batch, length)`) starting at
      column `pos` (shape `(batch,)`); return the values, a validity mask and the number of symbols consumed.

    The symbols always start with the dimension tokens ``V1``..``V100`` (local index ``n - 1`` for ``V{n}``).
    Users register their own subclasses with `register_encoding`.
    """

    name: str = ""
    tokens_per_number: int = 1

    def __init__(self) -> None:
        self.symbols: tuple[str, ...] = _DIMENSION_TOKENS + tuple(self._number_symbols())
        self.symbol_to_index: dict[str, int] = {s: i for i, s in enumerate(self.symbols)}
        if len(self.symbol_to_index) != len(self.symbols):
            raise ValueError(f"encoding {self.name!r} has duplicate symbols")

    # ----------------------------------------------------------------------------------------------- to subclass
    @abstractmethod
    def _number_symbols(self) -> list[str]:
        """All number symbols, in a fixed order (after the 100 dimension tokens)."""

    @abstractmethod
    def _encode_numbers(self, values: np.ndarray) -> np.ndarray:
        """Encode finite float64 numbers of shape `(n,)` to symbol indices of shape `(n, tokens_per_number)`."""

    @abstractmethod
    def _read_number(self, symbols: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Read one number per row at `pos`; `symbols` has at least `tokens_per_number` padding columns."""

    # ------------------------------------------------------------------------------------------------ properties
    @property
    def num_symbols(self) -> int:
        """Number of symbols this encoding can emit (dimension tokens included)."""
        return len(self.symbols)

    def sequence_length(self, rows: int, cols: int) -> int:
        """Maximum number of tokens of a `rows x cols` matrix (header included, no BOS/EOS)."""
        return 2 + rows * cols * self.tokens_per_number

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, symbols={self.num_symbols})"

    # ------------------------------------------------------------------------------------------------- batched
    def encode_batch(self, matrices: np.ndarray | Sequence[np.ndarray]) -> EncodedBatch:
        """Encode a batch of same-shape matrices to local symbol indices.

        Args:
            matrices (`np.ndarray` of shape `(batch, rows, cols)`, or a sequence of `(rows, cols)` arrays):
                Real, finite matrices with 1 to 100 rows and columns.

        Returns:
            `EncodedBatch`: symbols of shape `(batch, 2 + rows * cols * tokens_per_number)` (P10 may be shorter,
            right-padded with -1) and their lengths.

        Raises:
            ValueError: for non-finite or complex entries, wrong dimensions, or numbers outside the range.
        """
        x = _check_real_finite(matrices, "matrix entries")
        if x.ndim != 3:
            raise ValueError(f"expected a batch of matrices of shape (batch, rows, cols); got shape {x.shape}")
        batch, rows, cols = x.shape
        for d, what in ((rows, "rows"), (cols, "columns")):
            if not 1 <= d <= MAX_DIMENSION:
                raise ValueError(f"a matrix must have 1 to {MAX_DIMENSION} {what}; got {d}")
        slots = self._encode_numbers(x.reshape(-1)).reshape(batch, rows * cols * self.tokens_per_number)
        header = np.broadcast_to(np.array([rows - 1, cols - 1], dtype=np.int32), (batch, 2))
        symbols = np.concatenate([header, slots.astype(np.int32, copy=False)], axis=1)
        used = symbols != PAD_SYMBOL
        lengths = used.sum(axis=1).astype(np.int64)
        if not used.all():  # compact rows with unused slots (P10 zeros) to the left
            order = np.argsort(~used, axis=1, kind="stable")
            symbols = np.take_along_axis(symbols, order, axis=1)[:, : lengths.max()]
        return EncodedBatch(symbols=np.ascontiguousarray(symbols), lengths=lengths)

    def decode_batch(self, symbols: np.ndarray, lengths: np.ndarray | None = None) -> DecodedBatch:
        """Decode a batch of local symbol sequences to matrices.

        Args:
            symbols (`np.ndarray` of shape `(batch, length)`):
                Local symbol indices; negative values are padding (-1) or unknown tokens (-2).
            lengths (`np.ndarray` of shape `(batch,)`, *optional*):
                Sequence lengths; by default, everything up to the first -1.

        Returns:
            `DecodedBatch`: one matrix (or `None` if invalid) per sequence.
        """
        sym = np.asarray(symbols, dtype=np.int64)
        if sym.ndim != 2:
            raise ValueError(f"expected symbols of shape (batch, length); got shape {sym.shape}")
        batch, length = sym.shape
        if lengths is None:
            is_pad = sym == PAD_SYMBOL
            lengths = np.where(is_pad.any(axis=1), is_pad.argmax(axis=1), length) if length else np.zeros(batch)
        lengths = np.asarray(lengths, dtype=np.int64)
        # Pad on the right so that reading past a sequence's end reads padding, never out of bounds.
        padded = np.full((batch, length + self.tokens_per_number + 2), PAD_SYMBOL, dtype=np.int64)
        padded[:, :length] = np.where(np.arange(length)[None, :] < lengths[:, None], sym, PAD_SYMBOL)
        rows, cols = padded[:, 0] + 1, padded[:, 1] + 1
        ok = (lengths >= 2) & (rows >= 1) & (rows <= MAX_DIMENSION) & (cols >= 1) & (cols <= MAX_DIMENSION)
        count = np.where(ok, rows * cols, 0)
        values = np.zeros((batch, int(count.max(initial=0))), dtype=np.float64)
        pos = np.full(batch, 2, dtype=np.int64)
        for j in range(values.shape[1]):
            active = ok & (j < count)
            if not active.any():
                break
            val, good, used = self._read_number(padded, pos)
            ok &= ~active | good
            values[:, j] = np.where(active, val, 0.0)
            pos = np.where(active, pos + used, pos)
        ok &= pos == lengths  # no token left over
        matrices: list[np.ndarray | None] = [
            values[i, : count[i]].reshape(rows[i], cols[i]).copy() if ok[i] else None for i in range(batch)
        ]
        return DecodedBatch(matrices=matrices, valid=ok)

    def round(self, values: np.ndarray) -> np.ndarray:
        """Round numbers to what this encoding writes: `decode(encode(x))`, elementwise and batched.

        Args:
            values (`np.ndarray` of any shape): Real, finite numbers.

        Returns:
            `np.ndarray` of the same shape, float64.
        """
        x = _check_real_finite(values, "values")
        slots = self._encode_numbers(x.reshape(-1)).astype(np.int64)
        padded = np.full((slots.shape[0], slots.shape[1] + self.tokens_per_number + 2), PAD_SYMBOL, dtype=np.int64)
        used = slots != PAD_SYMBOL
        order = np.argsort(~used, axis=1, kind="stable")
        padded[:, : slots.shape[1]] = np.take_along_axis(slots, order, axis=1)
        val, _, _ = self._read_number(padded, np.zeros(slots.shape[0], dtype=np.int64))
        return val.reshape(x.shape)

    # --------------------------------------------------------------------------------------------- string API
    def to_indices(self, tokens: Sequence[str]) -> np.ndarray:
        """Map token strings to local symbol indices (-2 for tokens this encoding does not know)."""
        return np.array([self.symbol_to_index.get(t, UNKNOWN_SYMBOL) for t in tokens], dtype=np.int64)

    def to_tokens(self, indices: np.ndarray) -> list[str]:
        """Map local symbol indices (padding excluded) to token strings."""
        return [self.symbols[i] for i in np.asarray(indices).reshape(-1) if i >= 0]

    def encode_number(self, x: float) -> list[str]:
        """Write one number, e.g. ``P1000.encode_number(3.14159) == ["+", "314", "E-2"]``.

        Raises:
            ValueError: for NaN, infinity, complex numbers, or numbers outside the encoding's range.
        """
        if isinstance(x, complex | np.complexfloating):
            raise ValueError(f"cannot encode complex number {x!r}")
        arr = _check_real_finite(np.array([x]), "number")
        return self.to_tokens(self._encode_numbers(arr))

    def encode_matrix(self, matrix: np.ndarray | Sequence[Sequence[float]]) -> list[str]:
        """Write a matrix: ``V{rows} V{cols}`` then the coefficients, row by row.

        Args:
            matrix (`np.ndarray` of shape `(rows, cols)`): A real, finite matrix (a 1-D array is a column vector).

        Returns:
            `list[str]`: the tokens.
        """
        m = _check_real_finite(matrix, "matrix entries")
        if m.ndim == 1:
            m = m[:, None]
        if m.ndim != 2:
            raise ValueError(f"expected a 2-D matrix; got an array of shape {m.shape}")
        enc = self.encode_batch(m[None])
        return self.to_tokens(enc.symbols[0, : enc.lengths[0]])

    def decode_matrix(self, tokens: Sequence[str] | str) -> np.ndarray | None:
        """Read a matrix back from its tokens (a list of strings, or one space-separated string).

        Returns:
            `np.ndarray` of shape `(rows, cols)`, or `None` if the tokens are not exactly one well-formed matrix
            (bad header, unknown token, malformed number, too few or too many tokens). Never raises for bad tokens.
        """
        toks = tokens.split() if isinstance(tokens, str) else [str(t) for t in tokens]
        if not toks:
            return None
        idx = self.to_indices(toks)
        return self.decode_batch(idx[None], np.array([len(idx)])).matrices[0]


# ----------------------------------------------------------------------------------------------- shared helpers
def _gather(symbols: np.ndarray, pos: np.ndarray, offset: int) -> np.ndarray:
    """`symbols[i, pos[i] + offset]` for every row i."""
    return np.take_along_axis(symbols, (pos + offset)[:, None], axis=1)[:, 0]


def _lookup(table: np.ndarray, idx: np.ndarray, missing: float | int) -> np.ndarray:
    """`table[idx]` where `0 <= idx < len(table)`, else `missing`."""
    inside = (idx >= 0) & (idx < len(table))
    return np.where(inside, table[np.clip(idx, 0, len(table) - 1)], missing)


# Powers of ten as Python computes ``10.0 ** k`` (C pow), so that vectorized rounding matches the reference's floats.
_POW10 = np.array([10.0**k if k < 309 else np.inf for k in range(-330, 330)])


def _pow10(k: np.ndarray) -> np.ndarray:
    """10.0**k for integer arrays, clipped to [-330, 329]."""
    return _POW10[np.clip(k, -330, 329) + 330]


def _scientific3(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mantissa and decimal exponent of ``"%.2e" % a`` for non-negative finite `a`, vectorized.

    Computes ``m`` in 100..999 and ``d`` with a ~= m * 10**(d - 2), rounding the exact binary value half-to-even as C's
    printf does. The float estimate is exact except within ~1e-9 of a rounding tie; those rare elements are formatted
    with Python's formatting to be exact. Zero (and |a| < 1e-150) gives (0, 0).

    Returns:
        `(mantissa, exponent)`: int64 arrays shaped like `a`.
    """
    m = np.zeros(a.shape, dtype=np.int64)
    d = np.zeros(a.shape, dtype=np.int64)
    nz = a >= 1e-150  # anything smaller is written as zero by every encoding that uses this (E < -100)
    if not nz.any():
        return m, d
    v = a[nz]
    dd = np.floor(np.log10(v)).astype(np.int64)
    scaled = v * _pow10(2 - dd)
    # Correct log10's last-bit errors near powers of ten.
    low, high = scaled < 100.0, scaled >= 1000.0
    dd = dd - low + high
    scaled = np.where(low | high, v * _pow10(2 - dd), scaled)
    mm = np.rint(scaled)
    tie = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-9
    for i in np.flatnonzero(tie):  # rare: format exactly
        mant, exp = f"{v[i]:.2e}".split("e")  # Python's formatting is C printf's "%.2e"
        mm[i], dd[i] = int(mant.replace(".", "")), int(exp)
    carry = mm >= 1000  # 9.996 -> 1.00e1
    mm = np.where(carry, 100, mm)
    dd = dd + carry
    m[nz], d[nz] = mm.astype(np.int64), dd
    return m, d


def _token_exponents(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shared rounding of P10, P1000 and B1999: (mantissa 0..999, token exponent, is_zero) of |values|.

    The token exponent is the decimal exponent minus 2 (3.14 -> 314 E-2). Below E-100 the number is written as zero;
    above E100 it has no token, and `ValueError` is raised.
    """
    m, d = _scientific3(np.abs(values))
    e = d - 2
    zero = (m == 0) | (e < _MIN_EXPONENT)
    if (e[~zero] > _MAX_EXPONENT).any():
        worst = np.abs(values[~zero][e[~zero] > _MAX_EXPONENT]).max()
        raise ValueError(
            f"{worst:.3e} is outside the range of this encoding: exponent tokens stop at E{_MAX_EXPONENT} "
            f"(|x| < 9.995e{_MAX_EXPONENT + 2})"
        )
    return np.where(zero, 0, m), np.where(zero, 0, e), zero


# ----------------------------------------------------------------------------------------------- P10 and P1000
class PositionalEncoding(NumberEncoding):
    """P10 / P1000: a sign token, the 3-digit mantissa in base 10 or 1000, and an exponent token.

    P1000 writes 3.14159 as ``+ 314 E-2``; P10 as ``+ 3 1 4 E-2``. Zero (and anything below 1e-98) is ``+ 0 E0``.
    """

    def __init__(self, base: int) -> None:
        if base not in (10, 1000):
            raise ValueError(f"positional encodings with three significant digits use base 10 or 1000; got {base}")
        self.base = base
        self.digits = 3 if base == 10 else 1
        self.name = f"P{base}"
        self.tokens_per_number = 2 + self.digits
        super().__init__()
        n = len(_DIMENSION_TOKENS)
        self._plus, self._minus = n, n + 1
        self._digit0 = n + 2
        self._exp0 = self._digit0 + base
        # Decoding tables over local indices: digit value or -1, exponent value or a sentinel outside -100..100.
        self._digit_value = np.full(self.num_symbols, -1, dtype=np.int64)
        self._digit_value[self._digit0 : self._exp0] = np.arange(base)
        self._exp_value = np.full(self.num_symbols, 10_000, dtype=np.int64)
        self._exp_value[self._exp0 :] = np.arange(_MIN_EXPONENT, _MAX_EXPONENT + 1)

    def _number_symbols(self) -> list[str]:
        return ["+", "-", *(str(i) for i in range(self.base)), *_EXPONENT_TOKENS]

    def _encode_numbers(self, values: np.ndarray) -> np.ndarray:
        m, e, zero = _token_exponents(values)
        # The sign is "+" for zero and for anything written as zero (the reference tests value >= 0 after zeroing).
        negative = (values < 0) & ~zero
        out = np.full((values.size, self.tokens_per_number), PAD_SYMBOL, dtype=np.int64)
        out[:, 0] = np.where(negative, self._minus, self._plus)
        if self.digits == 1:
            out[:, 1] = self._digit0 + m
        else:  # three base-10 digits, most significant first; zero is the single digit "0"
            out[:, 1] = self._digit0 + m // 100
            out[:, 2] = np.where(zero, PAD_SYMBOL, self._digit0 + (m // 10) % 10)
            out[:, 3] = np.where(zero, PAD_SYMBOL, self._digit0 + m % 10)
        out[:, -1] = self._exp0 + (e - _MIN_EXPONENT)
        if self.digits > 1:  # move the exponent next to the single "0" digit of zeros
            out[zero, 2] = out[zero, -1]
            out[zero, -1] = PAD_SYMBOL
        return out

    def _read_number(self, symbols: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sign_tok = _gather(symbols, pos, 0)
        ok = (sign_tok == self._plus) | (sign_tok == self._minus)
        sign = np.where(sign_tok == self._minus, -1.0, 1.0)
        first = _lookup(self._digit_value, _gather(symbols, pos, 1), -1)
        ok &= first >= 0
        if self.digits == 1:
            mant, used_digits = first, np.ones_like(pos)
        else:
            # Either the single digit "0", or exactly three digits with a non-zero leading digit.
            d2 = _lookup(self._digit_value, _gather(symbols, pos, 2), -1)
            d3 = _lookup(self._digit_value, _gather(symbols, pos, 3), -1)
            is_zero = first == 0
            ok &= is_zero | ((d2 >= 0) & (d3 >= 0))
            mant = np.where(is_zero, 0, first * 100 + d2 * 10 + d3)
            used_digits = np.where(is_zero, 1, 3)
        exp = _lookup(self._exp_value, _gather(symbols, pos, 1 + used_digits), 10_000)
        ok &= exp <= _MAX_EXPONENT
        exp = np.where(ok, exp, 0)
        value = sign * mant * _pow10(exp)
        return np.where(ok, value, np.nan), ok, 2 + used_digits


# ------------------------------------------------------------------------------------------------------ B1999
class SymbolicEncoding(NumberEncoding):
    """B1999: a signed mantissa token and an exponent token. 3.14159 is ``N314 E-2``; zero is ``N0 E0``.

    The vocabulary holds ``N-1000``..``N1000`` like the reference, although ``N+-1000`` is never written.
    """

    name = "B1999"
    tokens_per_number = 2

    def __init__(self) -> None:
        super().__init__()
        n = len(_DIMENSION_TOKENS)
        self._mant0 = n + 1000  # local index of N0
        self._exp0 = n + 2001
        self._mant_value = np.full(self.num_symbols, 10_000, dtype=np.int64)
        self._mant_value[n : n + 2001] = np.arange(-1000, 1001)
        self._exp_value = np.full(self.num_symbols, 10_000, dtype=np.int64)
        self._exp_value[self._exp0 :] = np.arange(_MIN_EXPONENT, _MAX_EXPONENT + 1)

    def _number_symbols(self) -> list[str]:
        return [*(f"N{i}" for i in range(-1000, 1001)), *_EXPONENT_TOKENS]

    def _encode_numbers(self, values: np.ndarray) -> np.ndarray:
        m, e, _ = _token_exponents(values)
        signed = np.where(values < 0, -m, m)
        return np.stack([self._mant0 + signed, self._exp0 + (e - _MIN_EXPONENT)], axis=1)

    def _read_number(self, symbols: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mant = _lookup(self._mant_value, _gather(symbols, pos, 0), 10_000)
        exp = _lookup(self._exp_value, _gather(symbols, pos, 1), 10_000)
        ok = (mant <= 1000) & (exp <= _MAX_EXPONENT)
        value = np.where(ok, mant, 0) * _pow10(np.where(ok, exp, 0))
        return np.where(ok, value, np.nan), ok, np.full_like(pos, 2)


# ------------------------------------------------------------------------------------------------------- FP15
class FP15Encoding(NumberEncoding):
    """FP15: one token per number, ``N{m}e{e}`` with value m * 10**(e - 9) (paper section 1; LAWT ``FPSymbol``).

    Normal numbers have m in 100..999 and e in 0..15 (1.00e-7 to 9.99e8); below 1e-7, subnormals ``N-99e0``..``N99e0``
    (resolution 1e-9); ``N0e0`` is zero. Numbers above about 9.995e8 are written ``NaN``/``-NaN`` and decode to +-1e9.
    Rounding is the reference's: round half up on the float product, not correctly rounded decimal.
    """

    name = "FP15"
    tokens_per_number = 1
    precision, max_exponent = 2, 16
    limit = 1e9  # 10 ** ((precision + max_exponent) / 2)
    scale = 1e7  # 10 ** (logrange - precision)

    def __init__(self) -> None:
        super().__init__()
        n = len(_DIMENSION_TOKENS)
        self._nan, self._neg_nan = n, n + 1
        self._sub0 = n + 2 + 99  # local index of N0e0
        self._normal0 = n + 2 + 199
        # Value of every symbol, computed once exactly as the reference does: (m * 10**e) / 1e9 in Python.
        values = np.full(self.num_symbols, np.nan)
        for i, s in enumerate(self.symbols[n:], start=n):
            if s in ("NaN", "-NaN"):
                values[i] = self.limit if s == "NaN" else -self.limit
            else:
                m, e = s[1:].split("e")
                values[i] = (int(m) * 10 ** int(e)) / 10**9
        self._value = values
        self._scales = np.array([10 ** (self.precision - e) for e in range(self.max_exponent + 2)], dtype=np.float64)

    def _number_symbols(self) -> list[str]:
        syms = ["NaN", "-NaN", *(f"N{m}e0" for m in range(-99, 100))]
        for e in range(self.max_exponent):
            for m in range(100, 1000):
                syms += [f"N{m}e{e}", f"N-{m}e{e}"]
        return syms

    def _encode_numbers(self, values: np.ndarray) -> np.ndarray:
        a = np.abs(values)
        v = a * self.scale
        e = np.zeros(a.shape, dtype=np.int64)
        pos = v >= 1.0
        if pos.any():  # e = floor(log10 v), corrected for log10's last-bit errors
            ee = np.floor(np.log10(v[pos])).astype(np.int64)
            ee = ee - (v[pos] < _pow10(ee)) + (v[pos] >= _pow10(ee + 1))
            e[pos] = ee
        e = np.minimum(e, self.max_exponent + 1)
        # Capped before the cast: a number past the range (written NaN below) would overflow int64 with a warning.
        m = np.floor(np.minimum(v * self._scales[e], 1e4) + 0.5).astype(np.int64)
        carry = m >= 1000
        m = np.where(carry, 100, m)
        e = e + carry
        overflow = (a > self.limit) | (e >= self.max_exponent)
        negative = values < 0
        normal_idx = self._normal0 + (np.clip(e, 0, self.max_exponent - 1) * 900 + np.clip(m - 100, 0, 899)) * 2
        idx = np.where(m < 100, self._sub0 + np.where(negative, -m, m), normal_idx + negative)
        idx = np.where(overflow, np.where(values > 0, self._nan, self._neg_nan), idx)
        return idx[:, None]

    def _read_number(self, symbols: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        value = _lookup(self._value, _gather(symbols, pos, 0), np.nan)
        return value, ~np.isnan(value), np.ones_like(pos)


# ---------------------------------------------------------------------------------------------------- registry
_REGISTRY: dict[str, Callable[[], NumberEncoding]] = {}
_INSTANCES: dict[str, NumberEncoding] = {}
_LAWT_SPECS = {"float,2,10": "P10", "float,2,1000": "P1000", "floatsymbol,2": "B1999", "FP15,2,16": "FP15"}


def register_encoding(name: str, factory: Callable[[], NumberEncoding], *, overwrite: bool = False) -> None:
    """Register a number encoding under `name` (case-insensitive), so that `get_encoding(name)` finds it.

    Args:
        name (`str`): The encoding's name, e.g. ``"P1000"``.
        factory (`Callable[[], NumberEncoding]`): A class or function returning the encoding.
        overwrite (`bool`, *optional*, defaults to `False`): Replace an existing registration.
    """
    key = name.lower()
    if key in _REGISTRY and not overwrite:
        raise ValueError(f"an encoding named {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[key] = factory
    _INSTANCES.pop(key, None)


def available_encodings() -> list[str]:
    """Names of the registered encodings."""
    return [get_encoding(k).name or k for k in _REGISTRY]


def get_encoding(name: str | NumberEncoding) -> NumberEncoding:
    """Return the registered encoding called `name` (``P10``, ``P1000``, ``B1999``, ``FP15``; case-insensitive).

    Raises:
        ValueError: if no encoding has that name; the message lists the valid names.
    """
    if isinstance(name, NumberEncoding):
        return name
    key = str(name).lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown encoding {name!r}; valid names: {', '.join(available_encodings())}")
    if key not in _INSTANCES:
        enc = _REGISTRY[key]()
        enc.name = enc.name or name
        _INSTANCES[key] = enc
    return _INSTANCES[key]


def encoding_from_lawt(spec: str) -> NumberEncoding:
    """The encoding named by a reference-code configuration string such as ``"float,2,1000"`` or ``"FP15,2,16"``."""
    if spec not in _LAWT_SPECS:
        raise ValueError(f"unsupported reference encoding {spec!r}; supported: {', '.join(_LAWT_SPECS)}")
    return get_encoding(_LAWT_SPECS[spec])


register_encoding("P10", lambda: PositionalEncoding(10))
register_encoding("P1000", lambda: PositionalEncoding(1000))
register_encoding("B1999", SymbolicEncoding)
register_encoding("FP15", FP15Encoding)
