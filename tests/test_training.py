"""training/train.py end to end on the smoke config: one process, two processes, and resume after a kill."""

from __future__ import annotations

import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import linalg_transformers  # noqa: F401
from linalg_transformers.data import MatrixDataCollator, ProblemStream
from linalg_transformers.problems import get_problem
from linalg_transformers.tokenization_matrix import MatrixTokenizer

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "training" / "configs" / "smoke.yaml"
ENV = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")

sys.path.insert(0, str(ROOT / "training"))
import train  # noqa: E402


def run_train(out: Path, *extra: str, launcher: list[str] | None = None, timeout: int = 300):
    cmd = [*(launcher or [sys.executable]), str(ROOT / "training" / "train.py"), "--config", str(SMOKE)]
    cmd += ["--output_dir", str(out), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout, cwd=ROOT)


def test_stream_is_seeded_disjoint_and_resumable():
    problem = get_problem("eigenvalues", dim=3)
    tok = MatrixTokenizer(input_encoding="P1000", output_encoding="P1000")
    a = ProblemStream(problem, tok, seed=1, chunk_size=8)
    b = ProblemStream(problem, tok, seed=1, chunk_size=8)
    other_rank = ProblemStream(problem, tok, seed=1, rank=1, chunk_size=8)
    it_a, it_b, it_r = iter(a), iter(b), iter(other_rank)
    first = [next(it_a)["input_ids"].tolist() for _ in range(20)]
    assert first == [next(it_b)["input_ids"].tolist() for _ in range(20)]
    assert not set(map(tuple, first)) & {tuple(next(it_r)["input_ids"].tolist()) for _ in range(20)}
    for start in (16, 13):  # on a chunk boundary, and inside a chunk
        resumed = iter(ProblemStream(problem, tok, seed=1, chunk_size=8, start_example=start))
        assert [next(resumed)["input_ids"].tolist() for _ in range(4)] == first[start : start + 4]
    batch = MatrixDataCollator(tok.pad_token_id)([next(it_a) for _ in range(4)])
    assert batch["input_ids"].shape[0] == 4 and (batch["labels"] != -100).any()


def test_arguments_from_yaml_with_overrides(tmp_path):
    args = train.parse_arguments(["--config", str(SMOKE), "--output_dir", str(tmp_path), "--max_steps", "7"])
    assert args.max_steps == 7 and args.problem == "eigenvalues" and args.d_model == 32
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"problem": "eigenvalues", "output_dir": str(tmp_path), "d_modle": 3}))
    with pytest.raises(ValueError, match="d_modle"):
        train.parse_arguments(["--config", str(bad)])
    with pytest.raises(ValueError, match="mixed_precision"):
        train.parse_arguments(["--config", str(SMOKE), "--mixed_precision", "fp8"])
    with pytest.raises(ValueError, match="attention must be auto, sdpa or eager"):
        train.parse_arguments(["--config", str(SMOKE), "--attention", "flash"])


def test_attention_auto_resolves_to_a_kernel_and_explicit_choices_stay(monkeypatch):
    monkeypatch.setattr(train, "default_attention", lambda precision: "eager")
    assert train.parse_arguments(["--config", str(SMOKE)]).attention == "eager"
    assert train.parse_arguments(["--config", str(SMOKE), "--attention", "sdpa"]).attention == "sdpa"


@pytest.mark.parametrize(
    "config", sorted((ROOT / "training" / "configs").rglob("*.yaml")), ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_every_shipped_config_parses_and_builds_its_problem_and_tokenizer(config, tmp_path):
    args = train.parse_arguments(["--config", str(config), "--output_dir", str(tmp_path)])
    problem = get_problem(args.problem, **train.problem_options(args))
    tokenizer = MatrixTokenizer(input_encoding=args.input_encoding, output_encoding=args.output_encoding)
    max_in, max_out = train.sequence_lengths(problem, tokenizer)
    assert max_in > 2 and max_out > 2


def test_incomplete_checkpoints_are_never_picked(tmp_path):
    for step, complete in ((10, True), (20, False)):
        ckpt = tmp_path / f"checkpoint-{step}"
        ckpt.mkdir()
        for f in train.CHECKPOINT_FILES:
            (ckpt / f).write_text("{}")
        if complete:
            (ckpt / train.COMPLETE_MARKER).write_text("{}")
    assert [p.name for p in train.complete_checkpoints(tmp_path)] == ["checkpoint-10"]
    assert [p.name for p in train.discard_incomplete_checkpoints(tmp_path)] == ["checkpoint-20"]
    assert not (tmp_path / "checkpoint-20").exists()


def test_results_json_is_strict_json_with_null_for_nan(tmp_path):
    """A test set with no well-formed answer has NaN mean and median errors: results.json says null, not NaN."""
    row = {f"accuracy@{t:g}": 0.0 for t in (0.05, 0.02, 0.01, 0.005)} | {"well_formed": 0.0}
    row |= {"mean_relative_error": math.nan, "median_relative_error": math.nan}
    train.write_results(tmp_path, {"test": row}, {"steps": 3})

    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    results = json.loads((tmp_path / "results.json").read_text(), parse_constant=refuse)
    assert results["test_sets"]["test"]["mean_relative_error"] is None
    assert results["test_sets"]["test"]["median_relative_error"] is None
    assert results["test_sets"]["test"]["accuracy@0.05"] == 0.0 and results["steps"] == 3


def test_metrics_rows_past_the_resumed_checkpoint_are_dropped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "loss": 1.0 / s} for s in (5, 10, 15, 20)] + [{"step": 10, "eval_accuracy@0.05": 0.5}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 25, "lo')  # a kill mid-line
    assert train.drop_metrics_after(path, 10) == 3
    assert [json.loads(line) for line in path.read_text().splitlines()] == [rows[0], rows[1], rows[4]]
    assert train.drop_metrics_after(path, 10) == 0
    assert train.drop_metrics_after(path, 0) == 3 and path.read_text() == ""  # starting over
    assert train.drop_metrics_after(tmp_path / "none.jsonl", 0) == 0


@pytest.mark.slow
def test_smoke_training_one_process(tmp_path):
    res = run_train(tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    for f in ["config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "training_args.yaml"]:
        assert (tmp_path / f).exists(), f
    for f in ["metrics.jsonl", "results.json", "results.md", "training_curves.png"]:
        assert (tmp_path / f).exists(), f
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["test_sets"]["test"]) >= {"accuracy@0.05", "accuracy@0.005"}
    assert results["examples_seen"] == 20 * 32
    assert results["eval_precision"] == "fp32"  # the final evaluation never runs under the training's autocast
    # The command that ran, reproducible from the repository root (the model card prints it).
    assert results["command"] == shlex.join(
        ["python", "training/train.py", "--config", str(SMOKE), "--output_dir", str(tmp_path)]
    )
    entries = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert any("eval_accuracy@0.05" in e for e in entries) and any("loss" in e for e in entries)
    assert "| test |" in res.stdout
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    assert model.can_generate() and isinstance(tok, MatrixTokenizer)
    assert model.config.training_problem["name"] == "eigenvalues"
    # The attention kernel chosen for training is recorded, but not saved into the model: it loads with the default.
    assert yaml.safe_load((tmp_path / "training_args.yaml").read_text())["attention"] in ("sdpa", "eager")
    assert "attn_implementation" not in (tmp_path / "config.json").read_text()
    # scripts/rescore_run.py redoes the final evaluation in float32 and keeps the rest of the record.
    del results["eval_precision"]
    (tmp_path / "results.json").write_text(json.dumps(results))
    res = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "rescore_run.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    again = json.loads((tmp_path / "results.json").read_text())
    assert again["eval_precision"] == "fp32" and again["test_sets"].keys() == results["test_sets"].keys()
    assert {k: v for k, v in again.items() if k not in ("test_sets", "eval_precision")} == {
        k: v for k, v in results.items() if k != "test_sets"
    }
    assert "| test |" in res.stdout and (tmp_path / "results.md").read_text().strip() in res.stdout
    res = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "rescore_run.py"), str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        cwd=ROOT,
    )
    assert res.returncode == 2 and "is not a directory" in res.stderr


def test_the_final_evaluation_model_runs_in_float32_after_bf16_training(tmp_path):
    from conftest import tiny_model
    from transformers import Seq2SeqTrainingArguments

    tok = MatrixTokenizer(input_encoding="P1000", output_encoding="P1000")
    problem = get_problem("eigenvalues", dim=3)
    stream = iter(ProblemStream(problem, tok, seed=0, chunk_size=16))
    examples = [next(stream) for _ in range(8)]
    collate = MatrixDataCollator(tok.pad_token_id)
    args = Seq2SeqTrainingArguments(
        output_dir=str(tmp_path),
        use_cpu=True,
        bf16=True,
        max_steps=1,
        per_device_train_batch_size=8,
        report_to=[],
        dataloader_num_workers=0,
        save_strategy="no",
    )
    trainer = train.MatrixSeq2SeqTrainer(
        model=tiny_model(tok), args=args, train_dataset=examples, data_collator=collate
    )
    trainer.train()
    batch = collate(examples[:2])
    clean = tiny_model(tok).eval()  # the same weights, never wrapped: float32 throughout
    clean.load_state_dict(trainer.model.state_dict())
    trainer.model.eval()
    with torch.no_grad():
        reference = clean(**batch).logits
        # accelerate's bf16 wrapper stays on the trained model (its outputs are cast back to float32, their values
        # are bf16's)
        assert not torch.allclose(trainer.model(**batch).logits, reference, atol=1e-6)
        model = train.evaluation_model(trainer)
        assert torch.equal(model(**batch).logits, reference)


@pytest.mark.slow
@pytest.mark.parametrize(
    "repeats", [(), ("--repeat_pool_size", "16", "--repeat_prob", "0.5")], ids=["fresh", "repeated-examples"]
)
def test_final_eval_size_zero_trains_and_writes_the_curves_but_no_results(tmp_path, repeats):
    # repeated examples keep the fixed test sets out of their pool: a skipped final evaluation must not break that
    args = ("--max_steps", "4", "--eval_steps", "4", "--save_steps", "4", "--final_eval_size", "0", *repeats)
    res = run_train(tmp_path, *args)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "training_curves.png").exists()
    assert not (tmp_path / "results.json").exists() and "Final accuracy" not in res.stdout


@pytest.mark.slow
def test_resume_after_kill_continues_the_stream(tmp_path):
    """Kill a run after its first checkpoint, resume it, and compare with an uninterrupted run."""
    out = tmp_path / "killed"
    cmd = [sys.executable, str(ROOT / "training" / "train.py"), "--config", str(SMOKE), "--output_dir", str(out)]
    cmd += ["--max_steps", "40", "--eval_steps", "40", "--save_steps", "10"]
    proc = subprocess.Popen(cmd, env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not train.complete_checkpoints(out):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = train.complete_checkpoints(out)
    assert done, "no checkpoint was completed before the kill"
    killed_at = int(done[-1].name.split("-")[-1])
    assert killed_at < 40
    # The rows a killed run logged after its last checkpoint (here one more, and a line cut by the kill): the resumed
    # run repeats those steps, so they must not stay in the log.
    with (out / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"step": killed_at + 5, "loss": 123.0}) + '\n{"step": ' + str(killed_at + 6))
    res = run_train(out, "--max_steps", "40", "--eval_steps", "40", "--save_steps", "10")
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"resuming from {done[-1]}" in res.stderr + res.stdout
    assert "missing keys" not in res.stderr + res.stdout  # the tied output layer is not stored: nothing is missing
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    logged = [r["step"] for r in rows if "loss" in r]
    assert len(logged) == len(set(logged)) and 123.0 not in [r["loss"] for r in rows if "loss" in r], logged
    state = json.loads((out / "trainer_state.json").read_text()) if (out / "trainer_state.json").exists() else None
    final = json.loads((out / "results.json").read_text())
    assert final["steps"] == 40 and (state is None or state["global_step"] == 40)
    # The resumed run trained on the continuation of the stream: its losses after the resume point match an
    # uninterrupted run's (same seed, same data, same optimizer state).
    ref = tmp_path / "ref"
    res = run_train(ref, "--max_steps", "40", "--eval_steps", "40", "--save_steps", "10")
    assert res.returncode == 0, res.stderr[-3000:]

    def losses(path: Path) -> dict[int, float]:
        rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
        return {r["step"]: r["loss"] for r in rows if "loss" in r}

    resumed, uninterrupted = losses(out), losses(ref)
    after = [s for s in uninterrupted if s > killed_at]
    assert after and np.allclose([resumed[s] for s in after], [uninterrupted[s] for s in after], rtol=1e-3)


@pytest.mark.slow
def test_two_processes_with_accelerate_launch(tmp_path):
    launcher = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29533",
    ]  # fmt: skip
    two, one = tmp_path / "two", tmp_path / "one"
    res = run_train(two, "--max_steps", "10", "--eval_steps", "10", "--save_steps", "10", launcher=launcher)
    assert res.returncode == 0, res.stderr[-3000:]
    results = json.loads((two / "results.json").read_text())
    assert results["examples_seen"] == 10 * 32 * 2  # two processes, distinct examples
    args = yaml.safe_load((two / "training_args.yaml").read_text())
    assert args["output_dir"] == str(two) and args["world_size"] == 2 if "world_size" in args else True
    # One process with the same global batch (64) sees the same examples: the losses agree.
    res = run_train(
        one, "--max_steps", "10", "--eval_steps", "10", "--save_steps", "10", "--per_device_train_batch_size", "64"
    )
    assert res.returncode == 0, res.stderr[-3000:]

    def losses(path: Path) -> list[float]:
        rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
        return [r["loss"] for r in rows if "loss" in r]

    assert np.allclose(losses(two), losses(one), rtol=2e-3), (losses(two), losses(one))


@pytest.mark.slow
def test_few_shot_retraining_from_a_trained_model(tmp_path):
    """--init_from: a 3x3 model continues on 4x4 matrices; positions grow, vocabulary and weights carry over."""
    base, larger = tmp_path / "base", tmp_path / "larger"
    res = run_train(base, "--max_steps", "10", "--eval_steps", "10", "--save_steps", "10", "--final_eval_size", "32")
    assert res.returncode == 0, res.stderr[-3000:]
    extra = ["--init_from", str(base), "--dim", "4", "--max_steps", "5", "--eval_steps", "5", "--save_steps", "5"]
    res = run_train(larger, *extra, "--final_eval_size", "32")
    assert res.returncode == 0, res.stderr[-3000:]
    from transformers import AutoModel

    old, new = AutoModel.from_pretrained(base), AutoModel.from_pretrained(larger)
    assert new.config.training_problem["dim"] == 4 and old.config.training_problem["dim"] == 3
    assert new.config.max_position_embeddings > old.config.max_position_embeddings
    assert new.config.vocab_size == old.config.vocab_size
    # Trained weights carried over (then moved a little in 5 steps), not re-initialized.
    w_old = old.get_input_embeddings().weight
    w_new = new.get_input_embeddings().weight
    assert (w_old - w_new).abs().mean() < 0.1 * w_old.abs().mean()
    # What the starting model had seen is recorded with the new run's results (model cards add it up).
    base_results = json.loads((base / "results.json").read_text())
    lineage = json.loads((larger / "results.json").read_text())["init_from"]
    assert lineage["model"] == str(base) and lineage["examples_seen"] == base_results["examples_seen"]
    assert lineage["train_seconds"] > 0


@pytest.mark.slow
def test_a_snapshot_of_a_run_continues_with_init_from(tmp_path):
    run = tmp_path / "run"
    assert run_train(run).returncode == 0
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import snapshot_run
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    dest = tmp_path / "snapshot"
    info = snapshot_run.snapshot(run, dest)
    assert info["checkpoint"] == "checkpoint-20" and info["step"] == 20 and info["examples"] == 20 * 32
    assert json.loads((dest / "SNAPSHOT.json").read_text()) == info
    for name in ("model.safetensors", "config.json", "tokenizer.json", "metrics.jsonl", "training_args.yaml"):
        assert (dest / name).is_file(), name
    from safetensors import safe_open
    from transformers import AutoModelForSeq2SeqLM

    with safe_open(dest / "model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}  # stored small ...
    trained = AutoModelForSeq2SeqLM.from_pretrained(run / "checkpoint-20")
    loaded = AutoModelForSeq2SeqLM.from_pretrained(dest)
    assert loaded.dtype == torch.float32  # ... loaded in float32, as --init_from needs
    for (name, a), b in zip(trained.state_dict().items(), loaded.state_dict().values()):
        torch.testing.assert_close(a.to(torch.float16).float(), b, msg=name)
    assert info["hardware"] == json.loads((run / "results.json").read_text())["hardware"]
    from linalg_transformers.record import read_metrics, training_sessions

    seconds = round(sum(training_sessions(read_metrics(run), until_step=20)), 1)
    assert seconds > 0
    assert run_train(tmp_path / "continued", "--init_from", str(dest), "--seed", "1").returncode == 0
    lineage = json.loads((tmp_path / "continued" / "results.json").read_text())["init_from"]
    assert lineage == {"model": str(dest), "examples_seen": 640, "train_seconds": seconds,
                       "hardware": info["hardware"]}  # fmt: skip
    with pytest.raises(ValueError, match="no complete checkpoint"):
        snapshot_run.snapshot(tmp_path / "continued-nothing", tmp_path / "x")


@pytest.mark.parametrize(
    "config", sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "training" / "configs").rglob("*.yaml"))
)
def test_every_shipped_config_parses_and_builds_its_problem(config):
    """A config a user runs as documented has only known fields and names a problem with valid options."""
    command_line = {"training/configs/cpu-harder-p1000.yaml": ["--problem", "matmul", "--output_dir", "runs/matmul"]}
    args = train.parse_arguments(["--config", str(ROOT / config), *command_line.get(config, [])])
    problem = get_problem(args.problem, **train.problem_options(args))
    assert problem.name == args.problem
