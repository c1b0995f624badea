"""What the machine can do fast: the mixed-precision choice for training and inference.

On CPUs the CPU flags do not decide whether bf16 pays off, so we measure it. Figures from this project's machines
(2048^3 matmul on two cores, `benchmarks/bench_training.py` prints both):

* a Xeon with AVX512-BF16 but no AMX: bf16 0.19 TFLOP/s, fp32 0.38 TFLOP/s (bf16 is *slower*);
* an AMD EPYC with AVX512-BF16: bf16 0.41 TFLOP/s, fp32 0.14 to 0.19 TFLOP/s (bf16 is faster);
* a Xeon with AMX: bf16 2.4 TFLOP/s (docs/training.md#hardware-and-precision), fp32 0.39 TFLOP/s (a lab note).

`cpu_bf16_is_faster` times a matmul of the size of a small model's layers once per process (about 0.1 s), and the
CPU default is bf16 only where it won by a clear margin.
"""

from __future__ import annotations

import ctypes
import functools
import time
from pathlib import Path

import torch

__all__ = ["cpu_has_amx", "cpu_bf16_is_faster", "default_mixed_precision", "matmul_flops", "tune_malloc"]

BF16_MARGIN = 1.2
"""bf16 must be this many times faster than fp32 to become the CPU default (a near tie stays fp32: exact and safe)."""


@functools.cache
def cpu_has_amx() -> bool:
    """Whether this CPU advertises AMX bf16 tiles (Linux ``/proc/cpuinfo`` flag ``amx_bf16``)."""
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


def matmul_flops(dtype: torch.dtype, shape: tuple[int, int, int] = (2048, 2048, 2048), repeats: int = 5) -> float:
    """Measured FLOP/s of a ``(m, k) @ (k, n)`` CPU matmul in `dtype` (best of `repeats`, after one warm-up).

    Args:
        dtype (`torch.dtype`): `torch.float32` or `torch.bfloat16`.
        shape (`tuple[int, int, int]`, *optional*): ``(m, k, n)``.
        repeats (`int`, *optional*, defaults to 5): Timed repetitions.

    Returns:
        `float`: FLOP/s (``2 m k n`` per product).
    """
    m, k, n = shape
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2.0 * m * k * n / best


@functools.cache
def cpu_bf16_is_faster() -> bool:
    """Whether bf16 matmuls beat fp32 by `BF16_MARGIN` on this CPU (AMX counts as a win without timing).

    Timed on a ``(4096, 256) @ (256, 1024)`` product, the shape of a 256-d model's feed-forward layer on a batch.
    """
    if cpu_has_amx():
        return True
    shape = (4096, 256, 1024)
    return matmul_flops(torch.bfloat16, shape) > BF16_MARGIN * matmul_flops(torch.float32, shape)


def default_mixed_precision() -> str:
    """``"bf16"`` where it is fast, ``"fp16"`` on GPUs without bf16, else ``"no"``.

    Fast means CUDA with bf16 support, or a CPU where `cpu_bf16_is_faster` measured bf16 ahead.
    """
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_bf16_is_faster() else "no"


def tune_malloc() -> bool:
    """Keep freed memory in the process (glibc): large tensors then reuse warm pages instead of page-faulting.

    With glibc's defaults, every activation or gradient above the (dynamic) mmap threshold is a fresh ``mmap`` whose
    pages fault in on first touch, then go back to the kernel when freed: a CPU training step pays that for every
    large tensor. This sets ``M_MMAP_THRESHOLD`` to its maximum (32 MiB), ``M_TRIM_THRESHOLD`` to 2 GiB and
    ``M_TOP_PAD`` to 256 MiB, the same as the environment variables ``MALLOC_MMAP_THRESHOLD_=33554432
    MALLOC_TRIM_THRESHOLD_=2147483647 MALLOC_TOP_PAD_=268435456``. Call it once, early. Measured on the demo run
    (5x5 transposition, one thread): 50 steps in 17 s instead of 21 s.

    Returns:
        `bool`: whether glibc accepted the three settings (`False` where the C library is not glibc).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    ok = mallopt(m_mmap_threshold, 32 << 20) == 1
    ok &= mallopt(m_trim_threshold, (1 << 31) - 1) == 1
    ok &= mallopt(m_top_pad, 256 << 20) == 1
    return bool(ok)
