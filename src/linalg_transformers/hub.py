"""Publishing to the Hugging Face Hub, and released checkpoints offline.

Three jobs, each also a ``linalg-transformers`` subcommand (`add_hub_commands`):

- ``publish``: turn a training output directory (``training/train.py --output_dir``) into the complete Hub model
  repository: ``model.safetensors`` in a release dtype, ``config.json`` (``auto_map`` for AutoConfig, AutoModel and
  AutoModelForSeq2SeqLM, ``custom_pipelines`` for the registered pipelines of the problem), ``generation_config.json``,
  the tokenizer (``auto_map`` for AutoTokenizer), the package's configuration/modeling/tokenization/pipeline code as
  remote code, the training record (``results.json``, ``results.md``, ``training_args.yaml``, ``metrics.jsonl``,
  ``training_curves.png``) and a ``README.md`` model card rendered from ``model_cards/<card>.md`` with the measured
  numbers as ``model-index`` metadata. The folder is built from an allow-list, so optimizer, scheduler and RNG state,
  ``trainer_state.json``, ``checkpoint-*/`` folders, training data and credentials never reach it; it is then written
  to a local folder or pushed in one commit (`push_folder`).
- ``publish-metric``: the ``matrix_accuracy`` evaluate module as a Hub Space (module, metric card with Space front
  matter, ``app.py``, ``requirements.txt``).
- ``install-checkpoints``: put every released checkpoint folder ``checkpoints/<org>/<name>/`` into the local Hugging
  Face cache exactly as a download would (``models--org--name/{blobs,snapshots,refs/main}``), so that with
  ``HF_HUB_OFFLINE=1`` ``AutoModel.from_pretrained("org/name")`` and the pipelines' default models load anywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import importlib
import importlib.util
import json
import logging
import math
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import torch
import yaml
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    EvalResult,
    HfApi,
    ModelCard,
    ModelCardData,
    SpaceCard,
    SpaceCardData,
)
from huggingface_hub import constants as hf_constants
from huggingface_hub.utils.sha import git_hash
from transformers.dynamic_module_utils import custom_object_save

from .evaluation import TOLERANCES, evaluate_model, format_accuracy_table, load_model
from .modeling_matrix_seq2seq import MatrixSeq2SeqForConditionalGeneration
from .problems import get_problem, test_set
from .problems.test_sets import DEFAULT_TEST_SEED
from .tokenization_matrix import MatrixTokenizer

__all__ = [
    "CARD_SECTIONS",
    "DEFAULT_METRIC_REPO",
    "RELEASE_DTYPES",
    "InstalledCheckpoint",
    "TrainingOutput",
    "add_hub_commands",
    "audit_repo_folder",
    "build_metric_space",
    "build_model_repo",
    "install_checkpoints",
    "publish_metric",
    "publish_model",
    "push_folder",
    "render_model_card",
    "snapshot_commit_id",
]

logger = logging.getLogger(__name__)

CARD_SECTIONS = (
    "Model",
    "Intended use",
    "Training data and procedure",
    "Results",
    "How to reproduce",
    "Limitations",
    "Citation",
)
"""The fixed sections of every model card, in order (the template writes them; card sources add prose to them)."""

PROSE_SECTIONS = CARD_SECTIONS[:-1]
"""Sections a card source must write (the citation is the same for every card)."""

RELEASE_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
"""Storage dtypes of ``model.safetensors`` in a published repository."""

DEFAULT_RELEASE_DTYPE = "float16"
"""Storage dtype of published weights by default. Measured on linalg/eigen-p1000 (2026-12-01): float16 weights gave
the trained model's greedy answer on 95.8% of the first 1,000 test problems, bfloat16 on 69% of the first 256 (its
7-bit mantissa moves the logits of neighbouring mantissa tokens past each other); both halve the file."""

LOAD_DTYPE = "float32"
"""``dtype`` written into a published config.json: what ``from_pretrained`` computes in by default. bf16 and fp16 are
emulated (slow) on most CPUs, so released weights are stored small and loaded as float32 unless the user passes
``dtype=torch.bfloat16`` (GPU)."""

DEFAULT_METRIC_REPO = "linalg/matrix_accuracy"
"""Hub Space of the ``matrix_accuracy`` evaluate module."""

DEFAULT_PIPELINE_TASKS = {"eigenvalues": "matrix-eigen"}
"""Pipeline task of a training problem, used when the pipeline class does not list its problems itself
(a ``problems`` class attribute: the problem names it serves)."""

CITATION = """\
@article{charton2022linear,
  title={Linear algebra with transformers},
  author={Charton, Fran{\\c{c}}ois},
  journal={Transactions on Machine Learning Research},
  year={2022},
  url={https://openreview.net/forum?id=Hp4g7FAXXG}
}"""

REQUIRED_TRAINING_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "results.json",
    "training_args.yaml",
)
"""What a training output directory must hold to be published."""

OPTIONAL_TRAINING_FILES = ("results.md", "metrics.jsonl", "training_curves.png")
"""Training records copied into the repository when present."""

# Keys that `from_pretrained` leaks into a re-saved tokenizer_config.json; "token" would be a credential.
_LOAD_TIME_TOKENIZER_KEYS = (
    "is_local",
    "local_files_only",
    "cache_dir",
    "token",
    "use_auth_token",
    "revision",
    "subfolder",
    "trust_remote_code",
    "_commit_hash",
    "force_download",
    "proxies",
)
# Names that must never be part of a published repository (a second line of defence behind the allow-list).
_FORBIDDEN_NAME = re.compile(
    r"(^|/)(checkpoint-[^/]*/|optimizer\.|scheduler\.|rng_state|trainer_state\.json$|training_args\.bin$|\.env$|"
    r"token$|\.git-credentials$|\.netrc$)|\.(pt|pth|pkl|pickle|ckpt|parquet|arrow)$"
)
_TOKEN_PATTERN = re.compile(rb"hf_[A-Za-z0-9]{30,}")
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Files stored through LFS on the Hub (their cache blob is named by sha256; other files by their git blob hash).
_LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".png", ".jpg", ".parquet", ".arrow", ".npy", ".npz", ".zip")
_LFS_MIN_SIZE = 10 * 1024 * 1024


# --------------------------------------------------------------------------------------------------- utilities
def validate_repo_id(repo_id: str) -> tuple[str, str]:
    """Split ``org/name`` after checking its form.

    Raises:
        ValueError: if `repo_id` is not ``org/name`` with Hub-valid characters.
    """
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id) or ".." in repo_id:
        raise ValueError(f"repo id must look like 'org/name' (letters, digits, '-', '_', '.'); got {repo_id!r}")
    org, name = repo_id.split("/")
    return org, name


def _project_path(name: str) -> Path:
    """``./name`` if it exists, else the copy next to the package source (a checkout with an editable install)."""
    here = Path.cwd() / name
    if here.exists():
        return here
    return Path(__file__).resolve().parents[2] / name


def format_duration(seconds: float) -> str:
    """A wall-clock duration for a model card, e.g. ``"2 h 05 min"``, ``"12 min 07 s"`` or ``"41.3 s"``."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be a finite number of seconds >= 0; got {seconds!r}")
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def _tolerance_label(t: float) -> str:
    return f"{100 * t:g}%"


# ---------------------------------------------------------------------------------------------- training output
@dataclass
class TrainingOutput:
    """What `training/train.py` left in its output directory, read back for publishing.

    Attributes:
        path (`Path`): The output directory.
        config (`dict`): ``config.json``.
        results (`dict`): ``results.json``: ``test_sets`` (test-set name -> accuracy dict), ``examples_seen``,
            ``steps``, ``test_size``, ``problem``, ``encodings``, ``hardware``, ...
        training_args (`dict`): ``training_args.yaml`` (the resolved training arguments).
        metrics (`list[dict]`): ``metrics.jsonl`` entries (empty when the file is absent).
    """

    path: Path
    config: dict[str, Any]
    results: dict[str, Any]
    training_args: dict[str, Any]
    metrics: list[dict[str, Any]]

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrainingOutput:
        """Read a training output directory.

        Raises:
            ValueError: if a required file is missing or malformed.
        """
        path = Path(path)
        if not path.is_dir():
            raise ValueError(f"{path} is not a directory: give the output_dir of training/train.py")
        missing = [f for f in REQUIRED_TRAINING_FILES if not (path / f).is_file()]
        if missing:
            raise ValueError(
                f"{path} is not a finished training output of training/train.py: missing {missing} "
                "(the final model, tokenizer, results.json and training_args.yaml are written when training ends)"
            )
        config = json.loads((path / "config.json").read_text())
        if config.get("model_type") != "matrix_seq2seq":
            raise ValueError(f"{path}/config.json has model_type {config.get('model_type')!r}, not 'matrix_seq2seq'")
        results = json.loads((path / "results.json").read_text())
        for key in ("test_sets", "problem", "examples_seen", "steps", "test_size", "hardware"):
            if key not in results:
                raise ValueError(f"{path}/results.json has no {key!r}: was it written by training/train.py?")
        for name, row in results["test_sets"].items():
            absent = [f"accuracy@{t:g}" for t in TOLERANCES if f"accuracy@{t:g}" not in row]
            if absent:
                raise ValueError(f"{path}/results.json: test set {name!r} lacks {absent}")
        training_args = yaml.safe_load((path / "training_args.yaml").read_text()) or {}
        if not isinstance(training_args, dict):
            raise ValueError(f"{path}/training_args.yaml is not a mapping of training arguments")
        metrics = []
        if (path / "metrics.jsonl").is_file():
            metrics = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines() if line.strip()]
        return cls(path=path, config=config, results=results, training_args=training_args, metrics=metrics)

    def training_sessions(self) -> list[float]:
        """Wall-clock seconds of each training session (a resumed run starts a new one), from ``metrics.jsonl``.

        `train.py` logs ``wall_time`` since the start of its process; it falls back at each resume.
        """
        sessions: list[float] = []
        last: float | None = None
        for entry in self.metrics:
            t = entry.get("wall_time")
            if not isinstance(t, (int, float)):
                continue
            if last is None or t < last:
                sessions.append(float(t))
            else:
                sessions[-1] = float(t)
            last = float(t)
        return sessions

    def train_seconds(self, default: float = math.nan) -> float:
        """Wall-clock seconds of the whole run: its sessions added up, else the last session's (``results.json``)."""
        return sum(self.training_sessions()) or float(self.results.get("train_seconds_this_run", default))


def sanitized_training_args(training_args: dict[str, Any]) -> dict[str, Any]:
    """The training arguments without credential fields (``hub_token`` and any other ``*_token``)."""
    return {k: v for k, v in training_args.items() if not k.endswith("_token")}


def training_lineage(
    init_from: str | os.PathLike | None, run_args: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """What the model a run started from (``--init_from``) had itself been trained on, read from its folder.

    A training output directory or a published repository folder both hold ``results.json`` (and ``metrics.jsonl``
    for the wall time); a chain of ``--init_from`` runs adds up through ``examples_seen_total`` and
    ``train_seconds_total``, which publishing writes into the repository's ``results.json``.

    A run republished into the folder it started from finds itself there: that folder's recorded ``init_from`` is then
    the lineage (counting the run twice is what a naive reading gives).

    Args:
        init_from (`str` or `os.PathLike`, *optional*): The ``init_from`` training argument.
        run_args (`dict`, *optional*): The training arguments of the run whose lineage this is; a folder published
            from the same arguments is that run itself.

    Returns:
        `dict` or `None`: `None` without `init_from`; else ``model`` (the path or id as given) and, when the folder
        holds a training record, ``examples_seen`` and ``train_seconds`` (everything that model had been trained
        on, its own ``init_from`` included) and ``hardware``.
    """
    if not init_from:
        return None
    lineage: dict[str, Any] = {"model": str(init_from)}
    try:
        prior = TrainingOutput.load(init_from)
    except ValueError:  # a Hub id, or a folder without a training record: what it saw is unknown
        return lineage
    r = prior.results
    if run_args is not None and prior.training_args == sanitized_training_args(run_args):
        return r.get("init_from") or lineage  # the run itself, published there earlier
    own = r.get("init_from") or {}
    seconds = r.get("train_seconds_total")
    if seconds is None:
        seconds = prior.train_seconds(default=0.0) + float(own.get("train_seconds", 0.0))
    examples = r.get("examples_seen_total", int(r["examples_seen"]) + int(own.get("examples_seen", 0)))
    lineage.update(examples_seen=int(examples), train_seconds=round(float(seconds), 1), hardware=r["hardware"])
    return lineage


def published_lineage(output: TrainingOutput) -> dict[str, Any] | None:
    """The lineage of a training output: recorded by `train.py` at the end of training, else read now."""
    args = output.training_args
    return output.results.get("init_from") or training_lineage(args.get("init_from"), run_args=args)


def published_results(output: TrainingOutput) -> dict[str, Any]:
    """``results.json`` as published: the training output's, plus ``init_from`` and the totals of a chain of runs."""
    results = dict(output.results)
    lineage = published_lineage(output)
    if lineage:
        results["init_from"] = lineage
    if lineage and "examples_seen" in lineage:
        seconds = output.train_seconds(default=0.0)
        results["examples_seen_total"] = int(results["examples_seen"]) + lineage["examples_seen"]
        results["train_seconds_total"] = round(seconds + lineage["train_seconds"], 1)
    return results


# --------------------------------------------------------------------------------------------- pipeline code
def registered_pipelines() -> dict[str, dict[str, Any]]:
    """The pipeline tasks this package registered with `transformers` (task -> registry entry)."""
    with contextlib.suppress(ImportError):  # the pipeline module registers its tasks on import
        if importlib.util.find_spec(f"{__package__}.pipeline_matrix") is not None:
            importlib.import_module(f"{__package__}.pipeline_matrix")
    from transformers.pipelines import PIPELINE_REGISTRY

    return {
        task: info
        for task, info in PIPELINE_REGISTRY.supported_tasks.items()
        if isinstance(info.get("impl"), type) and info["impl"].__module__.startswith(f"{__package__}.")
    }


def pipeline_tasks_for(problem_name: str, tasks: Sequence[str] | None = None) -> list[str]:
    """The pipeline tasks to ship with a model trained on `problem_name`.

    Args:
        problem_name (`str`): The training problem (``config.training_problem["name"]``).
        tasks (`Sequence[str]`, *optional*): Explicit choice; each must be a task this package registered.

    Returns:
        `list[str]`: tasks whose pipeline class lists the problem in its ``problems`` attribute, else the
        `DEFAULT_PIPELINE_TASKS` entry if registered, else none.
    """
    registered = registered_pipelines()
    if tasks is not None:
        unknown = sorted(set(tasks) - set(registered))
        if unknown:
            raise ValueError(f"unknown pipeline task(s) {unknown}; this package registers {sorted(registered)}")
        return list(tasks)
    chosen = [t for t, info in registered.items() if problem_name in getattr(info["impl"], "problems", ())]
    if not chosen and DEFAULT_PIPELINE_TASKS.get(problem_name) in registered:
        chosen = [DEFAULT_PIPELINE_TASKS[problem_name]]
    return chosen


def _save_pipeline_code(tasks: Sequence[str], folder: Path, config: dict[str, Any]) -> None:
    """Copy the pipeline modules into `folder` and describe them in ``config["custom_pipelines"]``.

    The same entry `Pipeline.save_pretrained` writes, so ``pipeline(model=repo, trust_remote_code=True)`` works
    without the package. Note (transformers 5.23): once a task is listed in a model's ``custom_pipelines``,
    ``pipeline(task, model=repo)`` resolves it to the repository's code and asks for ``trust_remote_code=True`` even
    where the package registered the task; ``pipeline(task)`` (the task's default model) and
    ``pipeline(task, model=repo, pipeline_class=...)`` use the local class.
    """
    registered = registered_pipelines()
    custom: dict[str, Any] = {}
    for task in tasks:
        info = registered[task]
        impl = info["impl"]
        entry: dict[str, Any] = {
            "impl": f"{impl.__module__.rsplit('.', 1)[-1]}.{impl.__name__}",
            "pt": [c.__name__ for c in info.get("pt", ())],
        }
        if info.get("default") is not None:
            entry["default"] = json.loads(json.dumps(info["default"]))  # tuples -> lists, as JSON would
        if info.get("type") is not None:
            entry["type"] = info["type"]
        custom[task] = entry
        custom_object_save(impl, folder)
    if custom:
        config["custom_pipelines"] = custom


def _check_remote_code(folder: Path) -> None:
    """Every copied module must import the package relatively, or it cannot load without the package."""
    for py in sorted(folder.glob("*.py")):
        for line in py.read_text().splitlines():
            stripped = line.strip()
            if re.match(rf"^(from|import)\s+{__package__}\b", stripped):
                raise ValueError(
                    f"{py.name} imports {__package__} absolutely ({stripped!r}): remote code must use relative "
                    "imports, or the repository does not load where the package is not installed"
                )


# ----------------------------------------------------------------------------------------------- audit
def audit_repo_folder(folder: str | os.PathLike) -> list[str]:
    """List a repository folder after checking it holds nothing that must not be published.

    Raises:
        ValueError: on optimizer/scheduler/RNG state, trainer state, ``checkpoint-*`` folders, pickles, training
            data, credential files, or anything that looks like a Hugging Face token.

    Returns:
        `list[str]`: the files, as POSIX paths relative to `folder`, sorted.
    """
    folder = Path(folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    for rel in files:
        if _FORBIDDEN_NAME.search(rel):
            raise ValueError(f"{folder}: {rel!r} must not be published (training state, data or credentials)")
        if _TOKEN_PATTERN.search((folder / rel).read_bytes()):
            raise ValueError(f"{folder}: {rel!r} contains something that looks like a Hugging Face token")
    return files


# ------------------------------------------------------------------------------------------------ model card
def _split_front_matter(text: str, source: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---\n"):
        raise ValueError(f"{source}: a card source starts with YAML front matter between '---' lines")
    end = text.find("\n---\n", 4)
    if end < 0:
        raise ValueError(f"{source}: the YAML front matter is not closed by a '---' line")
    meta = yaml.safe_load(text[4:end]) or {}
    if not isinstance(meta, dict):
        raise ValueError(f"{source}: the front matter must be a YAML mapping")
    return meta, text[end + 5 :]


def read_card_source(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, str]]:
    """Read ``model_cards/<name>.md``: its front matter and the prose of each fixed section.

    Raises:
        ValueError: on a heading that is not one of `PROSE_SECTIONS`, a section out of order or missing, or
            text before the first section.

    Returns:
        `(metadata, sections)`: the front matter, and section title -> Markdown (a Jinja template).
    """
    path = Path(path)
    meta, body = _split_front_matter(path.read_text(), str(path))
    parts = re.split(r"^## +(.+?) *$", body, flags=re.MULTILINE)
    if parts[0].strip():
        raise ValueError(f"{path}: text before the first '## ' section: {parts[0].strip()[:60]!r}")
    titles = parts[1::2]
    unknown = [t for t in titles if t not in PROSE_SECTIONS]
    if unknown:
        raise ValueError(f"{path}: unknown section(s) {unknown}; a card source has exactly {list(PROSE_SECTIONS)}")
    if titles != list(PROSE_SECTIONS):
        raise ValueError(f"{path}: sections {titles}; expected exactly {list(PROSE_SECTIONS)}, in this order")
    return meta, {t: text.strip() for t, text in zip(titles, parts[2::2])}


_CARD_KEYS = {
    "summary": str,
    "license": str,
    "tags": list,
    "pipeline_tag": str,
    "test_set_labels": dict,
    "example_input": str,
    "example_reference": str,
}


def _read_runs(path: Path | None, training_args: dict[str, Any]) -> dict[str, Any]:
    """The optional runs file: ``commands`` (the training commands run, in order) and ``notes``.

    The last training command is checked against the resolved ``training_args.yaml``: its ``--config`` and every
    ``--key value`` it sets must match, so a card cannot show a command that did not produce the checkpoint.
    """
    if path is None:
        return {"commands": [], "notes": ""}
    data = yaml.safe_load(Path(path).read_text()) or {}
    unknown = sorted(set(data) - {"commands", "notes"})
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; a runs file has 'commands' (list) and 'notes' (text)")
    commands = data.get("commands") or []
    if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
        raise ValueError(f"{path}: 'commands' must be a list of command lines")
    training = [c for c in commands if "train.py" in c]
    if training:
        _check_training_command(training[-1], training_args, str(path))
    return {"commands": commands, "notes": str(data.get("notes") or "").strip()}


def _check_training_command(command: str, training_args: dict[str, Any], source: str) -> None:
    words = shlex.split(command)
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("--") and i + 1 < len(words) and not words[i + 1].startswith("--"):
            key, value = word[2:].replace("-", "_"), words[i + 1]
            i += 2
            if key not in training_args:
                continue  # an accelerate/torchrun option
            expected = training_args[key]
            if key == "config":  # the same file, written relative or absolute
                a, b = Path(value).as_posix(), Path(str(expected)).as_posix()
                same = a == b or a.endswith(f"/{b}") or b.endswith(f"/{a}")
            else:
                got = yaml.safe_load(value)
                same = got == expected or str(got) == str(expected)
            if not same:
                raise ValueError(
                    f"{source}: the training command sets --{key} {value}, but the checkpoint was trained with "
                    f"{key}={expected!r} (training_args.yaml)"
                )
        else:
            i += 1


def describe_problem(problem: dict[str, Any]) -> str:
    """One line describing a training problem from its ``config_dict()``, for cards."""
    opts = dict(problem)
    name = opts.pop("name")
    dim = opts.pop("dim", None)
    dims = f"{dim[0]}x{dim[0]} to {dim[1]}x{dim[1]}" if isinstance(dim, list) else f"{dim}x{dim}"
    text = f"`{name}` on {dims} matrices"
    if opts.pop("rectangular", False):
        text += " (rectangular)"
    if "coeff_range" in opts:
        text += (
            f", coefficients {opts.pop('coeff_distribution', 'uniform')} in "
            f"[-{opts['coeff_range']:g}, {opts.pop('coeff_range'):g}]"
        )
    if opts.get("eigen_distribution"):
        text += f", eigenvalue distribution `{opts.pop('eigen_distribution')}`"
    if opts.get("tasks"):
        text += f", tasks {', '.join(opts.pop('tasks'))}"
    noise = opts.pop("noise", 0.0)
    if noise:
        text += f", input noise {noise:g}"
    rest = {k: v for k, v in opts.items() if v not in (None, False)}
    if rest:
        text += ", " + ", ".join(f"{k}={v}" for k, v in rest.items())
    return text


_TRAINING_TABLE_KEYS = (
    "problem",
    "dim",
    "dim_max",
    "coeff_range",
    "coeff_distribution",
    "eigen_distribution",
    "noise",
    "cotraining_tasks",
    "input_encoding",
    "output_encoding",
    "init_from",
    "numeric_init",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_steps",
    "optim",
    "learning_rate",
    "lr_scheduler_type",
    "lr_scheduler_kwargs",
    "warmup_steps",
    "weight_decay",
    "max_grad_norm",
    "bf16",
    "fp16",
    "seed",
)


def _card_context(
    output: TrainingOutput,
    repo_id: str,
    card_meta: dict[str, Any],
    runs: dict[str, Any],
    dtype: str,
    n_parameters: int,
    dtype_check: dict[str, Any],
    pipeline_tasks: Sequence[str],
    card_name: str,
) -> dict[str, Any]:
    results, args, config = output.results, output.training_args, output.config
    problem = results["problem"]
    in_dist = problem.get("eigen_distribution")
    labels = dict(card_meta.get("test_set_labels") or {})
    rows: dict[str, dict[str, float]] = {}
    sets = []
    for key, row in results["test_sets"].items():
        distribution = in_dist if key == "test" else key
        in_distribution = key == "test" or key == in_dist
        label = labels.get(key) or (
            f"{distribution or 'training distribution'} ({'in' if in_distribution else 'out of'} distribution)"
        )
        rows[label] = row
        sets.append({"key": key, "label": label, "distribution": distribution, "in_distribution": in_distribution})
    sessions, seconds = output.training_sessions(), output.train_seconds()
    session_note = "the last session only"
    if sessions:
        session_note = f"{len(sessions)} session{'s' if len(sessions) > 1 else ''}"
    training_rows = [(k, args[k]) for k in _TRAINING_TABLE_KEYS if k in args and args[k] not in (None, "", False)]
    examples, steps = int(results["examples_seen"]), int(results["steps"])
    lineage = published_lineage(output)
    examples_note = time_note = ""
    if lineage and "examples_seen" in lineage:
        examples_note = (
            f"; {examples + lineage['examples_seen']:,} in all, counting the {lineage['examples_seen']:,} of the "
            f"model this run started from (`{lineage['model']}`, `--init_from`)"
        )
        if math.isfinite(seconds):
            time_note = (
                f"; {format_duration(seconds + lineage['train_seconds'])} in all with the model it started from "
                f"({lineage['hardware']})"
            )
    elif lineage:
        examples_note = f"; started from `{lineage['model']}` (`--init_from`), whose training is not recorded here"
    org, name = validate_repo_id(repo_id)

    def acc(test_set_key: str, tolerance: float) -> str:
        """Accuracy of a test set at a tolerance, as a percentage string (for card prose)."""
        if test_set_key not in results["test_sets"]:
            raise ValueError(f"results.json has no test set {test_set_key!r}; it has {list(results['test_sets'])}")
        return _pct(results["test_sets"][test_set_key][f"accuracy@{tolerance:g}"])

    return {
        "repo_id": repo_id,
        "org": org,
        "name": name,
        "card_name": card_name,
        "summary": card_meta.get("summary", ""),
        "problem": problem,
        "problem_text": describe_problem(problem),
        "problem_name": problem["name"],
        "dim": problem.get("dim"),
        "input_encoding": results.get("encodings", [None, None])[0] or args.get("input_encoding"),
        "output_encoding": results.get("encodings", [None, None])[-1] or args.get("output_encoding"),
        "config": config,
        "n_parameters": f"{n_parameters:,}",
        "dtype": dtype,
        "load_dtype": LOAD_DTYPE,
        "dtype_check": dtype_check,
        "results_table": format_accuracy_table(rows),
        "test_sets": sets,
        "ood_sets": [s for s in sets if not s["in_distribution"]],
        "test_size": f"{int(results['test_size']):,}",
        "test_size_int": int(results["test_size"]),
        "reproduce_sets": repr([(s["label"], s["distribution"]) for s in sets]),
        "test_seed": args.get("test_seed") if args.get("test_seed") is not None else DEFAULT_TEST_SEED,
        "tolerances": [_tolerance_label(t) for t in TOLERANCES],
        "examples_seen": f"{examples:,}",
        "examples_note": examples_note,
        "lineage_model": lineage["model"] if lineage else None,
        "time_note": time_note,
        "steps": f"{steps:,}",
        "batch_examples": f"{examples // steps:,}" if steps else "0",
        "hardware": results["hardware"],
        "training_time": format_duration(seconds) if math.isfinite(seconds) else "not recorded",
        "training_sessions": session_note,
        "training_rows": training_rows,
        "original_config": args.get("config"),
        "runs": runs,
        "has_curves": (output.path / "training_curves.png").is_file(),
        "pipeline_tasks": list(pipeline_tasks),
        "pipeline_default_models": _pipeline_default_models(pipeline_tasks),
        "example_input": str(card_meta.get("example_input", "")).rstrip(),
        "example_reference": str(card_meta.get("example_reference", "")).strip(),
        "citation": CITATION,
        "tolerance_values": list(TOLERANCES),
        "acc": acc,
        "pct": _pct,
    }


def _pipeline_default_models(tasks: Sequence[str]) -> dict[str, str]:
    """The registered default model id of each pipeline task (``register_pipeline(default={"model": (id, rev)})``)."""
    registered = registered_pipelines() if tasks else {}
    out = {}
    for task in tasks:
        default = (registered.get(task) or {}).get("default") or {}
        model = default.get("model")
        if isinstance(model, (tuple, list)) and model:
            out[task] = str(model[0])
        elif isinstance(model, str):
            out[task] = model
    return out


def _eval_results(output: TrainingOutput, context: dict[str, Any]) -> list[EvalResult]:
    """``model-index`` entries: every test set at every tolerance."""
    problem = output.results["problem"]
    out = []
    for s in context["test_sets"]:
        row = output.results["test_sets"][s["key"]]
        dataset_args = {
            **{k: v for k, v in problem.items() if k != "eigen_distribution"},
            "size": int(output.results["test_size"]),
            "seed": context["test_seed"],
        }
        if s["distribution"]:
            dataset_args["eigen_distribution"] = s["distribution"]
        for t in TOLERANCES:
            out.append(
                EvalResult(
                    task_type="other",
                    task_name=f"{problem['name']} ({context['input_encoding']} -> {context['output_encoding']})",
                    dataset_type="synthetic",
                    dataset_name=f"{problem['name']} fixed test set, {s['label']}",
                    dataset_config=s["distribution"] or "default",
                    dataset_split="test",
                    dataset_args=dataset_args,
                    metric_type="matrix_accuracy",
                    metric_name=f"accuracy at {_tolerance_label(t)} tolerance",
                    metric_value=float(row[f"accuracy@{t:g}"]),
                    metric_args={"tolerance": t},
                )
            )
    return out


def render_model_card(
    card_source: str | os.PathLike,
    output: TrainingOutput,
    repo_id: str,
    *,
    runs_file: str | os.PathLike | None = None,
    dtype: str = DEFAULT_RELEASE_DTYPE,
    n_parameters: int = 0,
    dtype_check: dict[str, Any] | None = None,
    pipeline_tasks: Sequence[str] = (),
    template: str | os.PathLike | None = None,
) -> ModelCard:
    """Render ``README.md`` of a model repository from a card source and the training output.

    Every number in the card comes from the training output (``results.json``, ``training_args.yaml``,
    ``metrics.jsonl``, ``config.json``) or from measurements made while publishing (`dtype_check`). The card
    source's sections are Jinja templates with the same variables as the shared template (``acc("test", 0.05)``,
    ``problem_text``, ``examples_seen``, ...).

    Args:
        card_source (`str` or `os.PathLike`): ``model_cards/<name>.md``.
        output (`TrainingOutput`): The training output being published.
        repo_id (`str`): ``org/name``.
        runs_file (`str` or `os.PathLike`, *optional*): YAML with ``commands`` run and ``notes``.
        dtype (`str`, *optional*, defaults to `DEFAULT_RELEASE_DTYPE`): Storage dtype of the published weights.
        n_parameters (`int`, *optional*): Number of parameters.
        dtype_check (`dict`, *optional*): Result of the published-vs-trained weights comparison.
        pipeline_tasks (`Sequence[str]`, *optional*): Pipeline tasks shipped with the model.
        template (`str` or `os.PathLike`, *optional*): The shared template; defaults to ``_template.md`` next to
            the card source.

    Returns:
        `huggingface_hub.ModelCard` with `ModelCardData` metadata, including ``model-index``.
    """
    card_source = Path(card_source)
    if not card_source.is_file():
        raise ValueError(f"card source {card_source} does not exist")
    meta, sections = read_card_source(card_source)
    unknown = sorted(set(meta) - set(_CARD_KEYS))
    if unknown:
        raise ValueError(f"{card_source}: unknown front-matter key(s) {unknown}; valid: {sorted(_CARD_KEYS)}")
    missing = [key for key in ("summary", "example_input") if not meta.get(key)]
    if missing:
        raise ValueError(f"{card_source}: the front matter needs {missing} (see model_cards/README.md)")
    for key, kind in _CARD_KEYS.items():
        if key in meta and not isinstance(meta[key], kind):
            raise ValueError(f"{card_source}: front-matter key {key!r} must be a {kind.__name__}")
    runs = _read_runs(Path(runs_file) if runs_file else None, output.training_args)
    context = _card_context(
        output,
        repo_id,
        meta,
        runs,
        dtype,
        n_parameters,
        dtype_check or {},
        pipeline_tasks,
        card_source.stem,
    )
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    try:
        for key in ("summary", "example_input", "example_reference"):
            context[key] = env.from_string(context[key]).render(**context)
        context["sections"] = {t: env.from_string(text).render(**context).strip() for t, text in sections.items()}
        template_path = Path(template) if template else card_source.parent / "_template.md"
        data = ModelCardData(
            model_name=context["name"],
            library_name="transformers",
            license=meta.get("license", "apache-2.0"),
            tags=sorted({"linalg-transformers", "linear-algebra", "custom_code", *meta.get("tags", [])}),
            pipeline_tag=meta.get("pipeline_tag", "other"),
            metrics=[DEFAULT_METRIC_REPO],
            eval_results=_eval_results(output, context),
        )
        body = env.from_string(template_path.read_text()).render(card_data=data.to_yaml(), **context)
    except jinja2.UndefinedError as err:
        raise ValueError(f"{card_source}: {err} (see model_cards/README.md for the variables)") from None
    except jinja2.TemplateError as err:
        raise ValueError(f"{card_source}: template error: {err}") from None
    card = ModelCard(body)
    headings = re.findall(r"^## +(.+?) *$", card.text, flags=re.MULTILINE)
    if headings != list(CARD_SECTIONS):
        raise ValueError(f"the rendered card has sections {headings}; expected {list(CARD_SECTIONS)}")
    return card


# ------------------------------------------------------------------------------------------- model repository
@contextlib.contextmanager
def _tokenizer_remote_code() -> Iterator[None]:
    """Save the tokenizer with its code and an ``AutoTokenizer`` ``auto_map``, without changing the class for good."""
    previous = MatrixTokenizer._auto_class
    MatrixTokenizer.register_for_auto_class("AutoTokenizer")
    try:
        yield
    finally:
        MatrixTokenizer._auto_class = previous


def _same_predictions(
    model: Any, published_dir: Path, tokenizer: Any, problem: dict[str, Any], size: int
) -> dict[str, Any]:
    """Compare the published weights (loaded as a user would) with the trained ones on the fixed test set."""
    if size <= 0:
        return {}
    published = MatrixSeq2SeqForConditionalGeneration.from_pretrained(published_dir).eval()
    prob = get_problem(**problem)
    data = test_set(prob, size=size)
    tasks = getattr(data, "tasks", None)
    a = evaluate_model(model.eval(), tokenizer, prob, data.inputs, tasks=tasks, batch_size=256)
    b = evaluate_model(published, tokenizer, prob, data.inputs, tasks=tasks, batch_size=256)
    same = [
        (p is None and q is None) or (p is not None and q is not None and p.shape == q.shape and np.array_equal(p, q))
        for p, q in zip(a.predictions, b.predictions)
    ]
    return {
        "size": f"{size:,}",
        "same_output": _pct(sum(same) / len(same)),
        "accuracy_trained": _pct(a.metrics["accuracy@0.05"]),
        "accuracy_published": _pct(b.metrics["accuracy@0.05"]),
        "published_dtype": str(published.dtype).removeprefix("torch."),
    }


def build_model_repo(
    checkpoint_dir: str | os.PathLike,
    repo_id: str,
    out_dir: str | os.PathLike,
    *,
    card: str | None = None,
    cards_dir: str | os.PathLike | None = None,
    runs_file: str | os.PathLike | None = None,
    dtype: str = DEFAULT_RELEASE_DTYPE,
    check_size: int = 256,
    pipeline_tasks: Sequence[str] | None = None,
) -> list[str]:
    """Write the complete Hub repository of a trained model into a new, empty folder.

    Args:
        checkpoint_dir (`str` or `os.PathLike`): Output directory of ``training/train.py``.
        repo_id (`str`): ``org/name`` (used by the card).
        out_dir (`str` or `os.PathLike`): Where to write; must not exist or be empty.
        card (`str`, *optional*): Card source name (``model_cards/<card>.md``); defaults to the repo name.
        cards_dir (`str` or `os.PathLike`, *optional*): Folder of the card sources (defaults to ``model_cards/``).
        runs_file (`str` or `os.PathLike`, *optional*): The runs file; defaults to ``<cards_dir>/<card>.runs.yaml``
            when it exists.
        dtype (`str`, *optional*, defaults to `DEFAULT_RELEASE_DTYPE`): ``bfloat16``, ``float16`` or ``float32``
            storage.
        check_size (`int`, *optional*, defaults to 256): Fixed-test-set problems on which the published weights are
            compared with the trained ones (0 skips the check).
        pipeline_tasks (`Sequence[str]`, *optional*): Pipeline tasks to ship; by default those of the problem.

    Returns:
        `list[str]`: the files written, relative to `out_dir`.
    """
    _, name = validate_repo_id(repo_id)
    if dtype not in RELEASE_DTYPES:
        raise ValueError(f"dtype must be one of {sorted(RELEASE_DTYPES)}; got {dtype!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"{out_dir} is not empty")
    output = TrainingOutput.load(checkpoint_dir)
    cards_dir = Path(cards_dir) if cards_dir else _project_path("model_cards")
    card = card or name
    card_source = cards_dir / f"{card}.md"
    if not card_source.is_file():
        available = sorted(p.stem for p in cards_dir.glob("*.md") if not p.name.startswith(("_", "README")))
        raise ValueError(f"no card source {card_source}; available cards: {available} (choose one with --card)")
    if runs_file is None and (cards_dir / f"{card}.runs.yaml").is_file():
        runs_file = cards_dir / f"{card}.runs.yaml"

    model, tokenizer = load_model(output.path)
    problem_name = (model.config.training_problem or output.results["problem"])["name"]
    tasks = pipeline_tasks_for(problem_name, pipeline_tasks)

    out_dir.mkdir(parents=True, exist_ok=True)
    release = copy.deepcopy(model).to(RELEASE_DTYPES[dtype])
    release.save_pretrained(out_dir)  # weights, config (auto_map), generation config, configuration/modeling code
    with _tokenizer_remote_code():
        tokenizer.save_pretrained(out_dir)  # tokenizer.json, tokenizer_config.json (auto_map), tokenization code
    tok_config_path = out_dir / "tokenizer_config.json"
    tok_config = json.loads(tok_config_path.read_text())
    for key in _LOAD_TIME_TOKENIZER_KEYS:
        tok_config.pop(key, None)
    tok_config_path.write_text(json.dumps(tok_config, indent=2, sort_keys=True) + "\n")

    config_path = out_dir / "config.json"
    config = json.loads(config_path.read_text())
    config["dtype"] = LOAD_DTYPE
    _save_pipeline_code(tasks, out_dir, config)
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    _check_remote_code(out_dir)

    for fname in OPTIONAL_TRAINING_FILES:
        if (output.path / fname).is_file():
            shutil.copyfile(output.path / fname, out_dir / fname)
    (out_dir / "results.json").write_text(json.dumps(published_results(output), indent=2) + "\n")
    (out_dir / "training_args.yaml").write_text(
        yaml.safe_dump(sanitized_training_args(output.training_args), sort_keys=True)
    )

    check = _same_predictions(model, out_dir, tokenizer, output.results["problem"], check_size)
    model_card = render_model_card(
        card_source,
        output,
        repo_id,
        runs_file=runs_file,
        dtype=dtype,
        n_parameters=sum(p.numel() for p in model.parameters()),
        dtype_check=check,
        pipeline_tasks=tasks,
    )
    model_card.save(out_dir / "README.md")
    return audit_repo_folder(out_dir)


# ------------------------------------------------------------------------------------------------- metric space
def build_metric_space(
    out_dir: str | os.PathLike,
    repo_id: str = DEFAULT_METRIC_REPO,
    *,
    package_requirement: str = "linalg-transformers",
) -> list[str]:
    """Write the ``matrix_accuracy`` evaluate module as a Hub Space into a new, empty folder.

    The Space holds ``<name>.py`` (the module, named after the repo so ``evaluate.load("org/<name>")`` finds it),
    ``README.md`` (the metric card with Space front matter), ``app.py`` and ``requirements.txt``.

    Args:
        out_dir (`str` or `os.PathLike`): Where to write; must not exist or be empty.
        repo_id (`str`, *optional*, defaults to ``"linalg/matrix_accuracy"``): The Space id.
        package_requirement (`str`, *optional*, defaults to ``"linalg-transformers"``): How the Space installs this
            package (the module imports it), e.g. ``"linalg-transformers @ git+https://..."``.

    Returns:
        `list[str]`: the files written.
    """
    from .metrics import MATRIX_ACCURACY_PATH

    _, name = validate_repo_id(repo_id)
    if not name.isidentifier():
        raise ValueError(f"the metric Space name must be a Python identifier (it names the module); got {name!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"{out_dir} is not empty")
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MATRIX_ACCURACY_PATH / "matrix_accuracy.py", out_dir / f"{name}.py")

    card_meta, card_body = _split_front_matter((MATRIX_ACCURACY_PATH / "README.md").read_text(), "metric card")
    extra = {k: v for k, v in card_meta.items() if k not in {"title", "sdk", "app_file", "tags", "license"}}
    data = SpaceCardData(
        title=name,
        sdk="gradio",
        app_file="app.py",
        license=card_meta.get("license", "apache-2.0"),
        tags=sorted({"evaluate", "metric", *card_meta.get("tags", [])}),
        **extra,
    )
    card = SpaceCard(f"---\n{data.to_yaml()}\n---\n{card_body}")
    card.save(out_dir / "README.md")
    (out_dir / "app.py").write_text(_METRIC_APP.format(module=f"{name}.py"))
    requirements = [package_requirement, "evaluate>=0.4.6,<0.5", "gradio>=4"]
    (out_dir / "requirements.txt").write_text("\n".join(requirements) + "\n")
    return audit_repo_folder(out_dir)


# Our own widget: evaluate's `launch_gradio_widget` uses `gr.inputs`, which gradio 4 removed.
_METRIC_APP = '''\
"""Gradio widget of the matrix_accuracy metric (a Hugging Face Space).

Paste predictions and references as JSON lists (matrices as nested lists, or token strings with an encoding).
"""

import json
from pathlib import Path

import evaluate
import gradio as gr

module = evaluate.load(str(Path(__file__).resolve().parent / "{module}"))


def compute(predictions: str, references: str, problem: str, encoding: str, inputs: str) -> dict:
    """Score JSON-encoded predictions against references with the problem's own check."""
    kwargs = {{"problem": problem}}
    if encoding:
        kwargs["encoding"] = encoding
    if inputs.strip():
        kwargs["inputs"] = json.loads(inputs)
    return module.compute(predictions=json.loads(predictions), references=json.loads(references), **kwargs)


demo = gr.Interface(
    fn=compute,
    inputs=[
        gr.Textbox(label="predictions (JSON list)", value="[[3.0, 1.0]]"),
        gr.Textbox(label="references (JSON list)", value="[[3.0, 1.01]]"),
        gr.Textbox(label="problem", value="eigenvalues"),
        gr.Textbox(label="encoding of token strings (P10, P1000, B1999, FP15; empty for numbers)", value=""),
        gr.Textbox(label="inputs (JSON list; needed for eigenvectors, svd, inverse)", value=""),
    ],
    outputs=gr.JSON(label="matrix_accuracy"),
    title="Metric: matrix_accuracy",
    description=module.info.description,
)

if __name__ == "__main__":
    demo.launch()
'''


# ------------------------------------------------------------------------------------------------------ pushing
def _remote_config(api: HfApi, repo_id: str, repo_type: str, files: Sequence[str]) -> dict[str, Any] | None:
    if "config.json" not in files:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = api.hf_hub_download(repo_id, "config.json", repo_type=repo_type, local_dir=tmp)
        return json.loads(Path(path).read_text())


def push_folder(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    repo_type: str = "model",
    api: HfApi | None = None,
    token: str | None = None,
    private: bool | None = None,
    force: bool = False,
    commit_message: str | None = None,
) -> Any:
    """Upload a built repository folder in one commit: every file added, every other remote file deleted.

    For a model repository whose existing ``config.json`` has another ``model_type``, or a Space that does not hold
    this module, nothing is uploaded unless `force`.

    Args:
        folder (`str` or `os.PathLike`): The folder (`build_model_repo` / `build_metric_space`).
        repo_id (`str`): ``org/name``.
        repo_type (`str`, *optional*, defaults to ``"model"``): ``"model"`` or ``"space"``.
        api (`HfApi`, *optional*): The client (tests pass a fake).
        token (`str`, *optional*): Hub token; defaults to the logged-in token.
        private (`bool`, *optional*): Visibility of a newly created repository.
        force (`bool`, *optional*, defaults to `False`): Overwrite a repository holding something else.
        commit_message (`str`, *optional*): Defaults to ``"Publish <repo_id> with linalg-transformers"``.

    Returns:
        `huggingface_hub.CommitInfo`.
    """
    validate_repo_id(repo_id)
    if repo_type not in ("model", "space"):
        raise ValueError(f"repo_type must be 'model' or 'space'; got {repo_type!r}")
    folder = Path(folder)
    files = audit_repo_folder(folder)
    api = api or HfApi(token=token)
    extra = {"space_sdk": "gradio"} if repo_type == "space" else {}
    api.create_repo(repo_id, repo_type=repo_type, exist_ok=True, private=private, **extra)
    remote_files = list(api.list_repo_files(repo_id, repo_type=repo_type))
    if not force:
        if repo_type == "model":
            remote = _remote_config(api, repo_id, repo_type, remote_files)
            local_type = json.loads((folder / "config.json").read_text()).get("model_type")
            if remote is not None and remote.get("model_type") != local_type:
                raise ValueError(
                    f"{repo_id} holds a model of type {remote.get('model_type')!r}, not {local_type!r}; "
                    "refusing to overwrite it (use --force)"
                )
        else:
            modules = [f for f in files if f.endswith(".py") and f != "app.py"]
            others = [f for f in remote_files if f not in (".gitattributes", "README.md")]
            if others and not set(modules) & set(remote_files):
                raise ValueError(f"Space {repo_id} holds other files ({others[:5]}); refusing to overwrite (--force)")
    operations: list[Any] = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(folder / f)) for f in files]
    operations += [
        CommitOperationDelete(path_in_repo=f) for f in remote_files if f not in files and f != ".gitattributes"
    ]
    return api.create_commit(
        repo_id,
        operations,
        commit_message=commit_message or f"Publish {repo_id} with linalg-transformers",
        repo_type=repo_type,
    )


def _push_possible(token: str | None) -> tuple[bool, str]:
    from huggingface_hub import get_token

    if hf_constants.HF_HUB_OFFLINE:
        return False, "HF_HUB_OFFLINE is set"
    if not (token or get_token()):
        return False, "no Hugging Face token (run `hf auth login` or set HF_TOKEN)"
    return True, ""


def _replace_folder(built: Path, target: Path, force: bool) -> None:
    """Move a freshly built folder to `target`, replacing an earlier build of the same kind of repository."""
    if target.exists() and any(target.iterdir()):
        config = target / "config.json"
        if not force:
            if built.joinpath("config.json").is_file():
                if not config.is_file():
                    raise ValueError(f"{target} exists and is not a model repository folder; refusing (use --force)")
                old = json.loads(config.read_text()).get("model_type")
                new = json.loads((built / "config.json").read_text()).get("model_type")
                if old != new:
                    raise ValueError(f"{target} holds a model of type {old!r}, not {new!r}; refusing (use --force)")
            elif not any(target.glob("*.py")):
                raise ValueError(f"{target} exists and is not a metric Space folder; refusing (use --force)")
        shutil.rmtree(target)
    elif target.exists():
        target.rmdir()
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(built), str(target))


def publish_model(
    checkpoint_dir: str | os.PathLike,
    repo_id: str,
    *,
    local_dir: str | os.PathLike | None = None,
    push: bool | None = None,
    force: bool = False,
    api: HfApi | None = None,
    token: str | None = None,
    private: bool | None = None,
    commit_message: str | None = None,
    **build_kwargs: Any,
) -> dict[str, Any]:
    """Build a model repository and write it to a folder or push it to the Hub.

    Args:
        checkpoint_dir (`str` or `os.PathLike`): Output directory of ``training/train.py``.
        repo_id (`str`): ``org/name``.
        local_dir (`str` or `os.PathLike`, *optional*): Write the repository here and do not push. When neither it
            nor `push` is given, the repository is pushed if a token and the network are available, and otherwise
            written to ``./checkpoints/<org>/<name>`` (the released-checkpoints layout; ``./spaces/<org>/<name>``
            for the metric Space).
        push (`bool`, *optional*): Push to the Hub (True) or only write a folder (False).
        force (`bool`, *optional*, defaults to `False`): Overwrite a repository or folder holding another model.
        api (`HfApi`, *optional*): Hub client (tests pass a fake).
        token (`str`, *optional*): Hub token.
        private (`bool`, *optional*): Visibility of a new Hub repository.
        commit_message (`str`, *optional*): Commit message.
        **build_kwargs: Passed to `build_model_repo` (``card``, ``dtype``, ``check_size``, ...).

    Returns:
        `dict`: ``files``, and ``local_dir`` or ``commit`` (the `CommitInfo`).
    """
    return _publish(
        lambda folder: build_model_repo(checkpoint_dir, repo_id, folder, **build_kwargs),
        repo_id,
        "model",
        local_dir=local_dir,
        push=push,
        force=force,
        api=api,
        token=token,
        private=private,
        commit_message=commit_message,
    )


def publish_metric(
    repo_id: str = DEFAULT_METRIC_REPO,
    *,
    local_dir: str | os.PathLike | None = None,
    push: bool | None = None,
    force: bool = False,
    api: HfApi | None = None,
    token: str | None = None,
    private: bool | None = None,
    commit_message: str | None = None,
    package_requirement: str = "linalg-transformers",
) -> dict[str, Any]:
    """Build the metric Space and write it to a folder or push it; see `publish_model` for the arguments."""
    return _publish(
        lambda folder: build_metric_space(folder, repo_id, package_requirement=package_requirement),
        repo_id,
        "space",
        local_dir=local_dir,
        push=push,
        force=force,
        api=api,
        token=token,
        private=private,
        commit_message=commit_message,
    )


def _publish(
    build: Any,
    repo_id: str,
    repo_type: str,
    *,
    local_dir: str | os.PathLike | None,
    push: bool | None,
    force: bool,
    api: HfApi | None,
    token: str | None,
    private: bool | None,
    commit_message: str | None,
) -> dict[str, Any]:
    org, name = validate_repo_id(repo_id)
    if push and local_dir is not None:
        raise ValueError("--local-dir only writes a folder; it cannot be combined with pushing")
    if push is None:
        push = False
        if local_dir is None:
            push, why = (True, "") if api is not None else _push_possible(token)
            if not push:
                local_dir = Path("checkpoints" if repo_type == "model" else "spaces", org, name)
                logger.warning(f"not pushing ({why}); writing {local_dir.resolve()} instead")
    elif not push and local_dir is None:
        local_dir = Path("checkpoints" if repo_type == "model" else "spaces", org, name)
    with tempfile.TemporaryDirectory(prefix="linalg-publish-") as tmp:
        built = Path(tmp) / name
        files = build(built)
        if push:
            commit = push_folder(
                built,
                repo_id,
                repo_type=repo_type,
                api=api,
                token=token,
                private=private,
                force=force,
                commit_message=commit_message,
            )
            return {"files": files, "commit": commit}
        target = Path(local_dir).resolve()
        _replace_folder(built, target, force)
        return {"files": files, "local_dir": target}


# ------------------------------------------------------------------------------------- released checkpoints
@dataclass
class InstalledCheckpoint:
    """One checkpoint folder placed in the Hugging Face cache.

    Attributes:
        repo_id (`str`): ``org/name``.
        commit (`str`): The 40-hex snapshot id (`snapshot_commit_id`).
        snapshot (`Path`): ``<cache>/models--org--name/snapshots/<commit>``.
        changed (`bool`): Whether anything was written (False when it was already installed).
    """

    repo_id: str
    commit: str
    snapshot: Path
    changed: bool


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def snapshot_commit_id(folder: str | os.PathLike) -> str:
    """A 40-hex id determined by the folder's content: sha1 over the sorted (path, sha256) of its files."""
    folder = Path(folder)
    h = hashlib.sha1()
    for rel in sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()):
        h.update(f"{rel}\0{_file_sha256(folder / rel)}\n".encode())
    return h.hexdigest()


def _blob_name(path: Path) -> str:
    """The cache blob name the Hub would give the file: sha256 for LFS files, the git blob sha1 otherwise."""
    if path.suffix in _LFS_SUFFIXES or path.stat().st_size >= _LFS_MIN_SIZE:
        return _file_sha256(path)
    return git_hash(path.read_bytes())


def _link(snapshot_file: Path, blob: Path) -> bool:
    """Point a snapshot file at its blob (relative symlink, or a copy where symlinks are unavailable)."""
    if snapshot_file.is_symlink() and snapshot_file.resolve() == blob.resolve():
        return False
    if (
        not snapshot_file.is_symlink()
        and snapshot_file.is_file()
        and _file_sha256(snapshot_file) == _file_sha256(blob)
    ):
        return False
    if snapshot_file.exists() or snapshot_file.is_symlink():
        snapshot_file.unlink()
    snapshot_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(os.path.relpath(blob, snapshot_file.parent), snapshot_file)
    except OSError:
        shutil.copyfile(blob, snapshot_file)
    return True


def install_checkpoint(folder: str | os.PathLike, repo_id: str, cache_dir: str | os.PathLike) -> InstalledCheckpoint:
    """Place one repository folder in a Hugging Face hub cache as revision ``main``.

    Layout, as `huggingface_hub` writes on download: ``<cache>/models--org--name/blobs/<hash>``,
    ``snapshots/<commit>/<file>`` (relative symlinks to the blobs) and ``refs/main`` (the commit id).
    """
    org, name = validate_repo_id(repo_id)
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ValueError(f"{folder} has no config.json: it is not a model repository folder")
    audit_repo_folder(folder)
    commit = snapshot_commit_id(folder)
    repo_cache = Path(cache_dir) / f"models--{org}--{name}"
    snapshot = repo_cache / "snapshots" / commit
    changed = False
    for src in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = src.relative_to(folder)
        blob = repo_cache / "blobs" / _blob_name(src)
        if not blob.is_file() or blob.stat().st_size != src.stat().st_size:
            blob.parent.mkdir(parents=True, exist_ok=True)
            tmp = blob.with_name(blob.name + ".incomplete")
            shutil.copyfile(src, tmp)
            os.replace(tmp, blob)
            changed = True
        changed |= _link(snapshot / rel, blob)
    ref = repo_cache / "refs" / "main"
    if not ref.is_file() or ref.read_text() != commit:
        ref.parent.mkdir(parents=True, exist_ok=True)
        tmp = ref.with_name("main.tmp")
        tmp.write_text(commit)
        os.replace(tmp, ref)
        changed = True
    return InstalledCheckpoint(repo_id=repo_id, commit=commit, snapshot=snapshot, changed=changed)


def install_checkpoints(
    checkpoints_dir: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None
) -> list[InstalledCheckpoint]:
    """Place every ``<checkpoints_dir>/<org>/<name>/`` folder in the Hugging Face cache (idempotent).

    Args:
        checkpoints_dir (`str` or `os.PathLike`, *optional*): Defaults to ``checkpoints/`` (in the current directory,
            else in the checkout holding this package).
        cache_dir (`str` or `os.PathLike`, *optional*): The hub cache; defaults to ``huggingface_hub.constants
            .HF_HUB_CACHE`` (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``).

    Returns:
        `list[InstalledCheckpoint]`, one per folder.
    """
    root = Path(checkpoints_dir) if checkpoints_dir else _project_path("checkpoints")
    if not root.is_dir():
        raise ValueError(f"checkpoints folder {root} does not exist")
    cache = Path(cache_dir) if cache_dir else Path(hf_constants.HF_HUB_CACHE)
    installed = []
    for org_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for repo_dir in sorted(p for p in org_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            installed.append(install_checkpoint(repo_dir, f"{org_dir.name}/{repo_dir.name}", cache))
    return installed


# ------------------------------------------------------------------------------------------------------- CLI
def add_hub_commands(subparsers: Any) -> None:
    """Register ``publish``, ``publish-metric`` and ``install-checkpoints`` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "publish",
        help="build the Hub repository of a trained model (folder or one-commit push)",
        description="Build the complete Hub repository of a training output directory: weights in a release dtype, "
        "config with auto_map, tokenizer, remote code, training record and the model card. Pushed in one commit "
        "when a token and the network are available, else written to checkpoints/<org>/<name>.",
    )
    p.add_argument("checkpoint_dir", help="output_dir of training/train.py")
    p.add_argument("repo_id", help="Hub repository id, e.g. linalg/eigen-p1000")
    p.add_argument("--local-dir", help="only write the repository into this folder (no push)")
    p.add_argument("--card", help="card source model_cards/CARD.md (default: the repository name)")
    p.add_argument("--cards-dir", help="folder of the card sources (default: model_cards/)")
    p.add_argument("--runs", help="runs file: the training commands and notes (default: model_cards/CARD.runs.yaml)")
    p.add_argument(
        "--dtype",
        default=DEFAULT_RELEASE_DTYPE,
        choices=sorted(RELEASE_DTYPES),
        help=f"weights dtype ({DEFAULT_RELEASE_DTYPE}: kept the greedy answers best)",
    )
    p.add_argument(
        "--check-size", type=int, default=256, help="test problems on which published and trained weights are compared"
    )
    p.add_argument("--pipeline-task", action="append", help="pipeline task to ship (default: the problem's)")
    _add_push_options(p)
    p.set_defaults(func=_cmd_publish)

    p = subparsers.add_parser(
        "publish-metric",
        help="build the matrix_accuracy evaluate module as a Hub Space",
        description="Build the matrix_accuracy metric Space (module, metric card, app.py, requirements.txt).",
    )
    p.add_argument("repo_id", nargs="?", default=DEFAULT_METRIC_REPO, help=f"Space id (default {DEFAULT_METRIC_REPO})")
    p.add_argument("--local-dir", help="only write the Space into this folder (no push)")
    p.add_argument(
        "--package-requirement",
        default="linalg-transformers",
        help="requirements.txt line installing this package in the Space",
    )
    _add_push_options(p)
    p.set_defaults(func=_cmd_publish_metric)

    p = subparsers.add_parser(
        "install-checkpoints",
        help="put checkpoints/<org>/<name>/ into the local Hugging Face cache",
        description="Place every released checkpoint folder in the Hugging Face cache as a download would, so that "
        "with HF_HUB_OFFLINE=1 AutoModel.from_pretrained('org/name') works from any directory.",
    )
    p.add_argument("--checkpoints-dir", help="folder of <org>/<name>/ checkpoints (default: checkpoints/)")
    p.add_argument("--cache-dir", help="hub cache (default: $HF_HUB_CACHE, else $HF_HOME/hub)")
    p.set_defaults(func=_cmd_install)


def _add_push_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="overwrite a repository or folder holding something else")
    p.add_argument("--private", action="store_true", default=None, help="create the Hub repository as private")
    p.add_argument("--commit-message", help="message of the Hub commit")


def _cmd_publish(args: argparse.Namespace) -> int:
    result = publish_model(
        args.checkpoint_dir,
        args.repo_id,
        local_dir=args.local_dir,
        push=False if args.local_dir else None,
        force=args.force,
        private=args.private,
        commit_message=args.commit_message,
        card=args.card,
        cards_dir=args.cards_dir,
        runs_file=args.runs,
        dtype=args.dtype,
        check_size=args.check_size,
        pipeline_tasks=args.pipeline_task,
    )
    _report(result, args.repo_id)
    return 0


def _cmd_publish_metric(args: argparse.Namespace) -> int:
    result = publish_metric(
        args.repo_id,
        local_dir=args.local_dir,
        push=False if args.local_dir else None,
        force=args.force,
        private=args.private,
        commit_message=args.commit_message,
        package_requirement=args.package_requirement,
    )
    _report(result, args.repo_id)
    return 0


def _report(result: dict[str, Any], repo_id: str) -> None:
    where = result.get("local_dir") or getattr(result.get("commit"), "commit_url", repo_id)
    print(f"{repo_id}: {len(result['files'])} files -> {where}")
    for f in result["files"]:
        print(f"  {f}")


def _cmd_install(args: argparse.Namespace) -> int:
    installed = install_checkpoints(args.checkpoints_dir, args.cache_dir)
    if not installed:
        print(f"no checkpoint folders <org>/<name>/ in {args.checkpoints_dir or _project_path('checkpoints')}")
    for item in installed:
        state = "installed" if item.changed else "already installed"
        print(f"{item.repo_id}: {state} as revision main ({item.commit}) in {item.snapshot}")
    return 0
