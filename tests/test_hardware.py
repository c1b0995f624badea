import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from linalg_transformers import hardware  # noqa: E402


def test_matmul_flops_counts_two_flops_per_multiply_add(monkeypatch):
    times = iter([0.0, 1.0] * 10)  # every timed product takes one "second"
    monkeypatch.setattr(hardware.time, "perf_counter", lambda: next(times))
    assert hardware.matmul_flops(torch.float32, (4, 5, 6), repeats=3) == 2 * 4 * 5 * 6


@pytest.mark.parametrize(
    ("amx", "bf16_rate", "fp32_rate", "expected"),
    [
        (True, 1.0, 10.0, True),  # AMX wins without timing
        (False, 3.0, 1.0, True),  # measured clearly faster (the AMD EPYC of this project: 0.41 vs 0.14 TFLOP/s)
        (False, 1.1, 1.0, False),  # a near tie stays fp32
        (False, 0.5, 1.0, False),  # slower (a Xeon without AMX: 0.19 vs 0.38 TFLOP/s)
    ],
)
def test_bf16_choice_follows_the_measurement(monkeypatch, amx, bf16_rate, fp32_rate, expected):
    hardware.cpu_bf16_is_faster.cache_clear()
    monkeypatch.setattr(hardware, "cpu_has_amx", lambda: amx)
    rates = {torch.bfloat16: bf16_rate, torch.float32: fp32_rate}
    monkeypatch.setattr(hardware, "matmul_flops", lambda dtype, shape=None, repeats=5: rates[dtype])
    monkeypatch.setattr(hardware.torch.cuda, "is_available", lambda: False)
    try:
        assert hardware.cpu_bf16_is_faster() is expected
        assert hardware.default_mixed_precision() == ("bf16" if expected else "no")
    finally:
        hardware.cpu_bf16_is_faster.cache_clear()


def test_the_real_measurement_runs_and_is_cached():
    first = hardware.cpu_bf16_is_faster()
    assert isinstance(first, bool)
    assert hardware.cpu_bf16_is_faster() is first
    assert hardware.default_mixed_precision() in ("bf16", "no", "fp16")


def test_tune_malloc_is_accepted_by_glibc():
    import platform

    result = hardware.tune_malloc()
    assert isinstance(result, bool)
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert result
