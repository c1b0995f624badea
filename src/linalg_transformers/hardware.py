"""What the machine can do fast: the mixed-precision choice for training and inference.

On CPUs, bf16 only pays off with AMX tiles: on a Xeon with AVX512-BF16 but no AMX (the CI machine of this project),
we measured a 2048^3 bf16 matmul at 0.19 TFLOP/s against 0.38 TFLOP/s in fp32 (`benchmarks/bench_model.py` prints
both), so fp32 is the default there; with AMX, bf16 is several times faster than fp32 and becomes the default.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

__all__ = ["cpu_has_amx", "default_mixed_precision"]


@functools.cache
def cpu_has_amx() -> bool:
    """Whether this CPU advertises AMX bf16 tiles (Linux ``/proc/cpuinfo`` flag ``amx_bf16``)."""
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


def default_mixed_precision() -> str:
    """``"bf16"`` where it is fast (CUDA with bf16, or a CPU with AMX), ``"fp16"`` on older GPUs, else ``"no"``."""
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_amx() else "no"
