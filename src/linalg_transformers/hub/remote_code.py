"""The package's code shipped inside a model repository (``trust_remote_code=True`` loads it without the package).

A published repository holds the configuration, modeling and tokenization modules (written by ``save_pretrained``,
the classes being registered for the Auto classes), the pipeline module of each shipped pipeline task (with
``custom_pipelines`` in ``config.json``), and the flat modules they import relatively (``encodings.py``,
``grammar.py``, ``regression_decoding.py``, ``scoring.py``, ``verification.py``). Every one of them is copied by
transformers' ``custom_object_save``: `remote_code_files` lists what that copies today, `released_code_differences`
compares a released folder with it, and `refresh_remote_code` rewrites a released folder's modules through the same
function.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from transformers.dynamic_module_utils import custom_object_save, get_relative_import_files

from ..configuration_matrix_seq2seq import MatrixSeq2SeqConfig
from ..modeling_matrix_seq2seq import MatrixSeq2SeqForConditionalGeneration
from ..tokenization_matrix import MatrixTokenizer
from .layout import validate_repo_id
from .safety import audit_repo_folder

__all__ = [
    "DEFAULT_PIPELINE_TASKS",
    "check_relative_imports",
    "custom_pipelines_config",
    "pipeline_tasks_for",
    "refresh_remote_code",
    "registered_pipelines",
    "released_code_differences",
    "remote_code_classes",
    "remote_code_files",
    "republish_command",
    "save_pipeline_code",
    "tokenizer_remote_code",
]

_PACKAGE = __name__.split(".")[0]

DEFAULT_PIPELINE_TASKS = {"eigenvalues": "matrix-eigen"}
"""Pipeline task of a training problem, used when the pipeline class does not list its problems itself
(a ``problems`` class attribute: the problem names it serves)."""


# ------------------------------------------------------------------------------------------------- pipelines
def registered_pipelines() -> dict[str, dict[str, Any]]:
    """The pipeline tasks this package registered with `transformers` (task -> registry entry)."""
    with contextlib.suppress(ImportError):  # the pipeline module registers its tasks on import
        if importlib.util.find_spec(f"{_PACKAGE}.pipeline_matrix") is not None:
            importlib.import_module(f"{_PACKAGE}.pipeline_matrix")
    from transformers.pipelines import PIPELINE_REGISTRY

    return {
        task: info
        for task, info in PIPELINE_REGISTRY.supported_tasks.items()
        if isinstance(info.get("impl"), type) and info["impl"].__module__.startswith(f"{_PACKAGE}.")
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


def custom_pipelines_config(tasks: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The ``custom_pipelines`` entry of ``config.json`` for `tasks`, as `Pipeline.save_pretrained` writes it."""
    registered = registered_pipelines()
    custom: dict[str, dict[str, Any]] = {}
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
    return custom


def save_pipeline_code(tasks: Sequence[str], folder: Path, config: dict[str, Any]) -> None:
    """Copy the pipeline modules into `folder` and describe them in ``config["custom_pipelines"]``.

    The same entry `Pipeline.save_pretrained` writes, so ``pipeline(model=repo, trust_remote_code=True)`` works
    without the package. Where the package is installed, ``pipeline(task, model=repo)`` uses its registered class,
    with no ``trust_remote_code`` (`MatrixSeq2SeqConfig.custom_pipelines` leaves out the tasks it serves; transformers
    alone would run the repository's copy and ask for ``trust_remote_code=True``).
    """
    registered = registered_pipelines()
    for task in tasks:
        custom_object_save(registered[task]["impl"], folder)
    custom = custom_pipelines_config(tasks)
    if custom:
        config["custom_pipelines"] = custom


@contextlib.contextmanager
def tokenizer_remote_code() -> Iterator[None]:
    """Save the tokenizer with its code and an ``AutoTokenizer`` ``auto_map``, without changing the class for good."""
    previous = MatrixTokenizer._auto_class
    MatrixTokenizer.register_for_auto_class("AutoTokenizer")
    try:
        yield
    finally:
        MatrixTokenizer._auto_class = previous


def check_relative_imports(folder: Path) -> None:
    """Every copied module must import the package relatively, or it cannot load without the package.

    Raises:
        ValueError: naming the module and the absolute import.
    """
    for py in sorted(folder.glob("*.py")):
        for line in py.read_text().splitlines():
            stripped = line.strip()
            if re.match(rf"^(from|import)\s+{_PACKAGE}\b", stripped):
                raise ValueError(
                    f"{py.name} imports {_PACKAGE} absolutely ({stripped!r}): remote code must use relative "
                    "imports, or the repository does not load where the package is not installed"
                )


# ------------------------------------------------------------------------------------------- what is shipped
def remote_code_classes(tasks: Sequence[str]) -> list[type]:
    """The classes whose modules a model repository ships: config, model, tokenizer and each task's pipeline."""
    registered = registered_pipelines()
    unknown = sorted(set(tasks) - set(registered))
    if unknown:
        raise ValueError(f"unknown pipeline task(s) {unknown}; this package registers {sorted(registered)}")
    pipelines = [registered[t]["impl"] for t in tasks]
    return [MatrixSeq2SeqConfig, MatrixSeq2SeqForConditionalGeneration, MatrixTokenizer, *pipelines]


def remote_code_files(tasks: Sequence[str]) -> dict[str, Path]:
    """The modules a repository shipping `tasks` holds: file name -> the package's source file.

    What ``custom_object_save`` copies for each of `remote_code_classes`: the class's module and, recursively, the
    modules it imports relatively.
    """
    files: dict[str, Path] = {}
    for cls in remote_code_classes(tasks):
        module_file = Path(sys.modules[cls.__module__].__file__)
        for path in (module_file, *map(Path, get_relative_import_files(str(module_file)))):
            files[path.name] = path
    return dict(sorted(files.items()))


def _released_tasks(folder: Path) -> tuple[list[str], dict[str, Any]]:
    """The pipeline tasks publishing would ship today with the model in `folder`, and the folder's config."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ValueError(f"{folder} has no config.json: it is not a model repository folder")
    config = json.loads(config_path.read_text())
    problem = config.get("training_problem") or {}
    if "name" not in problem:
        raise ValueError(f"{config_path} has no training_problem.name: it was not published by linalg-transformers")
    return pipeline_tasks_for(problem["name"]), config


def released_code_differences(folder: str | os.PathLike) -> list[str]:
    """How the code of a released repository folder differs from what publishing ships today.

    Compares the folder's ``*.py`` files with `remote_code_files` byte for byte (missing, extra and changed
    modules), and its ``custom_pipelines`` with `custom_pipelines_config`, the pipeline tasks being those
    `pipeline_tasks_for` gives the model's training problem.

    Args:
        folder (`str` or `os.PathLike`): A model repository folder, e.g. ``checkpoints/linalg/eigen-p1000``.

    Returns:
        `list[str]`: one line per difference; empty when the folder ships the package's code.
    """
    folder = Path(folder)
    tasks, config = _released_tasks(folder)
    expected = remote_code_files(tasks)
    shipped = {p.name for p in folder.glob("*.py")}
    source = {name: "/".join(path.parts[-2:]) for name, path in expected.items()}  # linalg_transformers/<name>
    out = [f"{name}: missing (the package ships {source[name]})" for name in sorted(set(expected) - shipped)]
    out += [f"{name}: not shipped by the package" for name in sorted(shipped - set(expected))]
    for name in sorted(shipped & set(expected)):
        if (folder / name).read_bytes() != expected[name].read_bytes():
            out.append(f"{name}: differs from {source[name]}")
    custom = custom_pipelines_config(tasks)
    if config.get("custom_pipelines", {}) != custom:
        out.append(
            f"config.json custom_pipelines: {config.get('custom_pipelines', {})!r}; publishing writes {custom!r}"
        )
    return out


def republish_command(folder: str | os.PathLike) -> str:
    """The command that republishes a released folder ``<org>/<name>`` from the training run its record names.

    The run is the ``output_dir`` of the folder's ``training_args.yaml`` (where `training/train.py` wrote it).
    """
    folder = Path(folder)
    repo_id = f"{folder.parent.name}/{folder.name}"
    validate_repo_id(repo_id)
    args_path = folder / "training_args.yaml"
    args = yaml.safe_load(args_path.read_text()) if args_path.is_file() else {}
    run = (args or {}).get("output_dir") or "OUTPUT_DIR"
    return f"linalg-transformers publish {run} {repo_id} --local-dir {folder.as_posix()}"


def refresh_remote_code(folder: str | os.PathLike) -> list[str]:
    """Rewrite the modules of a released model folder with the package's, as publishing copies them.

    For a release whose training run is not at hand when only code changed: the weights, configuration, training
    record and card are left as they are. The modules are copied by ``custom_object_save`` (what ``save_pretrained``
    and publishing use), modules the package no longer ships are removed, and the folder is audited.

    Args:
        folder (`str` or `os.PathLike`): A model repository folder, e.g. ``checkpoints/linalg/eigen-p1000``.

    Raises:
        ValueError: if the shipped pipelines changed (``custom_pipelines``, and with it the card): republish the
            folder then (`republish_command`).

    Returns:
        `list[str]`: the module files written or removed, sorted.
    """
    folder = Path(folder)
    tasks, config = _released_tasks(folder)
    custom = custom_pipelines_config(tasks)
    if config.get("custom_pipelines", {}) != custom:
        raise ValueError(
            f"{folder}: the pipelines publishing ships changed ({sorted(custom)}, the folder has "
            f"{sorted(config.get('custom_pipelines', {}))}); the config and the card change with them, so republish: "
            f"{republish_command(folder)}"
        )
    before = {p.name: p.read_bytes() for p in folder.glob("*.py")}
    expected = remote_code_files(tasks)
    for name in set(before) - set(expected):
        (folder / name).unlink()
    for cls in remote_code_classes(tasks):
        custom_object_save(cls, folder)
    check_relative_imports(folder)
    audit_repo_folder(folder)
    after = {p.name: p.read_bytes() for p in folder.glob("*.py")}
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
