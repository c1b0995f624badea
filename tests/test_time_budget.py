"""Training for a wall-clock budget (`linalg_transformers.time_budget`, ``--time_budget_s``), the session stop
(``--stop_after_s``) and the GPU script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml
from transformers import TrainerControl, TrainerState

from linalg_transformers.time_budget import Deadline, DeadlineCallback, TimeBudgetSchedule

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
    callback = DeadlineCallback(schedule)
    state, control = TrainerState(), TrainerControl()
    callback.on_train_begin(None, state, control)
    state.global_step = 3
    callback.on_step_end(None, state, control)
    assert not control.should_training_stop
    clock.now += 5.0
    state.global_step = 4
    callback.on_step_end(None, state, control)
    assert control.should_training_stop and control.should_save and callback.stopped_at_step == 4


def test_deadline_stops_without_a_schedule():
    clock = FakeClock()
    callback = DeadlineCallback(Deadline(2.0, clock=clock))
    state, control = TrainerState(), TrainerControl()
    callback.on_train_begin(None, state, control)
    clock.now += 1.0
    state.global_step = 7
    callback.on_step_end(None, state, control)
    assert not control.should_training_stop and callback.stopped_at_step is None
    clock.now += 1.0
    state.global_step = 8
    callback.on_step_end(None, state, control)
    assert control.should_training_stop and control.should_save and callback.stopped_at_step == 8
    assert not control.should_evaluate  # no arguments: nothing says the run evaluates
    with pytest.raises(ValueError, match="budget"):
        Deadline(0.0)


@pytest.mark.parametrize("strategy, evaluates", [("steps", True), ("no", False)])
def test_deadline_stop_evaluates_when_the_run_does(strategy, evaluates):
    clock = FakeClock()
    callback = DeadlineCallback(Deadline(1.0, clock=clock))
    args, state, control = SimpleNamespace(eval_strategy=strategy), TrainerState(), TrainerControl()
    callback.on_train_begin(args, state, control)
    clock.now += 1.0
    callback.on_step_end(args, state, control)
    assert control.should_training_stop and control.should_evaluate is evaluates


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
    with pytest.raises(ValueError, match="stop_after_s"):
        train.parse_arguments(["--config", str(SMOKE), "--output_dir", str(tmp_path), "--stop_after_s", "-1"])
    both = ["--time_budget_s", "10", "--stop_after_s", "10"]
    with pytest.raises(ValueError, match="give one"):
        train.parse_arguments(["--config", str(SMOKE), "--output_dir", str(tmp_path), *both])


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


def test_session_stop_keeps_the_rate_and_the_run_resumes(tmp_path):
    """--stop_after_s ends a warmup-stable-decay run in its stable phase with a complete checkpoint; the same command
    with a later stop resumes from it, at the same rate."""
    cmd = [sys.executable, str(ROOT / "training" / "train.py"), "--config", str(SMOKE), "--output_dir", str(tmp_path)]
    cmd += ["--max_steps", "1000000", "--lr_scheduler_type", "warmup_stable_decay", "--warmup_steps", "2"]
    cmd += ["--lr_scheduler_kwargs", '{"num_decay_steps": 10}', "--logging_steps", "1", "--eval_strategy", "steps"]
    cmd += ["--eval_steps", "1000000", "--eval_size", "20", "--save_steps", "1000000", "--final_eval_size", "20"]
    run = {"capture_output": True, "text": True, "env": ENV, "timeout": 300, "cwd": ROOT}
    first = subprocess.run([*cmd, "--stop_after_s", "4"], **run)
    assert first.returncode == 0, first.stderr[-3000:]
    (checkpoint,) = tmp_path.glob("checkpoint-*")
    assert (checkpoint / ".complete").exists()
    stopped_at = int(checkpoint.name.split("-")[1])
    second = subprocess.run([*cmd, "--stop_after_s", "3"], **run)
    assert second.returncode == 0, second.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    steps = [row["step"] for row in rows if "learning_rate" in row]
    rates = [row["learning_rate"] for row in rows if "learning_rate" in row and row["step"] > 2]
    assert max(steps) > stopped_at and len(steps) == len(set(steps))  # resumed past the stop, each step once
    evaluated = [row["step"] for row in rows if "eval_loss" in row]
    assert evaluated == [stopped_at, max(steps)]  # each stop evaluated (the schedule's eval_steps never came)
    assert rates and all(r == pytest.approx(1e-3) for r in rates)  # the stable rate throughout: no decay, no re-warmup
    assert json.loads((tmp_path / "results.json").read_text())["steps"] == max(steps)

    # scripts/run_progress.py reads where the run stands, and copies its record
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import run_progress
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    progress = run_progress.RunProgress.read(tmp_path)
    assert progress.sessions == 2 and progress.examples == max(steps) * 32 and progress.problem == "eigenvalues"
    assert [examples for examples, _ in progress.test_losses] == [stopped_at * 32, max(steps) * 32]
    out, records = tmp_path / "progress.md", tmp_path / "records"
    assert run_progress.main([str(tmp_path), "--out", str(out), "--records", str(records)]) == 0
    assert f"| {max(steps) * 32:,} | 2 |" in out.read_text()
    assert sorted(p.name for p in (records / tmp_path.name).iterdir()) == sorted(run_progress.RECORD_FILES)
    # the copied record alone (no weights: a fresh checkout) is read back as the run was
    again = tmp_path / "again.md"
    assert run_progress.main([str(records / tmp_path.name), "--out", str(again)]) == 0
    assert again.read_text() == out.read_text()
    assert run_progress.main([str(tmp_path / "never-ran")]) == 2  # a named error, not a traceback


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


HARDER = ROOT / "training" / "configs" / "cpu-harder-p1000.yaml"
TINY = ["--dim", "3", "--d_model", "32", "--encoder_layers", "1", "--encoder_attention_heads", "4"]
TINY += ["--decoder_attention_heads", "4", "--numeric_init", "false", "--warmup_steps", "2", "--logging_steps", "1"]
TINY += ["--eval_steps", "1000000", "--eval_size", "16", "--final_eval_size", "16", "--save_steps", "1000000"]


@pytest.mark.parametrize("problem", ["matmul", "inverse", "eigenvectors", "singular_values", "svd"])
def test_the_harder_config_builds_each_harder_problem(problem, tmp_path):
    sys.path.insert(0, str(ROOT / "training"))
    import train

    from linalg_transformers.problems import get_problem
    from linalg_transformers.tokenization_matrix import MatrixTokenizer

    args = train.parse_arguments(["--config", str(HARDER), "--problem", problem, "--output_dir", str(tmp_path)])
    assert args.lr_scheduler_type == "warmup_stable_decay" and args.per_device_train_batch_size == 32
    built = get_problem(args.problem, **train.problem_options(args))
    tokenizer = MatrixTokenizer(input_encoding=args.input_encoding, output_encoding=args.output_encoding)
    model = train.build_model(args, tokenizer, built)
    assert model.config.training_problem["name"] == problem


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_harder_runs_script_stops_each_run_and_resumes_it(tmp_path):
    """scripts/harder_runs.sh: each problem trains for its seconds and stops with a checkpoint; a second call
    resumes it (two sessions in the log, more steps)."""
    env = dict(ENV, PYTHON=sys.executable, RUNS_DIR=str(tmp_path))
    cmd = ["bash", str(ROOT / "scripts" / "harder_runs.sh"), "3", "singular_values", "--", *TINY]
    for _ in range(2):
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
        run = tmp_path / "singular-values-p1000"
        assert res.returncode == 0, (tmp_path / "singular-values-p1000.log").read_text()[-3000:]
    log = (tmp_path / "singular-values-p1000.log").read_text()
    assert log.count("== ") == 2 and "resuming from" in log
    assert json.loads((run / "results.json").read_text())["problem"]["name"] == "singular_values"
    assert any(run.glob("checkpoint-*/.complete"))
    usage = subprocess.run(["bash", str(ROOT / "scripts" / "harder_runs.sh"), "3"], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage" in usage.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_late_arms_script_trains_each_arm_from_the_release_with_its_batch_and_loss(tmp_path):
    """scripts/late_arms.sh: each arm continues from the published eigen-p1000 weights at its own batch size and
    peak rate, with the release runs' linear decay over 85% of its steps; only the ntl arm adds the number-aware
    loss; an unknown arm is refused."""
    env = dict(ENV, PYTHON=sys.executable, RUNS_DIR=str(tmp_path), EXAMPLES="256")
    tiny = ["--warmup_steps", "1", "--logging_steps", "1", "--eval_size", "16", "--final_eval_size", "16"]
    cmd = ["bash", str(ROOT / "scripts" / "late_arms.sh"), "batch64", "ntl", "--", *tiny]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    for arm, batch, steps, peak, number_loss in (("batch64", 64, 4, 2.8e-4, 0.0), ("ntl", 32, 8, 2e-4, 0.3)):
        run = tmp_path / "late" / arm
        assert json.loads((run / "results.json").read_text())["init_from"]["model"] == "checkpoints/linalg/eigen-p1000"
        args = yaml.safe_load((run / "training_args.yaml").read_text())
        assert args["lr_scheduler_kwargs"] == {
            "num_decay_steps": steps * 85 // 100,
            "min_lr_ratio": 0.05,
            "decay_type": "linear",
        }
        assert args["number_loss_weight"] == number_loss and args["per_device_train_batch_size"] == batch
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        logged = [row for row in rows if "learning_rate" in row]
        assert [row["step"] for row in logged] == list(range(1, steps + 1))
        assert logged[-1]["examples"] == batch * steps
        assert logged[1]["learning_rate"] == pytest.approx(peak)  # after the one warmup step
        assert logged[-1]["learning_rate"] < peak  # decaying at the end
        assert any("number_loss" in row for row in logged) == (number_loss > 0)
    refused = subprocess.run(["bash", str(ROOT / "scripts" / "late_arms.sh"), "nope"], capture_output=True, text=True)
    assert refused.returncode == 2 and "unknown arm 'nope'" in refused.stderr
