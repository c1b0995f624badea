"""Building the folder of a model repository from a training output directory.

The folder is built from an allow-list: the release weights (`linalg_transformers.hub.weights`), ``config.json`` with
``auto_map`` and ``custom_pipelines``, ``generation_config.json``, the tokenizer, the package's remote code
(`linalg_transformers.hub.remote_code`), the training record (`linalg_transformers.record`) and the model card
(`linalg_transformers.hub.card`). Optimizer, scheduler and RNG state, ``trainer_state.json``, ``checkpoint-*/``
folders, training data and credentials never reach it, and the result is audited (`linalg_transformers.hub.safety`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import yaml

from ..evaluation import load_model
from ..record import OPTIONAL_TRAINING_FILES, TrainingOutput, published_results, sanitized_training_args
from .card import read_runs, render_model_card
from .history import HISTORY_PLOT, plot_history
from .layout import project_path, validate_repo_id
from .remote_code import check_relative_imports, pipeline_tasks_for, save_pipeline_code, tokenizer_remote_code
from .safety import audit_repo_folder, without_load_time_keys
from .weights import DEFAULT_RELEASE_DTYPE, RELEASE_DTYPES, compare_published_weights, save_stored_weights

__all__ = ["build_model_repo"]


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
    cards_dir = Path(cards_dir) if cards_dir else project_path("model_cards")
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

    save_stored_weights(model, out_dir, RELEASE_DTYPES[dtype])  # config.json (auto_map) loads them as float32
    with tokenizer_remote_code():
        tokenizer.save_pretrained(out_dir)  # tokenizer.json, tokenizer_config.json (auto_map), tokenization code
    tok_config_path = out_dir / "tokenizer_config.json"
    tok_config = without_load_time_keys(json.loads(tok_config_path.read_text()))
    tok_config_path.write_text(json.dumps(tok_config, indent=2, sort_keys=True) + "\n")

    config_path = out_dir / "config.json"
    config = json.loads(config_path.read_text())
    save_pipeline_code(tasks, out_dir, config)
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    check_relative_imports(out_dir)

    for fname in OPTIONAL_TRAINING_FILES:
        if (output.path / fname).is_file():
            shutil.copyfile(output.path / fname, out_dir / fname)
    (out_dir / "results.json").write_text(json.dumps(published_results(output), indent=2) + "\n")
    (out_dir / "training_args.yaml").write_text(
        yaml.safe_dump(sanitized_training_args(output.training_args), sort_keys=True)
    )

    runs = read_runs(runs_file, output.training_args)
    if runs.segments:  # the whole lineage's curve, which no single run's metrics.jsonl holds
        plot_history(runs.segments, out_dir / HISTORY_PLOT)
    check = compare_published_weights(model, out_dir, tokenizer, output.results["problem"], check_size)
    model_card = render_model_card(
        card_source,
        output,
        repo_id,
        runs_file=runs,
        dtype=dtype,
        n_parameters=sum(p.numel() for p in model.parameters()),
        dtype_check=check,
        pipeline_tasks=tasks,
    )
    model_card.save(out_dir / "README.md")
    return audit_repo_folder(out_dir)
