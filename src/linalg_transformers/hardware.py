"""What the machine can do fast: the mixed-precision and attention-kernel choices for training.

On CPUs the CPU flags do not decide whether bf16 pays off, so we measure it. Figures from this project's machines
(2048^3 matmul on two cores, `benchmarks/bench_training.py` prints both):

* a Xeon with AVX512-BF16 but no AMX: bf16 0.19 TFLOP/s, fp32 0.38 TFLOP/s (bf16 is *slower*);
* an AMD EPYC with AVX512-BF16: bf16 0.41 TFLOP/s, fp32 0.14 to 0.19 TFLOP/s (bf16 is faster);
* a Xeon with AMX: bf16 2.4 TFLOP/s (docs/training.md#hardware-and-precision), fp32 0.39 TFLOP/s (a lab note).

`cpu_bf16_is_faster` times a matmul of the size of a small model's layers once per process (about 0.1 s), and the
CPU default is bf16 only where it won by a clear margin.

The attention kernel is measured too (`default_attention`): on an AMX Xeon (2026-12-02, one thread), torch's fused
SDPA kernel spent 35% of a bf16 training step of the 256-d 4/1 eigenvalue model in its backward pass (50 ms a call
for 27-token sequences), and the plain matmul-softmax attention trained the model at 273 examples/s against 123
(`benchmarks/bench_training.py` prints both).
"""

from __future__ import annotations

import ctypes
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = [
    "ATTENTION_MARGIN",
    "ATTENTION_PROBE_SHAPE",
    "attention_seconds",
    "best_time",
    "cpu_bf16_is_faster",
    "cpu_has_amx",
    "cpu_name",
    "default_attention",
    "default_mixed_precision",
    "PEAK_SHAPE",
    "PROBE_SHAPE",
    "MatmulPeak",
    "matmul_flops",
    "matmul_peak",
    "tune_malloc",
]

BF16_MARGIN = 1.2
"""bf16 must be this many times faster than fp32 to become the CPU default (a near tie stays fp32: exact and safe)."""


@functools.cache
def cpu_has_amx() -> bool:
    """Whether this CPU advertises AMX bf16 tiles (Linux ``/proc/cpuinfo`` flag ``amx_bf16``)."""
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


def cpu_name() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), or ``"CPU"`` where it cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU"


def best_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Fastest of `repeats` timed calls of `fn`, after `warmup` untimed ones.

    The minimum is the time least disturbed by other work on the machine.

    Args:
        fn (`Callable[[], object]`): What to time.
        repeats (`int`): Timed calls.
        warmup (`int`, *optional*, defaults to 1): Untimed calls first.

    Returns:
        `float`: seconds.
    """
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


PEAK_SHAPE = (2048, 2048, 2048)
"""The matmul whose rate the benchmarks report as this CPU's peak (large enough for AMX and AVX-512 to run full)."""

PROBE_SHAPE = (512, 512, 512)
"""The smaller product `matmul_peak` times first, to tell whether the peak shape fits its time limit."""


def matmul_flops(dtype: torch.dtype, shape: tuple[int, int, int] = PEAK_SHAPE, repeats: int = 5) -> float:
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
    return 2.0 * m * k * n / best_time(lambda: a @ b, repeats)


@dataclass(frozen=True)
class MatmulPeak:
    """A measured matmul rate and the product it was measured on.

    Attributes:
        flops (`float`): FLOP/s (``2 m k n`` per product, best of the repeats).
        shape (`tuple[int, int, int]`): ``(m, k, n)``: `PEAK_SHAPE`, or `PROBE_SHAPE` where the peak shape would
            have taken longer than the time limit (a CPU that emulates the dtype: bf16 on an AMD EPYC without bf16
            units took minutes for six 2048^3 products).
    """

    flops: float
    shape: tuple[int, int, int]

    @property
    def label(self) -> str:
        """``"2048^3"``, or ``"512^3"`` and so on for the shape it was measured on (``"m x k x n"`` if not a cube)."""
        m, k, n = self.shape
        return f"{m}^3" if m == k == n else f"{m} x {k} x {n}"


def matmul_peak(dtype: torch.dtype, repeats: int = 5, max_seconds: float = 20.0) -> MatmulPeak:
    """This CPU's matmul rate in `dtype` on `PEAK_SHAPE`, within about `max_seconds`.

    One `PROBE_SHAPE` product is timed first; if ``repeats + 1`` products of the peak shape would take longer than
    `max_seconds` at that rate, the probe shape's best of `repeats` is returned instead, with its shape.

    Args:
        dtype (`torch.dtype`): `torch.float32` or `torch.bfloat16`.
        repeats (`int`, *optional*, defaults to 5): Timed repetitions.
        max_seconds (`float`, *optional*, defaults to 20.0): The time the measurement may take.

    Returns:
        `MatmulPeak`: the rate and the shape it was measured on.
    """
    if not max_seconds > 0:
        raise ValueError(f"max_seconds must be > 0; got {max_seconds!r}")
    probe = matmul_flops(dtype, PROBE_SHAPE, repeats=1)
    peak_products = (repeats + 1) * 2.0 * PEAK_SHAPE[0] * PEAK_SHAPE[1] * PEAK_SHAPE[2]
    if peak_products / probe > max_seconds:
        return MatmulPeak(matmul_flops(dtype, PROBE_SHAPE, repeats), PROBE_SHAPE)
    return MatmulPeak(matmul_flops(dtype, PEAK_SHAPE, repeats), PEAK_SHAPE)


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


ATTENTION_MARGIN = 1.1
"""How many times faster than SDPA the eager kernel must be to be chosen (a near tie keeps sdpa)."""

ATTENTION_PROBE_SHAPE = (64, 8, 32, 32)
"""`(B, H, T, Dh)` of the attention timed by `default_attention`: a batch of 64 short sequences, 8 heads of 32."""


def attention_seconds(
    implementation: str, precision: str, shape: tuple[int, int, int, int] = ATTENTION_PROBE_SHAPE, repeats: int = 3
) -> float:
    """Best time of one attention forward and backward on the CPU, as a training step runs it.

    Args:
        implementation (`str`): ``"sdpa"`` (`torch.nn.functional.scaled_dot_product_attention`) or ``"eager"``
            (matmul, float32 softmax, matmul: the model's `eager_attention_forward`).
        precision (`str`): ``"bf16"`` (under CPU autocast) or ``"no"`` (fp32).
        shape (`tuple[int, int, int, int]`, *optional*): `(B, H, T, Dh)` of the queries, keys and values.
        repeats (`int`, *optional*, defaults to 3): Timed repetitions, after one warm-up.

    Returns:
        `float`: seconds (best of `repeats`).
    """
    if implementation not in ("sdpa", "eager"):
        raise ValueError(f"implementation must be 'sdpa' or 'eager'; got {implementation!r}")
    from .modeling_matrix_seq2seq import eager_attention_forward  # the kernel the model trains with

    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(shape, generator=generator, requires_grad=True) for _ in range(3))
    scale = shape[-1] ** -0.5
    module = torch.nn.Module()  # eager_attention_forward reads only `training` (for dropout, 0 here)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            if implementation == "sdpa":
                out = torch.nn.functional.scaled_dot_product_attention(q, k, v, scale=scale)
            else:
                out, _ = eager_attention_forward(module, q, k, v, None, scale)
        out.float().sum().backward()

    return best_time(step, repeats)


@functools.cache
def default_attention(precision: str) -> str:
    """The attention kernel for training: ``"sdpa"`` on CUDA, on the CPU whichever `attention_seconds` measured faster.

    Args:
        precision (`str`): The training precision (``"bf16"``, ``"fp16"`` or ``"no"``).

    Returns:
        `str`: ``"sdpa"`` or ``"eager"`` (a tie within `ATTENTION_MARGIN` stays ``"sdpa"``, the transformers default).
    """
    if torch.cuda.is_available():
        return "sdpa"
    probe = "bf16" if precision == "bf16" else "no"
    return (
        "eager" if ATTENTION_MARGIN * attention_seconds("eager", probe) < attention_seconds("sdpa", probe) else "sdpa"
    )


def flush_denormals() -> bool:
    """Make this process's CPU float arithmetic flush subnormal numbers to zero (`torch.set_flush_denormal`).

    Values below about 1.2e-38 in float32 (Adam's squared-gradient averages and tiny gradients of rarely used
    parameters become such values as training goes on) take a slow path in x86 floating-point units. Measured on
    two cores of an Intel Xeon with AMX (2026-12-04; a plain loop over the eigen-p1000 release model, batch 32, bf16
    autocast, fused AdamW, 3,600 steps from random weights): 200 steps took 14.3 to 14.8 s at first and 15.6 s
    after 3,600 steps without it, 14.8 to 15.6 s throughout with it; a 57,524-step release run without it went from
    15.4 s to about 17.5 s per 200 steps. The values it zeroes are far below anything that moves a weight in float32
    training.

    Returns:
        `bool`: whether the CPU supports it (it needs SSE3 on x86).
    """
    return bool(torch.set_flush_denormal(True))


def tune_malloc() -> bool:
    """Keep freed memory in the process (glibc): large tensors then reuse warm pages instead of page-faulting.

    With glibc's defaults, every activation or gradient above the (dynamic) mmap threshold is a fresh ``mmap`` whose
    pages fault in on first touch, then go back to the kernel when freed: a CPU training step pays that for every
    large tensor. This sets ``M_MMAP_THRESHOLD`` to its maximum (32 MiB), ``M_TRIM_THRESHOLD`` to 2 GiB and
    ``M_TOP_PAD`` to 256 MiB, the same as the environment variables ``MALLOC_MMAP_THRESHOLD_=33554432
    MALLOC_TRIM_THRESHOLD_=2147483647 MALLOC_TOP_PAD_=268435456``, and ``M_MMAP_MAX`` to 0, so that tensors above
    32 MiB (the 29k-token embedding gradients and logits of the paper's FP15-output models) also come from the heap
    instead of a fresh ``mmap`` each. Call it once, early. Measured on the demo run (5x5 transposition, one thread):
    50 steps in 17 s instead of 21 s; on a two-core AMX Xeon (2026-12-02, one thread), ``x + 1`` on a 57 MiB tensor
    took 25 ms with the first three settings and 7 ms with ``M_MMAP_MAX`` 0 as well (3 ms for 31 MiB either way).

    Returns:
        `bool`: whether glibc accepted the four settings (`False` where the C library is not glibc).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold, m_mmap_max = -1, -2, -3, -4
    ok = mallopt(m_mmap_threshold, 32 << 20) == 1
    ok &= mallopt(m_mmap_max, 0) == 1
    ok &= mallopt(m_trim_threshold, (1 << 31) - 1) == 1
    ok &= mallopt(m_top_pad, 256 << 20) == 1
    return bool(ok)
