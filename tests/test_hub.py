"""Publishing (local folder, mocked Hub push), the metric Space, model cards and released checkpoints offline.

A tiny model (d_model 32, 1+1 layers) is saved with a training output built by the functions of training/train.py
(`build_model`, `write_results`, `plot_curves`, the resolved `training_args.yaml`), plus the training state that must
never be published. Everything runs offline; the Hugging Face cache is always a temporary HF_HOME.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
import tempfile
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from huggingface_hub import CommitInfo, HfApi, ModelCard, RepoUrl, SpaceCard
from huggingface_hub import constants as hf_constants
from safetensors import safe_open

import linalg_transformers  # noqa: F401  (registers the model classes)
from linalg_transformers import cli, hub
from linalg_transformers.hub.remote_code import tokenizer_remote_code
from linalg_transformers.metrics import MATRIX_ACCURACY_PATH
from linalg_transformers.modeling_matrix_seq2seq import MatrixSeq2SeqForConditionalGeneration
from linalg_transformers.problems import get_problem, test_set
from linalg_transformers.record import training_command
from linalg_transformers.scoring import TOLERANCES
from linalg_transformers.tokenization_matrix import MatrixTokenizer

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "training" / "configs" / "smoke.yaml"
# The fixture checkpoint is published with the real eigen-p1000 card source; its runs file describes the real release
# run, which the fixture did not come from, so the tests publish with an empty runs file.
NO_RUNS = Path(tempfile.mkdtemp()) / "runs.yaml"
NO_RUNS.write_text("commands: []\n")

REPO_ID = "linalg/eigen-p1000"
sys.path.insert(0, str(ROOT / "training"))
import train  # noqa: E402

FAKE_TOKEN = "hf_" + "A1b2C3d4" * 5
SESSIONS = (21.5, 7.25)  # wall-clock seconds of the two logged training sessions
EXPECTED_FILES = {
    "README.md",
    "config.json",
    "configuration_matrix_seq2seq.py",
    "encodings.py",
    "generation_config.json",
    "metrics.jsonl",
    "model.safetensors",
    "modeling_matrix_seq2seq.py",
    "results.json",
    "results.md",
    "tokenization_matrix.py",
    "tokenizer.json",
    "tokenizer_config.json",
    "training_args.yaml",
    "training_curves.png",
}


def pipeline_module_present() -> bool:
    return (ROOT / "src" / "linalg_transformers" / "pipeline_matrix.py").is_file()


def expected_files() -> set[str]:
    """The repository's files; with the pipeline module, also it and the modules it imports relatively."""
    if not pipeline_module_present():
        return EXPECTED_FILES
    from transformers.dynamic_module_utils import get_relative_import_files

    module = ROOT / "src" / "linalg_transformers" / "pipeline_matrix.py"
    return EXPECTED_FILES | {module.name} | {Path(f).name for f in get_relative_import_files(str(module))}


def subprocess_env(tmp: Path, hf_home: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HF_HUB_CACHE", "HF_TOKEN")}
    env.update(
        HF_HUB_OFFLINE="1",
        HF_HOME=str(hf_home or tmp / "hf_home"),
        HF_MODULES_CACHE=str(tmp / "modules"),
        TRANSFORMERS_VERBOSITY="error",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def run_python(script: str, cwd: Path, env: dict[str, str], then: str = "") -> subprocess.CompletedProcess:
    """Run a script (dedented) followed by code taken verbatim from a model card, in a fresh interpreter."""
    code = textwrap.dedent(script) + then
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


# ------------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def training_output(tmp_path_factory) -> Path:
    """A finished training output of training/train.py (tiny model), with state that must not be published."""
    out = tmp_path_factory.mktemp("run") / "eigen-tiny"
    argv = ["--config", str(SMOKE), "--output_dir", str(out), "--extra_test_distributions", "positive,gaussian"]
    args = train.parse_arguments(argv)
    problem = get_problem(args.problem, **train.problem_options(args))
    tokenizer = MatrixTokenizer(input_encoding=args.input_encoding, output_encoding=args.output_encoding)
    torch.manual_seed(0)
    model = train.build_model(args, tokenizer, problem)
    _, max_label = train.sequence_lengths(problem, tokenizer)
    model.generation_config.max_length = max_label + 2
    model.generation_config.num_beams = 1
    out.mkdir(parents=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    resolved = {k: v for k, v in args.to_dict().items() if not k.startswith("_")}
    (out / "training_args.yaml").write_text(yaml.safe_dump(resolved, sort_keys=True))

    # Accuracy rows in the format of evaluate_model, from each problem's own check on perturbed solutions, so that
    # every test set and tolerance has its own number.
    rows = {}
    for i, name in enumerate(["test", "positive", "gaussian"]):
        prob = (
            problem
            if name == "test"
            else get_problem(args.problem, **{**train.problem_options(args), "eigen_distribution": name})
        )
        data = test_set(prob, size=64)
        rng = np.random.default_rng(i)
        noisy = data.targets * (1 + rng.normal(0, 0.004 * (i + 1), data.targets.shape))
        rows[name] = prob.score(data.inputs, list(noisy)).metrics()
    assert len({r["accuracy@0.005"] for r in rows.values()}) > 1
    info = {
        "examples_seen": 20 * 32,
        "steps": 20,
        "train_seconds_this_run": SESSIONS[-1],
        "test_size": 64,
        "problem": problem.config_dict(),
        "encodings": [tokenizer.input_encoding, tokenizer.output_encoding],
        "hardware": train.hardware_description(),
        "command": training_command(argv),  # as train.main records it
    }
    train.write_results(out, rows, info)
    lines = []  # as train.MetricsLogger writes them: wall_time restarts with each (resumed) session
    for session, end in enumerate(SESSIONS):
        for step, t in ((10 + 20 * session, end / 2), (20 + 20 * session, end)):
            common = {"step": step, "examples": 32 * step}
            lines.append({**common, "loss": 5.0 / step, "wall_time": t})
            accuracy = {f"eval_accuracy@{tol:g}": step / 100 * (1 - tol) for tol in TOLERANCES}
            lines.append({**common, "eval_loss": 4.0 / step, **accuracy, "wall_time": t})
    (out / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    train.plot_curves(out / "metrics.jsonl", out / "training_curves.png")

    # What a training directory also holds, none of which may be published.
    ckpt = out / "checkpoint-10"
    ckpt.mkdir()
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json", "model.safetensors"):
        (ckpt / name).write_bytes(b"state")
    (out / "trainer_state.json").write_text("{}")
    (out / "training_args.bin").write_bytes(b"pickle")
    (out / "data").mkdir()
    (out / "data" / "train.parquet").write_bytes(b"PAR1")
    (out / ".env").write_text(f"HF_TOKEN={FAKE_TOKEN}\n")
    return out


@pytest.fixture(scope="module")
def published(training_output, tmp_path_factory) -> Path:
    """The repository folder written by the CLI, in a released-checkpoints layout checkpoints/linalg/eigen-p1000."""
    folder = tmp_path_factory.mktemp("released") / "checkpoints" / "linalg" / "eigen-p1000"
    code = cli.main(
        [
            "publish",
            str(training_output),
            REPO_ID,
            "--local-dir",
            str(folder),
            "--check-size",
            "32",
            "--runs",
            str(NO_RUNS),
        ]
    )
    assert code == 0
    return folder


def reference_inputs(tokenizer: MatrixTokenizer) -> dict[str, torch.Tensor]:
    matrices = test_set(get_problem("eigenvalues", dim=3), size=3).inputs
    batch = tokenizer.prepare_batch(matrices)
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}


def model_outputs(model, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        generated = model.generate(**inputs)
        logits = model(**inputs, decoder_input_ids=generated).logits
    return {"generated": generated, "logits": logits}


# ------------------------------------------------------------------------------------------------- the folder
def test_published_folder_file_by_file(published, training_output):
    assert {p.relative_to(published).as_posix() for p in published.rglob("*") if p.is_file()} == expected_files()

    config = json.loads((published / "config.json").read_text())
    assert config["model_type"] == "matrix_seq2seq" and config["dtype"] == "float32"
    assert config["auto_map"] == {
        "AutoConfig": "configuration_matrix_seq2seq.MatrixSeq2SeqConfig",
        "AutoModel": "modeling_matrix_seq2seq.MatrixSeq2SeqForConditionalGeneration",
        "AutoModelForSeq2SeqLM": "modeling_matrix_seq2seq.MatrixSeq2SeqForConditionalGeneration",
    }
    assert config["training_problem"]["name"] == "eigenvalues"
    if pipeline_module_present():
        assert "matrix-eigen" in config["custom_pipelines"]
        assert config["custom_pipelines"]["matrix-eigen"]["impl"].startswith("pipeline_matrix.")
    else:
        assert "custom_pipelines" not in config

    tok_config = json.loads((published / "tokenizer_config.json").read_text())
    assert tok_config["auto_map"] == {"AutoTokenizer": ["tokenization_matrix.MatrixTokenizer", None]}
    assert not {"is_local", "local_files_only", "token"} & set(tok_config)

    # Weights: every tensor in float16 (the default), equal to the trained float32 weights rounded to float16.
    trained = MatrixSeq2SeqForConditionalGeneration.from_pretrained(training_output)
    trained_state = trained.state_dict()
    with safe_open(published / "model.safetensors", "pt") as f:
        keys = list(f.keys())
        assert keys and all(f.get_tensor(k).dtype == torch.float16 for k in keys)
        for k in keys:
            assert torch.equal(f.get_tensor(k), trained_state[k].to(torch.float16)), k

    generation = json.loads((published / "generation_config.json").read_text())
    assert generation["max_length"] == trained.generation_config.max_length and generation["num_beams"] == 1

    for name in ("results.json", "results.md", "metrics.jsonl", "training_curves.png"):
        assert (published / name).read_bytes() == (training_output / name).read_bytes(), name
    args = yaml.safe_load((published / "training_args.yaml").read_text())
    original = yaml.safe_load((training_output / "training_args.yaml").read_text())
    assert "hub_token" in original and "hub_token" not in args
    assert args == {k: v for k, v in original.items() if k != "hub_token"}
    for py in published.glob("*.py"):  # relative imports only (docstring examples may show the package)
        assert not re.search(r"^\s*(from|import)\s+linalg_transformers", py.read_text(), flags=re.MULTILINE), py


def test_publishing_leaves_the_tokenizer_class_as_it_was():
    before = MatrixTokenizer._auto_class
    with tokenizer_remote_code():
        assert MatrixTokenizer._auto_class == "AutoTokenizer"
    assert MatrixTokenizer._auto_class == before


def test_training_args_in_the_repo_reproduce_the_run(published, training_output):
    """The card's reproduce command (`--config training_args.yaml`) resolves to the same arguments."""
    again = train.parse_arguments(["--config", str(published / "training_args.yaml")])
    resolved = {k: v for k, v in again.to_dict().items() if not k.startswith("_")}
    original = yaml.safe_load((training_output / "training_args.yaml").read_text())
    for key, value in original.items():
        if key not in ("config", "hub_token"):
            assert resolved[key] == value, key


def test_model_card_numbers_come_from_the_training_output(published, training_output):
    results = json.loads((training_output / "results.json").read_text())
    card = ModelCard.load(published / "README.md")
    text = card.text
    assert re.findall(r"^## +(.+?) *$", text, flags=re.MULTILINE) == list(hub.CARD_SECTIONS)
    data = card.data
    assert data.library_name == "transformers" and data.pipeline_tag == "other"
    assert {"custom_code", "eigenvalues", "linalg-transformers"} <= set(data.tags)

    got = {(r.dataset_config, r.metric_args["tolerance"]): r.metric_value for r in data.eval_results}
    want = {}
    for name, row in results["test_sets"].items():
        distribution = "semicircle" if name == "test" else name
        for t in TOLERANCES:
            want[(distribution, t)] = row[f"accuracy@{t:g}"]
            assert f"{100 * row[f'accuracy@{t:g}']:.2f}%" in text
    assert got == want  # every test set, every tolerance
    assert all(r.dataset_split == "test" and r.dataset_args["size"] == 64 for r in data.eval_results)
    assert "semicircle (in distribution)" in text and "positive (out of distribution)" in text

    assert hub.format_duration(sum(SESSIONS)) in text and "2 sessions" in text
    assert "640 (20 optimizer steps of 32 examples)" in text
    assert results["hardware"] in text
    assert "stored in float16" in text and "the same greedy output as the" in text
    assert "python training/train.py --config training_args.yaml --output_dir runs/eigen-p1000" in text
    assert f"recorded it (`command` in `results.json`):\n\n```bash\n{results['command']}\n```" in text
    assert "{{" not in text and "{%" not in text
    assert "Charton" in text and "charton2022linear" in text
    assert "This run started from another trained model" not in text  # trained from scratch


def continued_run(source: Path, init_from: str, folder: Path) -> Path:
    """A copy of a training output whose arguments say it started from `init_from` (``--init_from``)."""
    import shutil

    shutil.copytree(source, folder)
    args = yaml.safe_load((folder / "training_args.yaml").read_text())
    (folder / "training_args.yaml").write_text(yaml.safe_dump({**args, "init_from": init_from}, sort_keys=True))
    return folder


def test_a_continued_run_counts_what_its_starting_model_saw(published, training_output, tmp_path):
    """--init_from chains: examples and wall time add up through the published results.json, card included."""
    one = json.loads((published / "results.json").read_text())
    assert "init_from" not in one and "examples_seen_total" not in one  # a run from scratch
    second = continued_run(training_output, str(published), tmp_path / "second")
    lineage = hub.training_lineage(str(published))
    assert lineage == {
        "model": str(published),
        "examples_seen": 640,
        "train_seconds": round(sum(SESSIONS), 1),
        "hardware": one["hardware"],
    }
    folder = tmp_path / "released" / "second"
    hub.build_model_repo(second, REPO_ID, folder, runs_file=NO_RUNS, check_size=0)
    two = json.loads((folder / "results.json").read_text())
    assert two["examples_seen"] == 640 and two["examples_seen_total"] == 1280
    assert two["train_seconds_total"] == round(2 * sum(SESSIONS), 1) and two["init_from"] == lineage
    text = (folder / "README.md").read_text()
    assert f"1,280 in all, counting the 640 of the model this run started from (`{published}`" in text
    total = hub.format_duration(2 * sum(SESSIONS))
    assert f"{total} in all with the model it started from (whose last run was on " in text
    assert f"This run started from another trained model (`init_from: {published}`" in text

    third = continued_run(training_output, str(folder), tmp_path / "third")  # started from the second
    assert hub.training_lineage(str(folder))["examples_seen"] == 1280
    out = tmp_path / "released" / "third"
    hub.build_model_repo(third, REPO_ID, out, runs_file=NO_RUNS, check_size=0)
    assert json.loads((out / "results.json").read_text())["examples_seen_total"] == 1920


def test_a_continued_run_without_its_own_time_publishes_no_total_time(published, training_output, tmp_path):
    """The chain's examples add up, but a total time that left out this run's would pass for the whole: none."""
    import dataclasses

    from linalg_transformers import record

    second = continued_run(training_output, str(published), tmp_path / "second")
    (second / "metrics.jsonl").unlink()
    output = hub.TrainingOutput.load(second)
    output = dataclasses.replace(
        output, results={k: v for k, v in output.results.items() if k != "train_seconds_this_run"}
    )
    totals = record.lineage_totals(output)
    assert totals is not None and totals.examples == 1280 and totals.train_seconds is None
    assert totals.start["model"] == str(published)
    results = hub.published_results(output)
    assert results["examples_seen_total"] == 1280 and "train_seconds_total" not in results
    timed = record.lineage_totals(
        hub.TrainingOutput.load(continued_run(training_output, str(published), tmp_path / "t"))
    )
    assert timed is not None and timed.train_seconds == round(2 * sum(SESSIONS), 1)
    assert record.lineage_totals(hub.TrainingOutput.load(training_output)) is None  # a run from scratch


def test_republishing_into_the_folder_a_run_started_from_counts_it_once(published, training_output, tmp_path):
    """The release case: a run continued from checkpoints/org/name and published back there, then published again."""
    import shutil

    folder = tmp_path / "checkpoints" / "linalg" / "eigen-p1000"
    shutil.copytree(published, folder)  # the first release, 640 examples
    run = continued_run(training_output, str(folder), tmp_path / "continued")
    publish = ["publish", str(run), REPO_ID, "--local-dir", str(folder), "--check-size", "0", "--runs", str(NO_RUNS)]
    for _ in range(2):  # the second time, the folder holds this run itself
        assert cli.main(publish) == 0
        results = json.loads((folder / "results.json").read_text())
        assert results["init_from"]["examples_seen"] == 640 and results["examples_seen_total"] == 1280
        assert results["train_seconds_total"] == round(2 * sum(SESSIONS), 1)


def test_lineage_of_a_model_without_a_training_record():
    assert hub.training_lineage(None) is None
    assert hub.training_lineage("linalg/eigen-p1000-not-a-folder") == {"model": "linalg/eigen-p1000-not-a-folder"}


def test_every_card_source_has_the_fixed_sections():
    sources = [p for p in (ROOT / "model_cards").glob("*.md") if not p.name.startswith(("_", "README"))]
    assert sources, "model_cards/ has no card source"
    for path in sources:
        meta, sections = hub.read_card_source(path)
        assert list(sections) == list(hub.PROSE_SECTIONS), path
        assert all(sections.values()), path
        assert "summary" in meta, path
        # Prose must not carry measured numbers: those are rendered from results.json and training_args.yaml.
        prose = "\n".join(sections.values())
        assert not re.search(r"\d+(\.\d+)?\s*%", prose), f"{path}: a hand-written percentage"


def test_card_source_errors(tmp_path, training_output):
    output = hub.TrainingOutput.load(training_output)
    source = (ROOT / "model_cards" / "eigen-p1000.md").read_text()
    bad = tmp_path / "bad.md"
    bad.write_text(source.replace("## Limitations", "## Caveats"))
    with pytest.raises(ValueError, match="unknown section"):
        hub.render_model_card(bad, output, REPO_ID, template=ROOT / "model_cards" / "_template.md")
    bad.write_text(source.replace("example_input:", "example:"))
    with pytest.raises(ValueError, match="example_input"):
        hub.render_model_card(bad, output, REPO_ID, template=ROOT / "model_cards" / "_template.md")
    bad.write_text(source.replace("{{ dim }}x1", "{{ dimension }}x1"))
    with pytest.raises(ValueError, match="dimension"):
        hub.render_model_card(bad, output, REPO_ID, template=ROOT / "model_cards" / "_template.md")
    runs = tmp_path / "runs.yaml"
    runs.write_text(yaml.safe_dump({"commands": ["python training/train.py --config training/configs/smoke.yaml "
                                                 "--max_steps 99"]}))  # fmt: skip
    with pytest.raises(ValueError, match="--max_steps 99"):
        hub.render_model_card(ROOT / "model_cards" / "eigen-p1000.md", output, REPO_ID, runs_file=runs)
    good = "python training/train.py --config training/configs/smoke.yaml --extra_test_distributions positive,gaussian"
    runs.write_text(yaml.safe_dump({"commands": [good], "notes": "Trained in one go."}))
    card = hub.render_model_card(ROOT / "model_cards" / "eigen-p1000.md", output, REPO_ID, runs_file=runs)
    assert good in card.text and "Trained in one go." in card.text


def test_the_committed_snapshot_counts_in_a_lineage(tmp_path, training_output):
    """A run continued from a snapshot (no results.json) counts what the snapshot had seen, even if recorded earlier
    without it."""
    import dataclasses

    from linalg_transformers import record

    snapshot = ROOT / "training" / "runs" / "eigen-p1000-v3"
    info = json.loads((snapshot / record.SNAPSHOT_FILE).read_text())
    lineage = hub.training_lineage(str(snapshot))
    assert lineage["examples_seen"] == info["examples"] == 1_433_600
    assert lineage["train_seconds"] > 3600 and lineage["hardware"]
    output = hub.TrainingOutput.load(training_output)
    recorded_bare = dataclasses.replace(output, results={**output.results, "init_from": {"model": str(snapshot)}})
    assert hub.published_lineage(recorded_bare) == lineage  # read again from the folder, which now tells
    assert hub.published_results(recorded_bare)["examples_seen_total"] == output.results["examples_seen"] + 1_433_600
    assert hub.training_lineage(str(tmp_path)) == {"model": str(tmp_path)}  # neither a record nor a snapshot


def test_a_record_folder_loads_without_weights(tmp_path, training_output):
    import shutil

    from linalg_transformers import record

    for name in record.RECORD_FILES:
        shutil.copy2(training_output / name, tmp_path / name)
    with pytest.raises(ValueError, match="model.safetensors"):
        hub.TrainingOutput.load(tmp_path)  # a model folder needs its weights
    kept = hub.TrainingOutput.load(tmp_path, record_only=True)
    assert kept.config == {} and kept.results == hub.TrainingOutput.load(training_output).results
    (tmp_path / "results.json").unlink()
    with pytest.raises(ValueError, match="results.json"):
        hub.TrainingOutput.load(tmp_path, record_only=True)


SEGMENTS = [
    {"run": "E", "session": "day 1", "hardware": "a CPU, one thread", "schedule": "constant 5e-4",
     "examples": [0, 204800], "train_seconds": 1000, "evaluations": [[102400, 1.559, 0.009], [204800, 1.488, 0.016]]},
    {"run": "G", "session": "day 2", "hardware": "another CPU", "schedule": "linear decay", "test_problems": 500,
     "examples": [204800, 307200], "train_seconds": 610.5, "evaluations": [[307200, 1.084, 0.649]]},
]  # fmt: skip


def test_runs_segments_render_the_lineage(tmp_path, training_output):
    from linalg_transformers.hub import card as card_module
    from linalg_transformers.hub import history

    output = hub.TrainingOutput.load(training_output)
    runs = tmp_path / "runs.yaml"
    runs.write_text(yaml.safe_dump({"notes": "Two sessions.", "segments": SEGMENTS}))
    card = hub.render_model_card(ROOT / "model_cards" / "eigen-p1000.md", output, REPO_ID, runs_file=runs).text
    row = "| E | day 1 | a CPU, one thread | constant 5e-4 | 0 → 204,800 | 16 min 40 s | 1.488 | 1.6% | 1,000 |"
    assert row in card
    assert "| G | day 2 | another CPU | linear decay | 204,800 → 307,200 | 10 min 10 s | 1.084 | 64.9% | 500 |" in card
    assert f"]({history.HISTORY_PLOT})" in card
    segments = card_module.read_runs(runs, output.training_args).segments
    assert [len(s.evaluations) for s in segments] == [2, 1] and segments[1].evaluations[0].accuracy == 0.649
    files = hub.build_model_repo(training_output, REPO_ID, tmp_path / "repo", runs_file=runs, check_size=0)
    assert history.HISTORY_PLOT in files  # publishing draws the whole curve the card links
    assert (tmp_path / "repo" / history.HISTORY_PLOT).read_bytes().startswith(b"\x89PNG")
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"notes": "One session."}))
    text = hub.render_model_card(ROOT / "model_cards" / "eigen-p1000.md", output, REPO_ID, runs_file=plain).text
    assert history.HISTORY_PLOT not in text  # no segments: no table, no plot


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"evaluations": [[999999, 1.0, 0.5]]}, "must lie in the segment"),
        ({"evaluations": [[102400, 1.0, 1.5]]}, "accuracy in"),
        ({"evaluations": [[204800, 1.0, 0.5], [102400, 1.1, 0.4]]}, "increasing order"),
        ({"evaluations": [[102400, 1.0]]}, "an evaluation is"),
        ({"examples": [204800, 0]}, "must grow"),
        ({"train_seconds": "ten"}, "train_seconds"),
        ({"hardware": ""}, "'hardware' must be a non-empty text"),
        ({"cpu": "x"}, r"unknown key\(s\) \['cpu'\]"),
    ],
)
def test_bad_segments_are_named(tmp_path, training_output, change, match):
    from linalg_transformers.hub import card as card_module

    output = hub.TrainingOutput.load(training_output)
    runs = tmp_path / "runs.yaml"
    runs.write_text(yaml.safe_dump({"segments": [{**SEGMENTS[0], **change}]}))
    with pytest.raises(ValueError, match=match):
        card_module.read_runs(runs, output.training_args)
    missing = {k: v for k, v in SEGMENTS[0].items() if k != "schedule"}
    runs.write_text(yaml.safe_dump({"segments": [missing]}))
    with pytest.raises(ValueError, match=r"missing key\(s\) \['schedule'\]"):
        card_module.read_runs(runs, output.training_args)
    runs.write_text(yaml.safe_dump({"segments": SEGMENTS[::-1]}))
    with pytest.raises(ValueError, match="lineage order"):
        card_module.read_runs(runs, output.training_args)


def test_a_segment_is_built_from_the_run_record(tmp_path):
    """scripts/segment_entry.py: a run's metrics.jsonl, offset by what the lineage had seen, as a runs-file segment."""
    from linalg_transformers.hub import history

    metrics = [
        {"step": 100, "examples": 3200, "loss": 1.2, "wall_time": 40.0},
        {"step": 200, "examples": 6400, "eval_loss": 1.1234, "eval_accuracy@0.05": 0.61, "wall_time": 80.0},
        {"step": 300, "examples": 9600, "loss": 1.0, "wall_time": 30.0},  # a resumed session: its clock restarts
        {"step": 400, "examples": 12800, "eval_loss": 1.0, "eval_accuracy@0.05": 0.7, "wall_time": 70.0},
    ]
    labels = {"run": "H", "session": "day 3", "hardware": "a CPU", "schedule": "constant 2e-4"}
    entry = history.segment_from_metrics(metrics, **labels, start=1000)
    assert entry["examples"] == [1000, 13800] and entry["train_seconds"] == 150  # 80 + 70: two sessions
    assert entry["evaluations"] == [[7400, 1.123, 0.61], [13800, 1.0, 0.7]]
    runs = tmp_path / "runs.yaml"
    runs.write_text(yaml.safe_dump({"segments": [SEGMENTS[0], {**entry, "examples": [204800, 216600],
                                    "evaluations": [[210000, 1.0, 0.7]]}]}))  # fmt: skip
    assert len(history.parse_segments(yaml.safe_load(runs.read_text())["segments"], str(runs))) == 2
    with pytest.raises(ValueError, match="no wall_time"):
        history.segment_from_metrics([{"step": 1, "examples": 32}], **labels, start=0)
    with pytest.raises(ValueError, match="'schedule' must be a non-empty text"):
        history.segment_from_metrics(metrics, **{**labels, "schedule": ""}, start=0)
    script = ROOT / "scripts" / "segment_entry.py"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in metrics))
    args = [f"--{k}={v}" for k, v in labels.items()]
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "run"), *args, "--start", "1000"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert yaml.safe_load(out) == [entry] and out.startswith("  - run: H")
    assert "\n    evaluations:\n      - [7400, 1.123, 0.61]\n" in out  # the runs files' indentation
    first = "  - run: G\n    session: day 2\n    hardware: a CPU\n    schedule: constant\n    examples: [0, 1000]\n"
    first += "    train_seconds: 10\n    test_problems: 1000\n    evaluations:\n      - [1000, 1.5, 0.1]\n"
    runs.write_text("# header\ncommands: [x]\nsegments:\n" + first)
    first = yaml.safe_load("segments:\n" + first)["segments"][0]
    appended = subprocess.run([sys.executable, str(script), str(tmp_path / "run"), *args, "--start", "1000",
                               "--append", str(runs)], capture_output=True, text=True)  # fmt: skip
    assert appended.returncode == 0, appended.stderr
    assert yaml.safe_load(runs.read_text())["segments"] == [first, entry]
    assert runs.read_text().startswith("# header\n")
    misplaced = subprocess.run([sys.executable, str(script), str(tmp_path / "run"), *args, "--start", "5",
                                "--append", str(runs)], capture_output=True, text=True)  # fmt: skip
    assert misplaced.returncode == 2 and "ends at 13,800 examples, this one starts at 5" in misplaced.stderr
    flush_left = "segments:\n- run: G\n  examples: [0, 1000]\n  evaluations:\n  - [1000, 1.5, 0.1]\n"
    runs.write_text(flush_left)
    unindented = subprocess.run([sys.executable, str(script), str(tmp_path / "run"), *args, "--start", "1000",
                                 "--append", str(runs)], capture_output=True, text=True)  # fmt: skip
    assert unindented.returncode == 2 and "not indented as" in unindented.stderr and runs.read_text() == flush_left
    runs.write_text("segments: []\nnotes: x\n")
    last_key = subprocess.run([sys.executable, str(script), str(tmp_path / "run"), *args, "--start", "1000",
                               "--append", str(runs)], capture_output=True, text=True)  # fmt: skip
    assert last_key.returncode == 2 and "last top-level key must be 'segments'" in last_key.stderr


def test_card_shows_the_schedule_that_ran(training_output):
    import dataclasses

    output = hub.TrainingOutput.load(training_output)
    source = ROOT / "model_cards" / "eigen-p1000.md"
    plain = hub.render_model_card(source, output, REPO_ID, runs_file=NO_RUNS).text
    assert "| `lr_scheduler_type` |" in plain and "time_budget" not in plain
    budget = {**output.training_args, "time_budget_s": 5400.0, "time_budget_decay_fraction": 0.85}
    text = hub.render_model_card(source, dataclasses.replace(output, training_args=budget), REPO_ID, runs_file=NO_RUNS)
    assert "| `time_budget_s` | 5400.0 |" in text.text and "| `lr_scheduler_type` |" not in text.text


def test_card_prints_the_recorded_command_only_when_there_is_one(training_output):
    import dataclasses

    output = hub.TrainingOutput.load(training_output)
    source = ROOT / "model_cards" / "eigen-p1000.md"
    command = output.results["command"]
    assert command.startswith("python training/train.py --config ")
    assert command in hub.render_model_card(source, output, REPO_ID, runs_file=NO_RUNS).text
    unrecorded = dataclasses.replace(output, results={k: v for k, v in output.results.items() if k != "command"})
    text = hub.render_model_card(source, unrecorded, REPO_ID, runs_file=NO_RUNS).text
    assert "recorded it (`command`" not in text and command not in text


def test_publish_errors(tmp_path, training_output, published):
    with pytest.raises(ValueError, match="org/name"):
        hub.build_model_repo(training_output, "eigen-p1000", tmp_path / "a")
    with pytest.raises(ValueError, match="available cards: .*eigen-p1000"):
        hub.build_model_repo(training_output, "linalg/other-model", tmp_path / "b")
    with pytest.raises(ValueError, match="dtype"):
        hub.build_model_repo(training_output, REPO_ID, tmp_path / "c", dtype="int8")
    with pytest.raises(ValueError, match=r"not a finished training output"):
        hub.build_model_repo(training_output / "checkpoint-10", REPO_ID, tmp_path / "d")
    # The CLI reports a ValueError as an error message (exit code 2), not a traceback.
    with pytest.raises(SystemExit) as exc:
        cli.main(["publish", str(tmp_path / "nowhere"), REPO_ID, "--local-dir", str(tmp_path / "e")])
    assert exc.value.code == 2

    # A folder holding another model type is not replaced without --force.
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bart"}))
    args = [
        "publish",
        str(training_output),
        REPO_ID,
        "--local-dir",
        str(other),
        "--check-size",
        "0",
        "--runs",
        str(NO_RUNS),
    ]
    with pytest.raises(SystemExit):
        cli.main(args)
    assert json.loads((other / "config.json").read_text())["model_type"] == "bart"
    assert cli.main([*args, "--force"]) == 0
    assert {p.name for p in other.iterdir()} == expected_files()


def test_audit_rejects_tokens_and_training_state(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert hub.audit_repo_folder(tmp_path) == ["config.json"]
    (tmp_path / "notes.txt").write_text(f"token {FAKE_TOKEN}")
    with pytest.raises(ValueError, match="token"):
        hub.audit_repo_folder(tmp_path)
    (tmp_path / "notes.txt").unlink()
    for name in ("optimizer.pt", "trainer_state.json", "checkpoint-5/model.safetensors", "train.parquet"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
        with pytest.raises(ValueError, match="must not be published"):
            hub.audit_repo_folder(tmp_path)
        (tmp_path / name).unlink()


# ------------------------------------------------------------------------------------------------ mocked push
class FakeHub:
    """Records the Hub calls of `push_folder`; holds a remote repository's file list and config."""

    def __init__(self, remote_files=(), remote_config=None):
        self.remote_files = list(remote_files)
        self.remote_config = remote_config
        self.commits = []
        self.created = []

    def create_repo(self, repo_id, **kwargs):
        self.created.append((repo_id, kwargs))
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def list_repo_files(self, repo_id, **kwargs):
        return list(self.remote_files)

    def hf_hub_download(self, repo_id, filename, *, local_dir, **kwargs):
        path = Path(local_dir) / filename
        path.write_text(json.dumps(self.remote_config))
        return str(path)

    def create_commit(self, repo_id, operations, *, commit_message, repo_type=None, **kwargs):
        self.commits.append({"repo_id": repo_id, "operations": list(operations), "repo_type": repo_type})
        return CommitInfo(
            commit_url=f"https://huggingface.co/{repo_id}/commit/{'0' * 40}",
            commit_message=commit_message,
            commit_description="",
            oid="0" * 40,
        )


def test_push_is_one_commit_of_the_built_folder(published):
    fake = FakeHub(remote_files=[".gitattributes", "README.md", "config.json", "old_weights.bin"],
                   remote_config={"model_type": "matrix_seq2seq"})  # fmt: skip
    info = hub.push_folder(published, REPO_ID, api=fake)
    assert info.oid == "0" * 40 and len(fake.commits) == 1
    commit = fake.commits[0]
    adds = {op.path_in_repo for op in commit["operations"] if type(op).__name__ == "CommitOperationAdd"}
    deletes = {op.path_in_repo for op in commit["operations"] if type(op).__name__ == "CommitOperationDelete"}
    assert adds == expected_files() and deletes == {"old_weights.bin"}
    assert commit["repo_type"] == "model" and fake.created[0][0] == REPO_ID


def test_push_refuses_a_repo_of_another_model_type_unless_forced(published):
    fake = FakeHub(remote_files=["config.json", "model.safetensors"], remote_config={"model_type": "bart"})
    with pytest.raises(ValueError, match="'bart'"):
        hub.push_folder(published, REPO_ID, api=fake)
    assert not fake.commits
    hub.push_folder(published, REPO_ID, api=fake, force=True)
    assert len(fake.commits) == 1


def test_cli_publish_pushes_through_hfapi(training_output, monkeypatch):
    """Without --local-dir and with a token, `publish` builds and pushes through HfApi.create_commit only."""
    fake = FakeHub(remote_files=[".gitattributes"])
    for method in ("create_repo", "list_repo_files", "hf_hub_download", "create_commit"):
        monkeypatch.setattr(HfApi, method, lambda self, *a, _m=method, **k: getattr(fake, _m)(*a, **k))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    assert (
        cli.main(["publish", str(training_output), REPO_ID, "--check-size", "0", "--private", "--runs", str(NO_RUNS)])
        == 0
    )
    assert len(fake.commits) == 1 and fake.created == [(REPO_ID, {"repo_type": "model", "exist_ok": True,
                                                                  "private": True})]  # fmt: skip
    assert {op.path_in_repo for op in fake.commits[0]["operations"]} == expected_files()
    # Offline, the same command writes the released-checkpoints folder instead of pushing.
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.chdir(training_output.parent)
    assert cli.main(["publish", str(training_output), REPO_ID, "--check-size", "0", "--runs", str(NO_RUNS)]) == 0
    assert len(fake.commits) == 1
    assert {p.name for p in (training_output.parent / "checkpoints" / "linalg" / "eigen-p1000").iterdir()} == (
        expected_files()
    )


# ---------------------------------------------------------------------------------------- loading the repository
def test_published_folder_loads_with_and_without_the_package(published, tmp_path):
    """A fresh process that never imports linalg_transformers loads the folder (remote code): same outputs."""
    model = MatrixSeq2SeqForConditionalGeneration.from_pretrained(published).eval()
    tokenizer = MatrixTokenizer.from_pretrained(published)
    assert model.dtype == torch.float32
    inputs = reference_inputs(tokenizer)
    torch.save(inputs, tmp_path / "inputs.pt")
    script = f"""
        import sys
        import torch
        from transformers import AutoModel, AutoModelForSeq2SeqLM, AutoTokenizer

        folder = {str(published)!r}
        inputs = torch.load({str(tmp_path / "inputs.pt")!r}, weights_only=True)
        model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        assert type(model).__name__ == "MatrixSeq2SeqForConditionalGeneration", type(model)
        assert type(AutoModelForSeq2SeqLM.from_pretrained(folder, trust_remote_code=True)) is type(model)
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
        assert type(tokenizer).__name__ == "MatrixTokenizer", type(tokenizer)
        assert not [m for m in sys.modules if m.startswith("linalg_transformers")], "the package was imported"
        import numpy as np
        batch = tokenizer.prepare_batch(np.zeros((1, 3, 3)))
        with torch.no_grad():
            generated = model.generate(**inputs)
            logits = model(**inputs, decoder_input_ids=generated).logits
        outputs = {{"generated": generated, "logits": logits, "ids": batch["input_ids"]}}
        torch.save(outputs, {str(tmp_path / "out.pt")!r})
    """
    work = tmp_path / "elsewhere"
    work.mkdir()
    run_python(script, work, subprocess_env(tmp_path))
    remote = torch.load(tmp_path / "out.pt", weights_only=True)
    local = model_outputs(model, inputs)
    assert torch.equal(remote["generated"], local["generated"])
    torch.testing.assert_close(remote["logits"], local["logits"], atol=0, rtol=0)
    assert torch.equal(remote["ids"], tokenizer.prepare_batch(np.zeros((1, 3, 3)))["input_ids"])


@pytest.mark.skipif(
    not pipeline_module_present(),
    reason="src/linalg_transformers/pipeline_matrix.py has not landed yet (pipelines are another engineer's task); "
    "this test runs as soon as it does",
)
def test_pipeline_of_the_published_repo(published, tmp_path):
    """pipeline("matrix-eigen") on its default model from the installed cache, and without the package."""
    from transformers import pipeline
    from transformers.pipelines import PIPELINE_REGISTRY

    matrix = test_set(get_problem("eigenvalues", dim=3), size=1).inputs[0]
    local_class = PIPELINE_REGISTRY.supported_tasks["matrix-eigen"]["impl"]
    local = pipeline("matrix-eigen", model=str(published), pipeline_class=local_class)(matrix)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = subprocess_env(tmp_path)
    default_model = f"""
        import json
        import numpy as np
        from transformers import pipeline
        import linalg_transformers
        from linalg_transformers import hub

        hub.install_checkpoints({str(published.parents[1])!r})
        solver = pipeline("matrix-eigen")  # the task's default model, {REPO_ID}, from the cache
        assert solver.model.name_or_path == {REPO_ID!r}, solver.model.name_or_path
        print(json.dumps(solver(np.array({matrix.tolist()!r}))))
        # By Hub id and by folder, the model's custom_pipelines notwithstanding: the installed class, no remote code.
        for model in ({REPO_ID!r}, {str(published)!r}):
            named = pipeline("matrix-eigen", model=model)
            assert type(named) is linalg_transformers.PIPELINES["matrix-eigen"], type(named)
            print(json.dumps(named(np.array({matrix.tolist()!r}))))
        inferred = pipeline(model={REPO_ID!r})  # the task read from custom_pipelines, served by the installed class
        assert type(inferred) is linalg_transformers.PIPELINES["matrix-eigen"], type(inferred)
    """
    result = run_python(default_model, work, env)
    printed = [json.loads(line) for line in result.stdout.strip().splitlines()[-3:]]
    assert printed == [json.loads(json.dumps(local))] * 3
    without_package = f"""
        import json, sys
        import numpy as np
        from transformers import pipeline

        solver = pipeline(model={REPO_ID!r}, trust_remote_code=True)
        named = pipeline("matrix-eigen", model={REPO_ID!r}, trust_remote_code=True)
        assert not [m for m in sys.modules if m.startswith("linalg_transformers")], "the package was imported"
        assert type(named).__module__.startswith("transformers_modules."), type(named).__module__
        print(json.dumps(solver(np.array({matrix.tolist()!r}))))
        print(json.dumps(named(np.array({matrix.tolist()!r}))))
    """
    result = run_python(without_package, work, env)
    printed = [json.loads(line) for line in result.stdout.strip().splitlines()[-2:]]
    assert printed == [json.loads(json.dumps(local))] * 2


STAND_IN_PIPELINE = """\
\"\"\"A minimal eigenvalue pipeline standing in for the package's own, to test how pipelines are shipped.\"\"\"

import numpy as np
from transformers import Pipeline


class StandInEigenPipeline(Pipeline):
    _load_tokenizer = True
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_video_processor = False
    problems = ("eigenvalues",)

    def _sanitize_parameters(self, **kwargs):
        return {}, {}, {}

    def preprocess(self, matrix):
        return self.tokenizer.prepare_batch(np.asarray(matrix, dtype=float)[None])

    def _forward(self, inputs):
        ids = self.model.generate(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        return {"ids": ids}

    def postprocess(self, outputs):
        matrix = self.tokenizer.decode_matrices(outputs["ids"]).matrices[0]
        return {"eigenvalues": None if matrix is None else matrix.ravel().tolist()}
"""


@pytest.fixture
def stand_in_pipeline(tmp_path, monkeypatch):
    """Register a pipeline task implemented by a module of the package namespace (not the real pipeline module)."""
    import importlib.util

    from transformers import AutoModelForSeq2SeqLM
    from transformers.pipelines import PIPELINE_REGISTRY

    path = tmp_path / "pipeline_standin.py"
    path.write_text(STAND_IN_PIPELINE)
    name = "linalg_transformers.pipeline_standin"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    task = "matrix-standin-eigen"
    PIPELINE_REGISTRY.register_pipeline(
        task, pipeline_class=module.StandInEigenPipeline, pt_model=AutoModelForSeq2SeqLM
    )
    yield task
    del PIPELINE_REGISTRY.supported_tasks[task]


def test_pipeline_code_ships_with_the_model(training_output, stand_in_pipeline, tmp_path):
    """`custom_pipelines` and the pipeline module are written; a process without the package runs the pipeline."""
    from transformers import AutoConfig, pipeline

    task = stand_in_pipeline
    assert task in hub.pipeline_tasks_for("eigenvalues") and task not in hub.pipeline_tasks_for("transpose")
    folder = tmp_path / "repo"
    hub.build_model_repo(training_output, REPO_ID, folder, check_size=0, pipeline_tasks=[task], runs_file=NO_RUNS)
    config = json.loads((folder / "config.json").read_text())
    assert config["custom_pipelines"] == {
        task: {"impl": "pipeline_standin.StandInEigenPipeline", "pt": ["AutoModelForSeq2SeqLM"]}
    }
    assert (folder / "pipeline_standin.py").read_text() == STAND_IN_PIPELINE
    assert f'pipeline("{task}", model="{REPO_ID}", trust_remote_code=True)' in (folder / "README.md").read_text()

    matrix = test_set(get_problem("eigenvalues", dim=3), size=1).inputs[0]
    # A task listed in the model's custom_pipelines and registered by the installed package with the same class is
    # served by that class: no trust_remote_code (transformers alone would run the repository's copy and ask for it).
    local_class = sys.modules["linalg_transformers.pipeline_standin"].StandInEigenPipeline
    assert type(pipeline(task, model=str(folder))) is local_class
    assert type(pipeline(model=str(folder))) is local_class  # the task read from custom_pipelines
    local = pipeline(task, model=str(folder), pipeline_class=local_class)(matrix)
    assert pipeline(task, model=str(folder))(matrix) == local
    config = AutoConfig.from_pretrained(folder)
    assert task not in config.custom_pipelines and list(config.custom_pipelines) == [task]
    assert config.to_dict()["custom_pipelines"] == json.loads((folder / "config.json").read_text())["custom_pipelines"]
    assert local["eigenvalues"] is None or len(local["eigenvalues"]) == 3
    script = f"""
        import json, sys
        import numpy as np
        from transformers import pipeline

        solver = pipeline(model={str(folder)!r}, trust_remote_code=True)  # the task comes from custom_pipelines
        out = solver(np.array({matrix.tolist()!r}))
        assert type(solver).__name__ == "StandInEigenPipeline"
        assert not [m for m in sys.modules if m.startswith("linalg_transformers")], "the package was imported"
        print(json.dumps(out))
    """
    work = tmp_path / "elsewhere"
    work.mkdir()
    result = run_python(script, work, subprocess_env(tmp_path))
    assert json.loads(result.stdout.strip().splitlines()[-1]) == local
    with pytest.raises(ValueError, match="unknown pipeline task"):
        hub.pipeline_tasks_for("eigenvalues", ["matrix-nonexistent"])


# ----------------------------------------------------------------------------------------- released checkpoints
def test_install_checkpoints_layout_is_deterministic_and_idempotent(published, tmp_path):
    checkpoints = published.parents[1]
    cache = tmp_path / "hub"
    first = hub.install_checkpoints(checkpoints, cache)
    assert [(i.repo_id, i.changed) for i in first] == [(REPO_ID, True)]
    commit = first[0].commit
    assert re.fullmatch(r"[0-9a-f]{40}", commit) and commit == hub.snapshot_commit_id(published)
    repo_cache = cache / "models--linalg--eigen-p1000"
    assert (repo_cache / "refs" / "main").read_text() == commit
    snapshot = repo_cache / "snapshots" / commit
    files = {p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()}
    assert files == expected_files()
    for name in files:
        assert (snapshot / name).read_bytes() == (published / name).read_bytes(), name
    blobs = {p.name for p in (repo_cache / "blobs").iterdir()}
    assert len(blobs) == len(files)
    from safetensors.torch import load_file

    assert hub.cache._blob_name(published / "model.safetensors") in blobs and load_file(snapshot / "model.safetensors")

    again = hub.install_checkpoints(checkpoints, cache)
    assert [(i.commit, i.changed) for i in again] == [(commit, False)]
    assert {p.name for p in (repo_cache / "snapshots").iterdir()} == {commit}

    with pytest.raises(ValueError, match="no config.json"):
        empty = tmp_path / "ck" / "linalg" / "empty"
        empty.mkdir(parents=True)
        hub.install_checkpoints(tmp_path / "ck", cache)


def test_installed_checkpoint_loads_by_repo_id_offline_from_any_directory(published, tmp_path):
    """`install-checkpoints` respects HF_HOME; then the repo id loads with and without the package, same outputs."""
    checkpoints = published.parents[1]
    model = MatrixSeq2SeqForConditionalGeneration.from_pretrained(published).eval()
    tokenizer = MatrixTokenizer.from_pretrained(published)
    inputs = reference_inputs(tokenizer)
    torch.save(inputs, tmp_path / "inputs.pt")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = subprocess_env(tmp_path)
    card = (published / "README.md").read_text()
    usage = re.search(r"## Intended use.*?```python\n(.*?)```", card, flags=re.DOTALL).group(1)
    reproduce = re.search(r"## How to reproduce.*?```python\n(.*?)```", card, flags=re.DOTALL).group(1)

    with_package = f"""
        import torch
        from transformers import AutoModel, AutoTokenizer
        import linalg_transformers
        from linalg_transformers import cli

        assert cli.main(["install-checkpoints", "--checkpoints-dir", {str(checkpoints)!r}]) == 0
        model = AutoModel.from_pretrained({REPO_ID!r}).eval()
        tokenizer = AutoTokenizer.from_pretrained({REPO_ID!r})
        assert type(tokenizer).__name__ == "MatrixTokenizer"
        inputs = torch.load({str(tmp_path / "inputs.pt")!r}, weights_only=True)
        with torch.no_grad():
            generated = model.generate(**inputs)
            logits = model(**inputs, decoder_input_ids=generated).logits
        torch.save({{"generated": generated, "logits": logits}}, {str(tmp_path / "with.pt")!r})
    """
    result = run_python(with_package, work, env, then=reproduce)
    assert "installed as revision main" in result.stdout
    assert (tmp_path / "hf_home" / "hub" / "models--linalg--eigen-p1000" / "refs" / "main").is_file()
    table = result.stdout[result.stdout.index("| test set |") :]
    assert "semicircle (in distribution)" in table and "gaussian (out of distribution)" in table

    without_package = f"""
        import sys
        import torch
        from transformers import AutoModel

        model = AutoModel.from_pretrained({REPO_ID!r}, trust_remote_code=True).eval()
        inputs = torch.load({str(tmp_path / "inputs.pt")!r}, weights_only=True)
        with torch.no_grad():
            generated = model.generate(**inputs)
            logits = model(**inputs, decoder_input_ids=generated).logits
        torch.save({{"generated": generated, "logits": logits}}, {str(tmp_path / "without.pt")!r})
        assert not [m for m in sys.modules if m.startswith("linalg_transformers")], "the package was imported"
    """
    result = run_python(without_package, work, env, then=usage)
    printed = result.stdout.strip().splitlines()
    assert printed[-1].startswith("[") and len(printed) >= 2  # the card's example ran and printed the exact answer

    local = model_outputs(model, inputs)
    for name in ("with.pt", "without.pt"):
        remote = torch.load(tmp_path / name, weights_only=True)
        assert torch.equal(remote["generated"], local["generated"]), name
        torch.testing.assert_close(remote["logits"], local["logits"], atol=0, rtol=0)


# ---------------------------------------------------------------------------------------------- released code
RELEASED = sorted(p for p in (ROOT / "checkpoints").glob("*/*") if p.is_dir())


def test_the_release_guard_covers_the_released_folders():
    assert ROOT / "checkpoints" / "linalg" / "eigen-p1000" in RELEASED


@pytest.mark.parametrize("folder", RELEASED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_released_folder_ships_the_package_code(folder):
    """The modules of a released folder are those `publish` would copy today, byte for byte."""
    rel = folder.relative_to(ROOT).as_posix()
    differences = hub.released_code_differences(folder)
    assert not differences, (
        f"{rel} ships other code than `linalg-transformers publish` writes today:\n  "
        + "\n  ".join(differences)
        + f"\nRepublish it from its training run (from the repository root):\n  {hub.republish_command(rel)}\n"
        + "or, if only the code changed and that run is not at hand, rewrite just its modules:\n  "
        + f"python -c 'from linalg_transformers.hub import refresh_remote_code; refresh_remote_code(\"{rel}\")'"
    )


def test_release_guard_names_each_difference_and_refresh_rewrites_only_code(published, training_output, tmp_path):
    import shutil

    assert hub.released_code_differences(published) == []  # what publish just wrote
    assert set(hub.remote_code_files(["matrix-eigen"])) == {p.name for p in published.glob("*.py")}
    folder = tmp_path / "checkpoints" / "linalg" / "eigen-p1000"
    shutil.copytree(published, folder)
    with (folder / "modeling_matrix_seq2seq.py").open("a") as f:
        f.write("# an edit by hand\n")
    (folder / "verification.py").unlink()
    (folder / "old_module.py").write_text("x = 1\n")
    differences = hub.released_code_differences(folder)
    assert [d.split(":")[0] for d in differences] == ["verification.py", "old_module.py", "modeling_matrix_seq2seq.py"]
    assert "missing" in differences[0] and "not shipped" in differences[1] and "differs" in differences[2]

    others = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix != ".py"}
    changed = hub.refresh_remote_code(folder)
    assert changed == ["modeling_matrix_seq2seq.py", "old_module.py", "verification.py"]
    assert hub.released_code_differences(folder) == [] and hub.refresh_remote_code(folder) == []
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix != ".py"} == others  # weights, card, ...

    # Other pipelines mean another config and card: the guard says so, and only republishing fixes it.
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "custom_pipelines": {}}))
    differences = hub.released_code_differences(folder)
    assert len(differences) == 1 and differences[0].startswith("config.json custom_pipelines")
    command = f"linalg-transformers publish {training_output} {REPO_ID} --local-dir {folder.as_posix()}"
    assert hub.republish_command(folder) == command
    with pytest.raises(ValueError, match="republish"):
        hub.refresh_remote_code(folder)


# ------------------------------------------------------------------------------------------------ metric Space
def test_publish_metric_space(tmp_path, monkeypatch):
    import evaluate

    space = tmp_path / "matrix_accuracy"
    assert cli.main(["publish-metric", "--local-dir", str(space)]) == 0
    assert {p.name for p in space.iterdir()} == {"matrix_accuracy.py", "README.md", "app.py", "requirements.txt"}
    card = SpaceCard.load(space / "README.md")
    assert card.data.sdk == "gradio" and card.data.app_file == "app.py" and card.data.title == "matrix_accuracy"
    assert {"evaluate", "metric"} <= set(card.data.tags)
    assert "# Metric Card for matrix_accuracy" in card.text
    assert (space / "requirements.txt").read_text().splitlines()[0] == "linalg-transformers"

    metric = evaluate.load(str(space / "matrix_accuracy.py"))
    assert (
        metric.compute(predictions=[[3.0, 1.0]], references=[[3.0, 1.01]], problem="eigenvalues")["accuracy@0.05"]
        == 1.0
    )

    # Every Space file comes from the metric's folder: app.py unchanged, requirements.txt with the package line.
    assert (space / "app.py").read_bytes() == (MATRIX_ACCURACY_PATH / "app.py").read_bytes()
    assert (space / "requirements.txt").read_text() == (MATRIX_ACCURACY_PATH / "requirements.txt").read_text()

    # app.py against a stand-in gradio that records the interface: no removed gradio API, and the function works.
    fake = types.ModuleType("gradio")
    fake.Textbox = lambda **kw: ("Textbox", kw)
    fake.JSON = lambda **kw: ("JSON", kw)
    fake.Interface = lambda **kw: types.SimpleNamespace(launch=lambda: None, **kw)
    monkeypatch.setitem(sys.modules, "gradio", fake)
    app = runpy.run_path(str(space / "app.py"))
    out = app["demo"].fn("[[3.0, 1.0]]", "[[3.0, 1.5]]", "eigenvalues", "", "")
    assert out["accuracy@0.05"] == 0.0 and out["well_formed"] == 1.0
    assert "gr.inputs" not in (space / "app.py").read_text()

    other = tmp_path / "x"
    hub.build_metric_space(other, "someone/tol_acc", package_requirement="linalg-transformers @ git+https://x/y")
    assert {p.name for p in other.iterdir()} == {"tol_acc.py", "README.md", "app.py", "requirements.txt"}
    assert (other / "requirements.txt").read_text().splitlines()[0] == "linalg-transformers @ git+https://x/y"
    app = runpy.run_path(str(other / "app.py"))  # the same app finds the module named after this Space
    assert app["module_file"]() == (other / "tol_acc.py").resolve()
    assert app["demo"].fn("[[3.0, 1.0]]", "[[3.0, 1.01]]", "eigenvalues", "", "")["accuracy@0.05"] == 1.0
    (other / "stray.py").write_text("")
    with pytest.raises(RuntimeError, match="one evaluate module"):
        runpy.run_path(str(other / "app.py"))
    with pytest.raises(ValueError, match="identifier"):
        hub.build_metric_space(tmp_path / "y", "someone/tol-acc")

    fake_hub = FakeHub(remote_files=[".gitattributes", "README.md"])
    hub.push_folder(space, "linalg/matrix_accuracy", repo_type="space", api=fake_hub)
    assert fake_hub.created[0][1]["space_sdk"] == "gradio" and fake_hub.commits[0]["repo_type"] == "space"


def test_format_duration():
    assert hub.format_duration(41.26) == "41.3 s"
    assert hub.format_duration(727) == "12 min 07 s"
    assert hub.format_duration(7500) == "2 h 05 min"
    with pytest.raises(ValueError):
        hub.format_duration(float("nan"))


def test_a_command_number_in_e_notation_matches_the_recorded_float():
    from linalg_transformers.hub.card import _check_training_command

    _check_training_command("python training/train.py --learning_rate 2e-4", {"learning_rate": 0.0002}, "runs")
    with pytest.raises(ValueError, match="sets --learning_rate 3e-4"):
        _check_training_command("python training/train.py --learning_rate 3e-4", {"learning_rate": 0.0002}, "runs")
