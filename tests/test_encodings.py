"""Number encodings: token formats against an independent scalar re-statement of docs/encodings.md."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linalg_transformers.encodings import (
    FP15Encoding,
    PositionalEncoding,
    available_encodings,
    encoding_from_lawt,
    get_encoding,
    register_encoding,
)

NAMES = ["P10", "P1000", "B1999", "FP15"]


# ------------------------------------------------------------------ independent scalar statement of the formats
def spec_tokens(name: str, x: float) -> list[str]:
    """Tokens of x written from the paper's description (string formatting, one number at a time)."""
    if name == "FP15":
        if abs(x) > 1e9:
            return ["NaN" if x > 0 else "-NaN"]
        v = abs(x) * 1e7
        if v == 0:
            return ["N0e0"]
        e = max(int(math.floor(math.log10(v))), 0)
        m = int(v * (10 ** (2 - e)) + 0.5)
        if m == 1000:
            m, e = 100, e + 1
        if e >= 16:
            return ["NaN" if x > 0 else "-NaN"]
        return [f"N{'-' if x < 0 and m else ''}{m}e{e}"]
    mant, exp = f"{abs(x):.2e}".split("e")
    m, e = int(mant.replace(".", "")), int(exp) - 2
    zero = m == 0 or e < -100
    if zero:
        m, e = 0, 0
    if name == "B1999":
        return [f"N{-m if x < 0 and not zero else m}", f"E{e}"]
    sign = "-" if x < 0 and not zero else "+"
    digits = [str(m)] if name == "P1000" else list(str(m))
    return [sign, *digits, f"E{e}"]


def test_paper_examples():
    cases = {
        "P10": (["+", "3", "1", "4", "E-2"], ["-", "3", "1", "4", "E-2"], ["+", "0", "E0"]),
        "P1000": (["+", "314", "E-2"], ["-", "314", "E-2"], ["+", "0", "E0"]),
        "B1999": (["N314", "E-2"], ["N-314", "E-2"], ["N0", "E0"]),
        "FP15": (["N314e7"], ["N-314e7"], ["N0e0"]),
    }
    for name, (pos, neg, zero) in cases.items():
        enc = get_encoding(name)
        assert enc.encode_number(3.14159) == pos
        assert enc.encode_number(-3.14159) == neg
        assert enc.encode_number(0.0) == zero
        assert enc.encode_number(-0.0) == zero


def test_carry_tiny_and_overflow():
    assert get_encoding("P1000").encode_number(9.996) == ["+", "100", "E-1"]
    assert get_encoding("P10").encode_number(-9.996) == ["-", "1", "0", "0", "E-1"]
    assert get_encoding("B1999").encode_number(9.996) == ["N100", "E-1"]
    # Below E-100 the number is written as zero; rounding up into range first counts (9.996e-99 -> 1.00e-98).
    assert get_encoding("P1000").encode_number(-1e-99) == ["+", "0", "E0"]
    assert get_encoding("P1000").encode_number(9.996e-99) == ["+", "100", "E-100"]
    fp15 = get_encoding("FP15")
    assert fp15.encode_number(3e-8) == ["N30e0"] and fp15.encode_number(-3e-8) == ["N-30e0"]
    assert fp15.encode_number(-4e-10) == ["N0e0"]  # rounds to zero: no minus sign
    assert fp15.encode_number(9.996e8) == ["NaN"] and fp15.encode_number(-5e9) == ["-NaN"]
    assert fp15.decode_matrix(["V1", "V1", "-NaN"])[0, 0] == -1e9


def test_out_of_range_and_invalid_numbers_raise():
    for name in ["P10", "P1000", "B1999"]:
        with pytest.raises(ValueError, match="outside the range"):
            get_encoding(name).encode_number(1e103)
        assert get_encoding(name).encode_number(9.99e102)[-1] == "E100"
    for name in NAMES:
        enc = get_encoding(name)
        for bad in (float("nan"), float("inf"), -float("inf"), 1 + 2j):
            with pytest.raises(ValueError):
                enc.encode_number(bad)
        with pytest.raises(ValueError, match="finite"):
            enc.encode_matrix(np.array([[1.0, np.nan]]))
        with pytest.raises(ValueError, match="real"):
            enc.encode_matrix(np.array([[1.0, 2j]]))
        with pytest.raises(ValueError, match="rows"):
            enc.encode_matrix(np.zeros((101, 1)))


def test_registry():
    assert set(NAMES) <= set(available_encodings())
    assert get_encoding("p1000") is get_encoding("P1000")
    with pytest.raises(ValueError, match="P10, P1000, B1999, FP15"):
        get_encoding("P100")
    assert encoding_from_lawt("float,2,1000").name == "P1000"
    assert encoding_from_lawt("FP15,2,16").name == "FP15"
    with pytest.raises(ValueError):
        register_encoding("P10", lambda: PositionalEncoding(10))
    register_encoding("my-fp15", FP15Encoding, overwrite=True)
    assert get_encoding("MY-FP15").encode_number(1.0) == ["N100e7"]


# ------------------------------------------------------------------------------- exhaustive symbol round trips
def canonical_numbers(name: str) -> list[list[str]]:
    """Every number written exactly as the encoder writes it: covers every symbol the encoder emits."""
    exps = [f"E{e}" for e in range(-100, 101)]
    if name == "FP15":
        enc = get_encoding("FP15")
        return [[s] for s in enc.symbols[100:]]
    out = []
    for m in range(100, 1000):
        for e in exps[:: 1 if m in (100, 999, 314) else 50]:
            for neg in (False, True):
                if name == "B1999":
                    out.append([f"N{-m if neg else m}", e])
                elif name == "P1000":
                    out.append(["-" if neg else "+", str(m), e])
                else:
                    out.append(["-" if neg else "+", *str(m), e])
    out.append(["N0", "E0"] if name == "B1999" else ["+", "0", "E0"])
    return out


@pytest.mark.parametrize("name", NAMES)
def test_exhaustive_round_trip(name):
    enc = get_encoding(name)
    numbers = canonical_numbers(name)
    emitted = {t for n in numbers for t in n}
    if name in ("P10", "P1000"):  # every symbol appears, but P1000's mantissas 1..99, which are never written
        never = {str(i) for i in range(1, 100)} if name == "P1000" else set()
        assert emitted == set(enc.symbols[100:]) - never
    for tokens in numbers:
        value = enc.decode_matrix(["V1", "V1", *tokens])
        assert value is not None, tokens
        assert enc.encode_number(float(value[0, 0])) == tokens, tokens
    # The batched path agrees: the whole set as one column vector per 100 numbers.
    values = np.array([enc.decode_matrix(["V1", "V1", *t])[0, 0] for t in numbers])
    n = len(values) // 100 * 100
    batch = values[:n].reshape(-1, 100, 1)
    encoded = enc.encode_batch(batch)
    decoded = enc.decode_batch(encoded.symbols, encoded.lengths)
    assert decoded.valid.all()
    np.testing.assert_array_equal(np.stack(decoded.matrices), batch)
    np.testing.assert_array_equal(enc.round(values), values)


# ---------------------------------------------------------------------------------------------- property tests
magnitudes = st.builds(
    lambda m, e, s: s * m * 10.0**e,
    st.floats(1.0, 10.0, exclude_max=True),
    st.integers(-12, 12),
    st.sampled_from([-1.0, 1.0]),
)


@settings(max_examples=400, deadline=None)
@given(x=st.one_of(magnitudes, st.floats(-1e12, 1e12, allow_nan=False), st.just(0.0)))
def test_matches_specification(x):
    for name in NAMES:
        assert get_encoding(name).encode_number(x) == spec_tokens(name, x), (name, x)


@settings(max_examples=300, deadline=None)
@given(x=st.one_of(magnitudes, st.floats(-1e8, 1e8, allow_nan=False, allow_subnormal=False)))
def test_decoded_within_half_unit_of_third_digit(x):
    for name in NAMES:
        enc = get_encoding(name)
        value = enc.round(np.array([x]))[0]
        if x == 0 or abs(x) < 1e-98:
            assert value == 0
            continue
        if name == "FP15" and abs(x) >= 9.995e8:  # FP15 overflow: NaN tokens, decoded as +-1e9
            assert value == math.copysign(1e9, x)
            continue
        if name == "FP15" and abs(x) < 1e-7:  # subnormals: fixed resolution 1e-9
            assert abs(value - x) <= 0.5e-9 * (1 + 1e-9)
            continue
        unit = 10.0 ** (math.floor(math.log10(abs(x))) - 2)
        assert abs(value - x) <= 0.5 * unit * (1 + 1e-9), (name, x, value)


def test_vectorized_matches_scalar_on_random_batches():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 4, 3)) * 10.0 ** rng.integers(-10, 10, (200, 4, 3))
    x[0, 0, 0] = 0.0
    for name in NAMES:
        enc = get_encoding(name)
        batch = enc.encode_batch(x)
        for i in range(0, 200, 17):
            tokens = enc.to_tokens(batch.symbols[i, : batch.lengths[i]])
            assert tokens == enc.encode_matrix(x[i])
            assert tokens[:2] == ["V4", "V3"]
        decoded = enc.decode_batch(batch.symbols, batch.lengths)
        np.testing.assert_array_equal(np.stack(decoded.matrices), enc.round(x))


# ------------------------------------------------------------------------------------------- malformed tokens
@pytest.mark.parametrize("name", NAMES)
def test_malformed_is_invalid(name):
    enc = get_encoding(name)
    good = enc.encode_matrix(np.array([[1.5, -2.0], [0.0, 7.25]]))
    assert enc.decode_matrix(good) is not None
    bad_cases = [
        [],
        good[:1],
        good[:-1],  # truncated
        good + good[2:3],  # trailing tokens
        ["V2", "X2", *good[2:]],
        ["V0", "V2", *good[2:]],
        [good[0], good[1], "junk", *good[3:]],
        ["V2", "V2", *good[2:4]],
    ]
    for tokens in bad_cases:
        assert enc.decode_matrix(tokens) is None, tokens
    assert enc.decode_matrix(" ".join(good)) is not None


@pytest.mark.parametrize("name", NAMES)
def test_fuzzed_decoding_never_raises(name):
    enc = get_encoding(name)
    rng = np.random.default_rng(1)
    pool = list(enc.symbols) + ["<s>", "</s>", "", "E", "N", "V", "Vx", "N1e", "Nae0", "E1000", "+", "-"]
    valid = 0
    for _ in range(1500):
        n = int(rng.integers(0, 12))
        tokens = [pool[i] for i in rng.integers(0, len(pool), n)]
        if rng.random() < 0.5:
            tokens = ["V1", f"V{rng.integers(1, 3)}"] + tokens
        out = enc.decode_matrix(tokens)
        valid += out is not None
        if out is not None:
            assert out.ndim == 2 and np.isfinite(out).all()
    ids = rng.integers(-3, enc.num_symbols + 5, (300, 12))
    enc.decode_batch(ids)  # never raises on arbitrary ids
