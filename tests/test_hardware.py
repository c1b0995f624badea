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


def test_attention_seconds_times_both_kernels_and_rejects_others():
    shape = (2, 2, 4, 8)
    for implementation in ("sdpa", "eager"):
        for precision in ("bf16", "no"):
            assert hardware.attention_seconds(implementation, precision, shape, repeats=1) > 0
    with pytest.raises(ValueError, match="implementation must be 'sdpa' or 'eager'"):
        hardware.attention_seconds("flash", "no", shape)


@pytest.mark.parametrize(
    ("eager_s", "sdpa_s", "expected"),
    [
        (0.008, 0.058, "eager"),  # bf16 on the AMX Xeon of 2026-12-02: SDPA's backward was 7x slower
        (0.0086, 0.0089, "sdpa"),  # fp32 there: a tie keeps the transformers default
        (0.02, 0.01, "sdpa"),
    ],
)
def test_attention_choice_follows_the_measurement(monkeypatch, eager_s, sdpa_s, expected):
    hardware.default_attention.cache_clear()
    seconds = {"eager": eager_s, "sdpa": sdpa_s}
    calls = []

    def fake(implementation, precision, shape=None, repeats=3):
        calls.append((implementation, precision))
        return seconds[implementation]

    monkeypatch.setattr(hardware, "attention_seconds", fake)
    monkeypatch.setattr(hardware.torch.cuda, "is_available", lambda: False)
    try:
        assert hardware.default_attention("bf16") == expected
        assert {p for _, p in calls} == {"bf16"}
        assert hardware.default_attention("fp16") == expected  # fp16 on a CPU is timed as fp32
        assert calls[-1][1] == "no"
        monkeypatch.setattr(hardware.torch.cuda, "is_available", lambda: True)
        hardware.default_attention.cache_clear()
        assert hardware.default_attention("bf16") == "sdpa"  # CUDA: the fused kernels, untimed
    finally:
        hardware.default_attention.cache_clear()


def _bench_training():
    """`benchmarks/bench_training.py` as a module (benchmarks/ is not a package)."""
    import sys
    from pathlib import Path

    benchmarks = str(Path(__file__).resolve().parent.parent / "benchmarks")
    sys.path.insert(0, benchmarks)
    try:
        import bench_training
    finally:
        sys.path.remove(benchmarks)
    return bench_training


def test_the_training_benchmark_runs_every_way_on_a_tiny_model():
    bench_training = _bench_training()
    tiny = bench_training.Setup("tiny", "transpose", "P10", "P10", 16, 1, 1, 2, 4)
    for precision, attention, adamw in bench_training.WAYS.values():
        result = bench_training.run(tiny, precision, attention, adamw, steps=1)
        assert result["examples/s"] > 0 and 0.0 <= result["data wait"] < 1.0
    for precision in ("no", "bf16"):
        phases = bench_training.phase_times(tiny, precision, "eager", steps=2)
        assert list(phases) == list(bench_training.PHASES)
        assert all(ms > 0 for ms in phases.values())
    times = bench_training.interval_times(tiny, "bf16", "eager", steps=5, every=2)
    assert len(times) == 2 and all(t > 0 for t in times)


def test_master_weights_update_float32_copies_and_round_them_into_the_bf16_model():
    bench_training = _bench_training()
    tiny = bench_training.Setup("tiny", "transpose", "P10", "P10", 16, 1, 1, 2, 4)
    model, _, batches = bench_training._build(tiny, "eager", "fused")
    weights = bench_training.MasterWeights(model, lr=1e-2)
    masters_before = [master.clone() for master in weights.masters]
    model_before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="MasterWeights"):
        bench_training._step(model, torch.optim.SGD(model.parameters(), lr=0.1), next(batches), "bf16 weights")
    model.zero_grad(set_to_none=True)
    bench_training._step(model, weights, next(batches), "bf16 weights")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert {m.dtype for m in weights.masters} == {torch.float32}
    pairs = list(zip(masters_before, weights.masters, strict=True))
    assert all(not torch.equal(old, new) for old, new in pairs)  # every parameter has a gradient here
    assert any(not torch.equal(old, new) for old, new in zip(model_before, model.parameters(), strict=True))
    assert all(torch.equal(p, m.to(torch.bfloat16)) for p, m in zip(weights.params, weights.masters, strict=True))
    assert any(not torch.equal(m, m.to(torch.bfloat16).float()) for m in weights.masters)  # float32, not copies back
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize(("rate", "expected"), [(1e12, hardware.PEAK_SHAPE), (1e8, hardware.PROBE_SHAPE)])
def test_the_peak_measurement_keeps_to_its_time_limit(monkeypatch, rate, expected):
    """A CPU that emulates bf16 (minutes for six 2048^3 products) gets the probe shape's rate, and says so."""
    calls = []

    def fake(dtype, shape=hardware.PEAK_SHAPE, repeats=5):
        calls.append(shape)
        return rate

    monkeypatch.setattr(hardware, "matmul_flops", fake)
    peak = hardware.matmul_peak(torch.bfloat16, max_seconds=20.0)
    assert peak == hardware.MatmulPeak(rate, expected) and calls == [hardware.PROBE_SHAPE, expected]
    assert peak.label == f"{expected[0]}^3"
    with pytest.raises(ValueError, match="max_seconds"):
        hardware.matmul_peak(torch.float32, max_seconds=0)


def test_flush_denormals_zeroes_subnormal_results():
    """After `flush_denormals`, a float32 product below the smallest normal number comes out as zero."""
    tiny = torch.tensor([1e-30], dtype=torch.float32)
    try:
        if not hardware.flush_denormals():
            pytest.skip("this CPU cannot flush subnormals")
        assert (tiny * 1e-10).item() == 0.0
    finally:
        torch.set_flush_denormal(False)
    assert (tiny * 1e-10).item() != 0.0  # the default keeps them
