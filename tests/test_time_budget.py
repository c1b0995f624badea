"""Training for a wall-clock budget (`linalg_transformers.time_budget`, ``--time_budget_s``) and the GPU script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch
from transformers import TrainerControl, TrainerState

from linalg_transformers.time_budget import TimeBudgetCallback, TimeBudgetSchedule

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "training" / "configs" / "smoke.yaml"
ENV = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_schedule_warms_up_by_step_then_decays_by_time():
    clock = FakeClock()
    schedule = TimeBudgetSchedule(100.0, warmup_steps=10, decay_fraction=0.2, min_lr_ratio=0.1, clock=clock)
    assert schedule.elapsed() == 0.0 and not schedule.spent()  # the clock has not started
    schedule.start()
    assert schedule.factor(0) == pytest.approx(0.1)  # warmup: (step + 1) / warmup_steps
    assert schedule.factor(4) == pytest.approx(0.5)
    assert schedule.factor(50) == 1.0
    clock.now += 80.0  # the decay starts at 1 - 0.2 of the budget
    assert schedule.factor(50) == pytest.approx(1.0)
    clock.now += 10.0  # half-way through the decay
    assert schedule.factor(50) == pytest.approx(0.1 + 0.9 * 0.5)
    clock.now += 10.0
    assert schedule.spent() and schedule.factor(50) == pytest.approx(0.1)
    clock.now += 50.0  # past the budget: the floor, never below
    assert schedule.factor(50) == pytest.approx(0.1)


def test_scheduler_follows_the_clock():
    clock = FakeClock()
    schedule = TimeBudgetSchedule(10.0, decay_fraction=0.5, min_lr_ratio=0.0, clock=clock)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    scheduler = schedule.scheduler(optimizer)
    schedule.start()
    clock.now += 7.5
    optimizer.step()
    scheduler.step()
    assert scheduler.get_last_lr() == [pytest.approx(2.0 * 0.5)]


def test_callback_stops_once_and_asks_for_a_save():
    clock = FakeClock()
    schedule = TimeBudgetSchedule(5.0, clock=clock)
    callback = TimeBudgetCallback(schedule)
    state, control = TrainerState(), TrainerControl()
    callback.on_train_begin(None, state, control)
    state.global_step = 3
    callback.on_step_end(None, state, control)
    assert not control.should_training_stop
    clock.now += 5.0
    state.global_step = 4
    callback.on_step_end(None, state, control)
    assert control.should_training_stop and control.should_save and callback.stopped_at_step == 4


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"seconds": 0.0}, "budget"),
        ({"seconds": 10.0, "decay_fraction": 0.0}, "decay_fraction"),
        ({"seconds": 10.0, "min_lr_ratio": 1.5}, "min_lr_ratio"),
        ({"seconds": 10.0, "warmup_steps": -1}, "warmup_steps"),
    ],
)
def test_bad_budgets_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TimeBudgetSchedule(**kwargs)


def test_negative_budget_is_rejected_by_the_training_arguments(tmp_path):
    sys.path.insert(0, str(ROOT / "training"))
    import train

    with pytest.raises(ValueError, match="time_budget_s"):
        train.parse_arguments(["--config", str(SMOKE), "--output_dir", str(tmp_path), "--time_budget_s", "-1"])


def test_training_stops_at_the_budget_with_a_decayed_rate(tmp_path):
    """A run with an unreachable max_steps ends when its budget is spent, decayed, with its results written."""
    cmd = [sys.executable, str(ROOT / "training" / "train.py"), "--config", str(SMOKE), "--output_dir", str(tmp_path)]
    cmd += ["--max_steps", "1000000", "--time_budget_s", "6", "--time_budget_decay_fraction", "0.5"]
    cmd += ["--logging_steps", "1", "--eval_strategy", "no", "--save_steps", "1000000"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert 0 < results["steps"] < 1_000_000
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    rates = [row["learning_rate"] for row in rows if "learning_rate" in row]
    assert max(rates) == pytest.approx(1e-3) and rates[-1] < 0.6e-3  # smoke.yaml's rate, then the timed decay
    assert any((tmp_path).glob("checkpoint-*/.complete"))  # the stop saved a complete checkpoint


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("split") is None, reason="needs bash and split")
def test_gpu_script_writes_the_run_as_tar_parts(tmp_path):
    """scripts/gpu_train.sh on the CPU: the prepared GPU command, tested before a GPU is ever lent."""
    out = tmp_path / "out"
    out.mkdir()
    env = dict(ENV, OUT=str(out), PYTHON=sys.executable)
    cmd = ["bash", str(ROOT / "scripts" / "gpu_train.sh"), str(SMOKE), "run", "--max_steps", "1000000"]
    cmd += ["--time_budget_s", "4", "--eval_strategy", "no", "--save_steps", "1000000"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    parts = sorted(out.glob("run.tar.*"))
    assert parts and all(p.stat().st_size <= 15 * 2**20 for p in parts)
    joined = tmp_path / "run.tar"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    with tarfile.open(joined) as tar:
        names = set(tar.getnames())
    assert {"run/model.safetensors", "run/results.json", "run/metrics.jsonl", "run/train.log"} <= names
    assert not any("checkpoint-" in n for n in names)
    assert [p.name for p in out.iterdir() if not p.name.startswith("run.tar.")] == []  # nothing else to fetch
