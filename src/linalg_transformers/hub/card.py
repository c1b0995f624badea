"""Model cards: ``README.md`` of a model repository, rendered from a card source and the training record.

A card source ``model_cards/<name>.md`` has YAML front matter and the prose of each fixed section (`PROSE_SECTIONS`);
the shared template ``model_cards/_template.md`` adds what every card has. Every number comes from the training
record (`linalg_transformers.record.TrainingOutput`) or from measurements made while publishing
(`linalg_transformers.hub.weights.WeightsCheck`); ``model-index`` metadata holds every measured accuracy.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..problems.test_sets import DEFAULT_TEST_SEED
from ..record import TrainingOutput, lineage_totals, published_lineage
from ..scoring import TOLERANCES, accuracy_key, format_accuracy_table, format_percent, tolerance_label
from .history import HISTORY_PLOT, Segment, format_duration, format_history_table, parse_segments
from .layout import DEFAULT_METRIC_REPO, validate_repo_id
from .remote_code import registered_pipelines
from .weights import DEFAULT_RELEASE_DTYPE, LOAD_DTYPE, WeightsCheck

__all__ = [
    "CARD_SECTIONS",
    "CITATION",
    "PROSE_SECTIONS",
    "Runs",
    "describe_problem",
    "read_card_source",
    "read_runs",
    "render_model_card",
    "split_front_matter",
]

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

CITATION = """\
@article{charton2022linear,
  title={Linear algebra with transformers},
  author={Charton, Fran{\\c{c}}ois},
  journal={Transactions on Machine Learning Research},
  year={2022},
  url={https://openreview.net/forum?id=Hp4g7FAXXG}
}"""


def split_front_matter(text: str, source: str) -> tuple[dict[str, Any], str]:
    """Split a Markdown file with YAML front matter (a card source, the metric card) into metadata and body.

    Raises:
        ValueError: naming `source`, if the front matter is absent, unclosed or not a mapping.
    """
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
    meta, body = split_front_matter(path.read_text(), str(path))
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


@dataclass(frozen=True)
class Runs:
    """A runs file (``model_cards/<name>.runs.yaml``): the training commands run, in order, notes and segments.

    Attributes:
        commands (`list[str]`): The command lines, as run.
        notes (`str`): Free text added to the card's "Training data and procedure".
        segments (`tuple[Segment, ...]`): Every session's share of the lineage (`linalg_transformers.hub.history`).
    """

    commands: list[str] = field(default_factory=list)
    notes: str = ""
    segments: tuple[Segment, ...] = ()


def read_runs(path: str | os.PathLike | None, training_args: dict[str, Any]) -> Runs:
    """Read the optional runs file (no file: no commands, no notes).

    The last training command is checked against the resolved ``training_args.yaml``: its ``--config`` and every
    ``--key value`` it sets must match, so a card cannot show a command that did not produce the checkpoint.

    Raises:
        ValueError: on unknown keys, commands that are not a list of strings, or a training command the
            checkpoint's arguments contradict.
    """
    if path is None:
        return Runs()
    data = yaml.safe_load(Path(path).read_text()) or {}
    unknown = sorted(set(data) - {"commands", "notes", "segments"})
    if unknown:
        raise ValueError(
            f"{path}: unknown key(s) {unknown}; a runs file has 'commands' (list), 'notes' (text) and "
            "'segments' (list)"
        )
    commands = data.get("commands") or []
    if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
        raise ValueError(f"{path}: 'commands' must be a list of command lines")
    training = [c for c in commands if "train.py" in c]
    if training:
        _check_training_command(training[-1], training_args, str(path))
    segments = parse_segments(data.get("segments"), str(path))
    return Runs(commands=commands, notes=str(data.get("notes") or "").strip(), segments=segments)


def _same_number(value: str, expected: Any) -> bool:
    """Whether a command-line number (``2e-4``, which YAML 1.1 reads as a string) equals a recorded one."""
    if isinstance(expected, bool) or not isinstance(expected, int | float):
        return False
    try:
        return float(value) == float(expected)
    except ValueError:
        return False


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
                same = got == expected or str(got) == str(expected) or _same_number(value, expected)
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
    "time_budget_s",
    "time_budget_decay_fraction",
    "time_budget_min_lr_ratio",
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
    runs: Runs,
    dtype: str,
    n_parameters: int,
    dtype_check: WeightsCheck | None,
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
    shown = [k for k in _TRAINING_TABLE_KEYS if k in args and args[k] not in (None, "", False)]
    if args.get("time_budget_s"):  # its schedule replaced lr_scheduler_type (training/train.py)
        shown = [k for k in shown if not k.startswith("lr_scheduler")]
    else:
        shown = [k for k in shown if not k.startswith("time_budget")]
    training_rows = [(k, args[k]) for k in shown]
    examples, steps = int(results["examples_seen"]), int(results["steps"])
    lineage = published_lineage(output)
    totals = lineage_totals(output)
    examples_note = time_note = ""
    if totals is not None:
        start = totals.start
        examples_note = (
            f"; {totals.examples:,} in all, counting the {start['examples_seen']:,} of the "
            f"model this run started from (`{start['model']}`, `--init_from`)"
        )
        if totals.train_seconds is not None:
            time_note = (
                f"; {format_duration(totals.train_seconds)} in all with the model it started from "
                f"(whose last run was on {start['hardware']})"
            )
    elif lineage:
        examples_note = f"; started from `{lineage['model']}` (`--init_from`), whose training is not recorded here"
    org, name = validate_repo_id(repo_id)
    check: dict[str, str] = {}
    if dtype_check is not None:
        check = {
            "size": f"{dtype_check.size:,}",
            "same_output": format_percent(dtype_check.same_output),
            "accuracy_trained": format_percent(dtype_check.accuracy_trained),
            "accuracy_published": format_percent(dtype_check.accuracy_published),
            "published_dtype": dtype_check.published_dtype,
        }

    def acc(test_set_key: str, tolerance: float) -> str:
        """Accuracy of a test set at a tolerance, as a percentage string (for card prose)."""
        if test_set_key not in results["test_sets"]:
            raise ValueError(f"results.json has no test set {test_set_key!r}; it has {list(results['test_sets'])}")
        return format_percent(results["test_sets"][test_set_key][accuracy_key(tolerance)])

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
        "dtype_check": check,
        "results_table": format_accuracy_table(rows),
        "test_sets": sets,
        "ood_sets": [s for s in sets if not s["in_distribution"]],
        "test_size": f"{int(results['test_size']):,}",
        "test_size_int": int(results["test_size"]),
        "reproduce_sets": repr([(s["label"], s["distribution"]) for s in sets]),
        "test_seed": args.get("test_seed") if args.get("test_seed") is not None else DEFAULT_TEST_SEED,
        "tolerances": [tolerance_label(t) for t in TOLERANCES],
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
        "command": results.get("command"),
        "has_curves": (output.path / "training_curves.png").is_file(),
        "history_table": format_history_table(runs.segments) if runs.segments else "",
        "history_plot": HISTORY_PLOT,
        "pipeline_tasks": list(pipeline_tasks),
        "pipeline_default_models": _pipeline_default_models(pipeline_tasks),
        "example_input": str(card_meta.get("example_input", "")).rstrip(),
        "example_reference": str(card_meta.get("example_reference", "")).strip(),
        "citation": CITATION,
        "tolerance_values": list(TOLERANCES),
        "acc": acc,
        "pct": format_percent,
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
                    metric_name=f"accuracy at {tolerance_label(t)} tolerance",
                    metric_value=float(row[accuracy_key(t)]),
                    metric_args={"tolerance": t},
                )
            )
    return out


def render_model_card(
    card_source: str | os.PathLike,
    output: TrainingOutput,
    repo_id: str,
    *,
    runs_file: str | os.PathLike | Runs | None = None,
    dtype: str = DEFAULT_RELEASE_DTYPE,
    n_parameters: int = 0,
    dtype_check: WeightsCheck | None = None,
    pipeline_tasks: Sequence[str] = (),
    template: str | os.PathLike | None = None,
) -> ModelCard:
    """Render ``README.md`` of a model repository from a card source and the training output.

    Every number in the card comes from the training output (``results.json``, ``training_args.yaml``,
    ``metrics.jsonl``, ``config.json``) or from measurements made while publishing (`dtype_check`); the command line
    `training/train.py` recorded in ``results.json`` (``command``) is printed under "How to reproduce". The card
    source's sections are Jinja templates with the same variables as the shared template (``acc("test", 0.05)``,
    ``problem_text``, ``examples_seen``, ...).

    Args:
        card_source (`str` or `os.PathLike`): ``model_cards/<name>.md``.
        output (`TrainingOutput`): The training output being published.
        repo_id (`str`): ``org/name``.
        runs_file (`str`, `os.PathLike` or `Runs`, *optional*): The runs file (YAML with ``commands``, ``notes`` and
            ``segments``), or what `read_runs` read from it.
        dtype (`str`, *optional*, defaults to `DEFAULT_RELEASE_DTYPE`): Storage dtype of the published weights.
        n_parameters (`int`, *optional*): Number of parameters.
        dtype_check (`WeightsCheck`, *optional*): The published weights compared with the trained ones.
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
    runs = runs_file if isinstance(runs_file, Runs) else read_runs(runs_file, output.training_args)
    context = _card_context(
        output,
        repo_id,
        meta,
        runs,
        dtype,
        n_parameters,
        dtype_check,
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
