"""The training record: the recorded command line, and training independent of the publishing code."""

from __future__ import annotations

import doctest
import json
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from linalg_transformers import record
from linalg_transformers.record import training_command

ROOT = Path(__file__).resolve().parents[1]
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "HF_HUB_OFFLINE": "1"}


def run_fresh(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a new interpreter (nothing imported yet) from the repository root."""
    command = [sys.executable, "-c", textwrap.dedent(code)]
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_docstring_examples():
    result = doctest.testmod(record, raise_on_error=True)
    assert result.attempted >= 2


def test_training_command_runs_the_script_with_the_arguments_given():
    argv = ["--config", "training/configs/smoke.yaml", "--output_dir", "runs/a b", "--lr_scheduler_kwargs", '{"x": 1}']
    command = training_command(argv)
    assert command.startswith("python training/train.py --config training/configs/smoke.yaml ")
    assert shlex.split(command) == ["python", "training/train.py", *argv]  # quoting keeps every argument whole
    launched = shlex.split(training_command(argv, num_processes=4))
    assert launched[:5] == ["accelerate", "launch", "--multi_gpu", "--num_processes", "4"]
    assert launched[5:] == ["training/train.py", *argv]
    with pytest.raises(ValueError, match="num_processes"):
        training_command(argv, num_processes=0)


def test_the_record_module_imports_neither_the_model_nor_the_hub():
    """Loaded without the package's __init__ (which registers the model), record.py pulls in only numpy and yaml."""
    result = run_fresh(
        f"""
        import json, sys, types

        package = types.ModuleType("linalg_transformers")
        package.__path__ = [{str(ROOT / "src" / "linalg_transformers")!r}]
        sys.modules["linalg_transformers"] = package
        import linalg_transformers.record

        heavy = ("huggingface_hub", "jinja2", "transformers", "torch", "safetensors", "evaluate")
        print(json.dumps({{
            "heavy": sorted(m for m in sys.modules if m.split(".")[0] in heavy),
            "package": sorted(m for m in sys.modules if m.startswith("linalg_transformers.")),
        }}))
        """
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["heavy"] == []
    assert loaded["package"] == ["linalg_transformers.record", "linalg_transformers.scoring"]


def test_training_script_does_not_import_the_publishing_code():
    result = run_fresh(
        f"""
        import json, sys

        sys.path.insert(0, {str(ROOT / "training")!r})
        import train

        print(json.dumps(sorted(m for m in sys.modules if m.startswith("linalg_transformers."))))
        """
    )
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert "linalg_transformers.record" in modules  # the record it writes and the lineage it reads
    assert not [m for m in modules if m == "linalg_transformers.hub" or m.startswith("linalg_transformers.hub.")]


def test_lineage_examples_counts_the_whole_lineage_or_says_it_cannot():
    assert record.lineage_examples({"examples_seen": 640, "examples_seen_total": 5_640}) == 5_640  # published
    assert record.lineage_examples({"examples_seen": 640}) == 640  # from scratch
    assert (
        record.lineage_examples({"examples_seen": 640, "init_from": {"model": "m", "examples_seen": 5_000}}) == 5_640
    )
    # a start whose examples are unknown is not counted as zero
    assert record.lineage_examples({"examples_seen": 640, "init_from": {"model": "org/unknown"}}) is None
