"""Train a MatrixSeq2Seq model on a linear-algebra problem with the transformers `Seq2SeqTrainer`.

    accelerate launch training/train.py --config training/configs/cpu-transpose-p1000.yaml
    python training/train.py --config training/configs/smoke.yaml --output_dir runs/smoke --max_steps 50
    accelerate launch --multi_gpu --num_processes 2 training/train.py --config ...   # two processes (gloo on CPU)

Every argument is a field of `MatrixTrainingArguments` (the transformers `Seq2SeqTrainingArguments` plus the problem,
encodings, model shape and evaluation fields below). A YAML file given with ``--config`` sets defaults; any field can
be overridden on the command line. The resolved arguments are saved as ``training_args.yaml`` in the output
directory, next to the checkpoints; the final model and tokenizer are saved in the output directory itself, with
``results.json``: the final accuracies and the run's record (`linalg_transformers.record`), including the command
line that ran (``command``, which the model card prints).

Examples are generated on the fly, as in the paper, by `linalg_transformers.data.ProblemStream`, seeded by (seed,
rank, chunk). A killed run resumes from its last *complete* checkpoint (marked by a ``.complete`` file written after
the checkpoint is fully saved), and the example stream continues where it stopped.

Training options of the recipe search (all off by default; docs/recipes.md): ``number_loss_weight`` adds
the number-aware loss of `linalg_transformers.number_loss` to cross-entropy (`MatrixSeq2SeqTrainer.compute_loss`);
``repeat_pool_size`` and ``repeat_prob`` mix a fixed pool of repeated examples into the stream (two-set training,
kept apart from the fixed test sets); ``lr_scheduler_type: warmup_stable_decay`` with ``lr_scheduler_kwargs:
{num_decay_steps: N, min_lr_ratio: r}`` keeps a constant rate until the last N steps of ``max_steps``, so that a run
continued with a larger ``max_steps`` keeps its rate.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from transformers import (
    AutoModelForSeq2SeqLM,
    EvalPrediction,
    HfArgumentParser,
    PreTrainedModel,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
    TrainerCallback,
    set_seed,
)

from linalg_transformers import MatrixSeq2SeqConfig, MatrixSeq2SeqForConditionalGeneration, MatrixTokenizer
from linalg_transformers.data import (
    MatrixDataCollator,
    ProblemStream,
    input_keys,
    sequence_lengths,
    tokenize_examples,
)
from linalg_transformers.evaluation import distribution_names, distribution_variants, evaluate_test_sets, json_safe
from linalg_transformers.hardware import (
    cpu_name,
    default_attention,
    default_mixed_precision,
    flush_denormals,
    tune_malloc,
)
from linalg_transformers.number_loss import LOSS_KINDS, NumberTokenLoss
from linalg_transformers.numeric_init import apply_numeric_init
from linalg_transformers.problems import BaseProblem, get_problem, test_set
from linalg_transformers.problems.test_sets import DEFAULT_TEST_SEED, round_matrices
from linalg_transformers.record import read_metrics, training_command, training_lineage
from linalg_transformers.scoring import (
    MAIN_TOLERANCE,
    TOLERANCES,
    accuracy_key,
    format_accuracy_table,
    tolerance_label,
)
from linalg_transformers.time_budget import Deadline, DeadlineCallback, TimeBudgetSchedule

logger = logging.getLogger("train")
COMPLETE_MARKER = ".complete"
CHECKPOINT_FILES = ("model.safetensors", "optimizer.pt", "scheduler.pt", "trainer_state.json")


@dataclass
class MatrixTrainingArguments(Seq2SeqTrainingArguments):
    """`Seq2SeqTrainingArguments` plus what defines a linear-algebra experiment (defaults: a small CPU run)."""

    config: str | None = field(default=None, metadata={"help": "YAML file of defaults for any field."})
    predict_with_generate: bool = field(default=True, metadata={"help": "Evaluate by generating (greedy)."})
    # ---- the problem
    problem: str = field(default="eigenvalues", metadata={"help": "Problem name, see linalg_transformers.problems."})
    dim: int = field(default=5, metadata={"help": "Matrix dimension (the smallest, with dim_max)."})
    dim_max: int | None = field(default=None, metadata={"help": "Largest dimension for mixed sizes."})
    rectangular: bool = field(default=False, metadata={"help": "Rectangular matrices where the problem allows."})
    coeff_range: float = field(default=10.0, metadata={"help": "Coefficients in [-A, A] (A = coeff_range)."})
    coeff_distribution: str = field(default="uniform", metadata={"help": "uniform or gaussian."})
    eigen_distribution: str | None = field(default=None, metadata={"help": "Symmetric problems: eigenvalue law."})
    noise: float = field(default=0.0, metadata={"help": "Input noise: Gaussian, std noise * coeff_range / sqrt(3)."})
    cotraining_tasks: str | None = field(default=None, metadata={"help": "Co-training: comma-separated problems."})
    # ---- encodings
    input_encoding: str = field(default="FP15", metadata={"help": "P10, P1000, B1999 or FP15."})
    output_encoding: str = field(default="P1000", metadata={"help": "P10, P1000, B1999 or FP15."})
    # ---- the model
    d_model: int = 256
    decoder_d_model: int | None = None
    encoder_layers: int = 4
    decoder_layers: int = 1
    encoder_attention_heads: int = 8
    decoder_attention_heads: int = 8
    encoder_ffn_dim: int | None = None
    decoder_ffn_dim: int | None = None
    position_embedding_type: str = "learned"
    normalize_before: bool = False
    encoder_loops: int = 1
    decoder_loops: int = 1
    tie_encoder_decoder_embeddings: bool = False
    max_position_embeddings: int | None = field(default=None, metadata={"help": "Default: the longest sequence."})
    init_from: str | None = field(default=None, metadata={"help": "Start from a trained model (few-shot)."})
    numeric_init: bool = field(
        default=False, metadata={"help": "Initialize number-token embeddings from their values (numeric_init.py)."}
    )
    # ---- data and evaluation
    chunk_size: int = field(default=4096, metadata={"help": "Examples generated per vectorized call."})
    eval_size: int = field(default=1000, metadata={"help": "Test-set examples scored at each evaluation."})
    final_eval_size: int = field(
        default=10_000,
        metadata={
            "help": "Test-set examples scored at the end; 0 skips the final evaluation (a probe: no results.json)."
        },
    )
    test_seed: int | None = field(default=None, metadata={"help": "Seed of the fixed test set (default: standard)."})
    extra_test_distributions: str | None = field(
        default=None, metadata={"help": "Comma-separated eigenvalue distributions also evaluated at the end."}
    )
    resume: bool = field(default=True, metadata={"help": "Resume from the last complete checkpoint in output_dir."})
    mixed_precision: str = field(default="auto", metadata={"help": "auto, bf16, fp16 or no (auto: see hardware.py)."})
    attention: str = field(
        default="auto",
        metadata={"help": "Attention kernel for training: auto, sdpa or eager (auto: measured, hardware.py)."},
    )
    malloc_tuning: bool = field(
        default=True,
        metadata={"help": "Keep freed memory in the process (glibc; hardware.tune_malloc): fewer page faults."},
    )
    flush_denormal: bool = field(
        default=True,
        metadata={"help": "Flush subnormal floats to zero on the CPU (hardware.flush_denormals): no slow path."},
    )
    # ---- training recipe options (off by default; docs/recipes.md)
    number_loss_weight: float = field(
        default=0.0,
        metadata={"help": "Weight of the number-aware loss added to cross-entropy (number_loss.py); 0: off."},
    )
    number_loss_kind: str = field(
        default="wasserstein",
        metadata={"help": "wasserstein (expected distance, W1 to the target) or soft (soft targets of a width)."},
    )
    number_loss_width: float = field(
        default=0.02, metadata={"help": "Width of the soft targets (kind soft), in log-value units (0.02: ~2%)."}
    )
    number_loss_anneal_steps: int = field(
        default=0,
        metadata={
            "help": "Fade the number loss into plain CE over this many steps (weight, or soft width); 0: never."
        },
    )
    repeat_pool_size: int = field(
        default=0, metadata={"help": "Size K of a fixed pool of repeated examples (two-set training); 0: off."}
    )
    repeat_prob: float = field(
        default=0.0, metadata={"help": "Probability that a training example is drawn from the repeated pool."}
    )
    time_budget_s: float = field(
        default=0.0,
        metadata={
            "help": "Train for this many seconds (a lent GPU): the rate decays over the budget's last "
            "time_budget_decay_fraction and training stops when it is spent, whatever max_steps says; 0: off."
        },
    )
    time_budget_decay_fraction: float = field(
        default=0.1, metadata={"help": "Share of time_budget_s, at its end, over which the rate decays."}
    )
    time_budget_min_lr_ratio: float = field(
        default=0.01, metadata={"help": "The rate's factor at the end of time_budget_s (the decay's floor)."}
    )
    stop_after_s: float = field(
        default=0.0,
        metadata={
            "help": "Stop this process's training after this many seconds, with a checkpoint, leaving the schedule "
            "as it is: a run continued across sessions resumes there with the same command; 0: off."
        },
    )

    def __post_init__(self) -> None:
        if self.mixed_precision not in ("auto", "bf16", "fp16", "no"):
            raise ValueError(f"mixed_precision must be auto, bf16, fp16 or no; got {self.mixed_precision!r}")
        if self.number_loss_kind not in LOSS_KINDS:
            raise ValueError(f"number_loss_kind must be one of {', '.join(LOSS_KINDS)}; got {self.number_loss_kind!r}")
        for name in ("number_loss_weight", "number_loss_width", "number_loss_anneal_steps", "repeat_pool_size"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)!r}")
        if not 0.0 <= self.repeat_prob <= 1.0:
            raise ValueError(f"repeat_prob must be in [0, 1]; got {self.repeat_prob!r}")
        if not self.eval_size >= 1:
            raise ValueError(f"eval_size must be >= 1 (the test problems of each evaluation); got {self.eval_size!r}")
        if not self.final_eval_size >= 0:
            raise ValueError(f"final_eval_size must be >= 0 (0: no final evaluation); got {self.final_eval_size!r}")
        for name in ("time_budget_s", "stop_after_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0 (0: off); got {getattr(self, name)!r}")
        if self.time_budget_s and self.stop_after_s:
            raise ValueError(
                "time_budget_s and stop_after_s are two ends to one run: time_budget_s decays the rate and stops, "
                "stop_after_s stops without decaying (to continue later); give one"
            )
        if (self.repeat_pool_size > 0) != (self.repeat_prob > 0):
            raise ValueError(
                "repeated examples need both repeat_pool_size > 0 and repeat_prob > 0; got "
                f"repeat_pool_size={self.repeat_pool_size}, repeat_prob={self.repeat_prob}"
            )
        precision = default_mixed_precision() if self.mixed_precision == "auto" else self.mixed_precision
        self.bf16, self.fp16 = precision == "bf16", precision == "fp16"
        if self.attention not in ("auto", "sdpa", "eager"):
            raise ValueError(f"attention must be auto, sdpa or eager; got {self.attention!r}")
        if self.attention == "auto":
            self.attention = default_attention(precision)
        if self.output_dir is None:
            raise ValueError("output_dir is required (in the YAML file or as --output_dir)")
        if not torch.cuda.is_available():  # without it, processes started by accelerate/torchrun on CPU run unaware
            self.use_cpu = True  # of each other (ParallelMode.NOT_PARALLEL, every one of them rank 0)
        super().__post_init__()


# --------------------------------------------------------------------------------------------------- arguments
def parse_arguments(argv: list[str] | None = None) -> MatrixTrainingArguments:
    """YAML defaults (``--config``), then command-line overrides, into one `MatrixTrainingArguments`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = HfArgumentParser(MatrixTrainingArguments)
    config_path = None
    if "--config" in argv:
        config_path = argv[argv.index("--config") + 1]
    if config_path:
        with open(config_path) as f:
            defaults = yaml.safe_load(f) or {}
        known = {f.name for f in dataclasses.fields(MatrixTrainingArguments)}
        unknown = sorted(set(defaults) - known)
        if unknown:
            raise ValueError(f"{config_path}: unknown fields {unknown}")
        parser.set_defaults(**defaults)
        for action in parser._actions:  # a required field given in the YAML is no longer required on the CLI
            if action.dest in defaults:
                action.required = False
    (args,) = parser.parse_args_into_dataclasses(args=argv)
    return args


def problem_options(args: MatrixTrainingArguments) -> dict[str, Any]:
    """The problem's options from the arguments (only those the problem accepts)."""
    opts: dict[str, Any] = {
        "dim": args.dim if args.dim_max is None else (args.dim, args.dim_max),
        "coeff_range": args.coeff_range,
        "coeff_distribution": args.coeff_distribution,
        "noise": args.noise,
    }
    if args.rectangular:
        opts["rectangular"] = True
    if args.eigen_distribution is not None:
        opts["eigen_distribution"] = args.eigen_distribution
    if args.cotraining_tasks:
        opts["tasks"] = [t.strip() for t in args.cotraining_tasks.split(",")]
    return opts


# ------------------------------------------------------------------------------------------------- checkpoints
def complete_checkpoints(output_dir: str | Path) -> list[Path]:
    """Checkpoints in `output_dir` that were completely written, oldest first."""
    out = []
    for path in Path(output_dir).glob("checkpoint-*"):
        step = path.name.split("-")[-1]
        if step.isdigit() and (path / COMPLETE_MARKER).exists() and all((path / f).exists() for f in CHECKPOINT_FILES):
            out.append(path)
    return sorted(out, key=lambda p: int(p.name.split("-")[-1]))


def discard_incomplete_checkpoints(output_dir: str | Path) -> list[Path]:
    """Remove checkpoint folders that a killed process left half-written; returns them."""
    complete = set(complete_checkpoints(output_dir))
    removed = [p for p in Path(output_dir).glob("checkpoint-*") if p.is_dir() and p not in complete]
    for p in removed:
        shutil.rmtree(p, ignore_errors=True)
    return removed


class CheckpointMarker(TrainerCallback):
    """Writes ``.complete`` in a checkpoint once the Trainer has finished saving it (atomic rename)."""

    def on_save(self, args, state, control, **kwargs):  # noqa: D102
        if state.is_world_process_zero:
            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if ckpt.is_dir():
                tmp = ckpt / (COMPLETE_MARKER + ".tmp")
                tmp.write_text(json.dumps({"global_step": state.global_step, "time": time.time()}))
                os.replace(tmp, ckpt / COMPLETE_MARKER)


def drop_metrics_after(path: Path, step: int) -> int:
    """Remove the rows of ``metrics.jsonl`` logged after `step` (and any half-written line); returns how many.

    A resumed run repeats the steps after the checkpoint it resumes from, so the rows a killed run logged for them
    would appear twice; starting over (step 0) drops every row of the earlier run.
    """
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
            kept.append(line)
        elif line.strip():
            dropped += 1
    if dropped:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(f"{line}\n" for line in kept))
        os.replace(tmp, path)
    return dropped


class MetricsLogger(TrainerCallback):
    """Appends every log entry (with the examples seen) to ``metrics.jsonl`` and prints evaluation tables."""

    def __init__(self, path: Path, examples_per_step: int) -> None:
        self.path, self.examples_per_step = path, examples_per_step
        self.start = time.time()

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        if not state.is_world_process_zero or not logs:
            return
        entry = {"step": state.global_step, "examples": state.global_step * self.examples_per_step, **logs}
        entry["wall_time"] = time.time() - self.start
        with self.path.open("a") as f:
            f.write(json.dumps(entry) + "\n")
        keys = [accuracy_key(t) for t in TOLERANCES]
        acc = {key: logs[f"eval_{key}"] for key in keys if f"eval_{key}" in logs}
        if acc:
            row = {**acc, "well_formed": logs.get("eval_well_formed", math.nan)}
            print(
                f"\nstep {state.global_step}, {entry['examples']:,} examples:\n" + format_accuracy_table({"test": row})
            )


# ---------------------------------------------------------------------------------------------------- trainer
class MatrixSeq2SeqTrainer(Seq2SeqTrainer):
    """`Seq2SeqTrainer` whose training loss adds the number-aware term (`linalg_transformers.number_loss`) to the
    model's cross-entropy.

    The term is added here, not in the model, so that a saved model (and its remote code) stays a plain
    cross-entropy seq2seq model, and evaluation losses stay cross-entropy, comparable across recipes. It uses the
    model's logits and the same normalization (`num_items_in_batch`, scaled as `Trainer.compute_loss` scales the
    model's loss across processes), so ``CE + weight * term`` is a loss per target token. With the term on, the logs
    also carry ``ce_loss`` and ``number_loss`` (its weighted part), the means over the steps since the last log.

    Args:
        number_loss (`NumberTokenLoss`, *optional*): The term; `None` trains on cross-entropy alone.
        deadline (`Deadline`, *optional*): Stop training when it is spent (`DeadlineCallback`); a
            `TimeBudgetSchedule` also replaces the learning-rate schedule.
        *args, **kwargs: Those of `Seq2SeqTrainer`.
    """

    def __init__(
        self,
        *args: Any,
        number_loss: NumberTokenLoss | None = None,
        deadline: Deadline | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.number_loss = number_loss
        self.time_budget = deadline if isinstance(deadline, TimeBudgetSchedule) else None
        if deadline is not None:
            self.add_callback(DeadlineCallback(deadline))
        self._number_sums = [0.0, 0.0]  # (ce, number term) summed over the steps since the last log
        self._number_logged_step: int | None = None  # the step of the last log (or of the first step measured)

    def create_scheduler(  # noqa: D102
        self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None
    ) -> torch.optim.lr_scheduler.LRScheduler:
        if self.time_budget is None or self.lr_scheduler is not None:
            return super().create_scheduler(num_training_steps, optimizer)
        self.lr_scheduler = self.time_budget.scheduler(optimizer if optimizer is not None else self.optimizer)
        self._created_lr_scheduler = True
        return self.lr_scheduler

    def _process_scale(self, num_items_in_batch: Any) -> int:
        """The factor by which `Trainer.compute_loss` multiplies a loss normalized by `num_items_in_batch`."""
        if not (
            self.args.average_tokens_across_devices
            and self.model_accepts_loss_kwargs
            and num_items_in_batch is not None
        ):
            return 1
        tp_size = self.get_tp_size() if hasattr(self, "get_tp_size") else 1
        scale = self.accelerator.num_processes // tp_size
        return scale if self.args.n_gpu <= 1 else self.args.n_gpu

    def compute_loss(  # noqa: D102
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        if self.number_loss is None or not model.training or "labels" not in inputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        term = self.number_loss(outputs.logits, inputs["labels"], num_items_in_batch, step=self.state.global_step)
        term = term * self._process_scale(num_items_in_batch)
        if self._number_logged_step is None:  # the first step of this process (a resumed run starts past 0)
            self._number_logged_step = self.state.global_step
        self._number_sums[0] += float(loss.detach())
        self._number_sums[1] += float(term.detach())
        loss = loss + term
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:  # noqa: D102
        steps = self.state.global_step - (self._number_logged_step or 0)
        if self.number_loss is not None and "loss" in logs and self._number_logged_step is not None and steps > 0:
            logs["ce_loss"] = round(self._number_sums[0] / steps, 4)
            logs["number_loss"] = round(self._number_sums[1] / steps, 4)
            self._number_sums = [0.0, 0.0]
            self._number_logged_step = self.state.global_step
        super().log(logs, start_time)


def build_deadline(args: MatrixTrainingArguments) -> Deadline | None:
    """The wall-clock end of training (`linalg_transformers.time_budget`): the schedule of ``--time_budget_s``, the
    plain stop of ``--stop_after_s`` (the two are exclusive), or `None` when both are 0."""
    if args.stop_after_s:
        return Deadline(args.stop_after_s)
    if not args.time_budget_s:
        return None
    return TimeBudgetSchedule(
        args.time_budget_s,
        warmup_steps=args.get_warmup_steps(args.max_steps),
        decay_fraction=args.time_budget_decay_fraction,
        min_lr_ratio=args.time_budget_min_lr_ratio,
    )


def build_number_loss(args: MatrixTrainingArguments, tokenizer: MatrixTokenizer) -> NumberTokenLoss | None:
    """The number-aware term of the arguments, or `None` when `number_loss_weight` is 0."""
    if args.number_loss_weight == 0:
        return None
    return NumberTokenLoss(
        tokenizer,
        weight=args.number_loss_weight,
        kind=args.number_loss_kind,
        width=args.number_loss_width,
        anneal_steps=args.number_loss_anneal_steps,
    )


def final_test_problems(problem: BaseProblem, extra_test_distributions: str | None) -> dict[str, BaseProblem]:
    """The problems of the run's fixed test sets: its own, then one per extra eigenvalue distribution.

    Args:
        problem (`BaseProblem`): The training problem.
        extra_test_distributions (`str`, *optional*): Comma-separated eigenvalue distributions also scored.

    Returns:
        `dict[str, BaseProblem]`: test-set name (``"test"``, then each distribution) -> its problem.
    """
    sets: dict[str, BaseProblem] = {"test": problem}
    extra = distribution_names(extra_test_distributions)
    if extra:
        sets |= distribution_variants(problem, extra)
    return sets


def fixed_test_inputs(args: MatrixTrainingArguments, problem: BaseProblem, tokenizer: MatrixTokenizer) -> set[bytes]:
    """`input_keys` of every fixed test set this run scores (and of the standard ones): kept out of the pool."""
    problems = final_test_problems(problem, args.extra_test_distributions).values()
    seeds = {DEFAULT_TEST_SEED, DEFAULT_TEST_SEED if args.test_seed is None else args.test_seed}
    sizes = {args.eval_size, args.final_eval_size, 10_000} - {0}
    keys: set[bytes] = set()
    for p in problems:
        for seed in seeds:
            for size in sizes:
                keys.update(input_keys(tokenize_examples(tokenizer, test_set(p, size=size, seed=seed))))
    return keys


# ------------------------------------------------------------------------------------------------------ model
def build_model(
    args: MatrixTrainingArguments, tokenizer: MatrixTokenizer, problem: BaseProblem
) -> MatrixSeq2SeqForConditionalGeneration:
    """A new model sized by the arguments, or the `init_from` model adapted to the problem (few-shot retraining)."""
    max_in, max_out = sequence_lengths(problem, tokenizer)
    needed = max(max_in, max_out + 1)
    metadata = {"name": problem.name, **problem.config_dict(), "input_encoding": tokenizer.input_encoding}
    metadata["output_encoding"] = tokenizer.output_encoding
    if args.init_from:
        model = AutoModelForSeq2SeqLM.from_pretrained(args.init_from)
        if model.config.vocab_size != tokenizer.vocab_size:
            raise ValueError(
                f"--init_from {args.init_from}: its vocabulary ({model.config.vocab_size} tokens) differs from the "
                f"{tokenizer.input_encoding}->{tokenizer.output_encoding} tokenizer ({tokenizer.vocab_size})"
            )
        if model.config.position_embedding_type == "learned" and model.config.max_position_embeddings < needed:
            model.resize_position_embeddings(needed)
        model.config.training_problem = metadata
        return model
    config = MatrixSeq2SeqConfig(
        vocab_size=tokenizer.vocab_size,
        decoder_vocab_size=tokenizer.output_vocab_size,
        d_model=args.d_model,
        decoder_d_model=args.decoder_d_model,
        encoder_layers=args.encoder_layers,
        decoder_layers=args.decoder_layers,
        encoder_attention_heads=args.encoder_attention_heads,
        decoder_attention_heads=args.decoder_attention_heads,
        encoder_ffn_dim=args.encoder_ffn_dim,
        decoder_ffn_dim=args.decoder_ffn_dim,
        position_embedding_type=args.position_embedding_type,
        normalize_before=args.normalize_before,
        encoder_loops=args.encoder_loops,
        decoder_loops=args.decoder_loops,
        tie_encoder_decoder_embeddings=args.tie_encoder_decoder_embeddings,
        max_position_embeddings=args.max_position_embeddings or needed,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        decoder_start_token_id=tokenizer.bos_token_id,
        training_problem=metadata,
    )
    model = MatrixSeq2SeqForConditionalGeneration(config)
    if args.numeric_init:
        apply_numeric_init(model, tokenizer, seed=args.seed)
    return model


# ---------------------------------------------------------------------------------------------------- outputs
def write_results(output_dir: Path, rows: dict[str, dict[str, float]], info: dict[str, Any]) -> str:
    """``results.json`` and ``results.md`` (a table a model card can include); returns the Markdown."""
    table = format_accuracy_table(rows)
    results = json_safe({"test_sets": rows, **info})  # strict JSON: NaN (nothing well formed) is null
    (output_dir / "results.json").write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    (output_dir / "results.md").write_text(table + "\n")
    return table


def plot_curves(metrics_path: Path, out_path: Path) -> None:
    """PNG of the training loss and the accuracy at each tolerance against examples seen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = read_metrics(metrics_path.parent)
    train = [e for e in entries if "loss" in e]
    evals = [e for e in entries if f"eval_{accuracy_key(MAIN_TOLERANCE)}" in e]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot([e["examples"] for e in train], [e["loss"] for e in train])
    ax1.set(xlabel="examples seen", ylabel="training loss (per target token)", yscale="log", title="loss")
    for t in TOLERANCES:
        ax2.plot(
            [e["examples"] for e in evals],
            [100 * e[f"eval_{accuracy_key(t)}"] for e in evals],
            label=tolerance_label(t),
        )
    ax2.set(xlabel="examples seen", ylabel="accuracy (%)", ylim=(0, 100), title="test accuracy by tolerance")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Run one experiment; returns the exit code."""
    args = parse_arguments(argv)
    command = training_command(sys.argv[1:] if argv is None else argv, num_processes=args.world_size)
    if args.malloc_tuning:
        tune_malloc()
    if args.flush_denormal:
        flush_denormals()
    logging.basicConfig(level=logging.INFO if args.process_index == 0 else logging.WARNING, format="%(message)s")
    set_seed(args.seed)
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    problem = get_problem(args.problem, **problem_options(args))
    tokenizer = MatrixTokenizer(input_encoding=args.input_encoding, output_encoding=args.output_encoding)
    model = build_model(args, tokenizer, problem)
    model.set_attn_implementation(args.attention)
    # Tied weights (the output layer is the decoder embedding) are not stored in checkpoints; listing them here lets
    # the Trainer re-tie them on resume instead of warning about "missing keys ... ['lm_head.weight']".
    model._keys_to_ignore_on_save = set(model.all_tied_weights_keys)
    _, max_label = sequence_lengths(problem, tokenizer)
    model.generation_config.max_length = max_label + 2  # decoder start + the longest label (EOS included)
    model.generation_config.num_beams = 1

    # Resume from the last complete checkpoint; the data stream restarts at the chunk where it stopped.
    resume_from, start_step = None, 0
    if args.resume:
        if args.process_index == 0:
            for p in discard_incomplete_checkpoints(output_dir):
                logger.warning(f"discarded incomplete checkpoint {p}")
        done = complete_checkpoints(output_dir)
        if done:
            resume_from = str(done[-1])
            start_step = json.loads((done[-1] / "trainer_state.json").read_text())["global_step"]
            logger.info(f"resuming from {resume_from} (step {start_step})")
    if args.process_index == 0:
        dropped = drop_metrics_after(output_dir / "metrics.jsonl", start_step)
        if dropped:
            logger.info(f"metrics.jsonl: dropped {dropped} rows of steps after {start_step} (this run repeats them)")
    per_stream = args.per_device_train_batch_size * args.gradient_accumulation_steps
    # Batches of an iterable dataset are produced by process 0 and dispatched (accelerate's default), so that
    # stream supplies the examples of every process.
    per_stream *= args.world_size
    examples_per_step = per_stream
    train_stream = ProblemStream(
        problem,
        tokenizer,
        seed=args.seed,
        chunk_size=args.chunk_size,
        start_example=start_step * per_stream,
        repeat_pool_size=args.repeat_pool_size,
        repeat_prob=args.repeat_prob,
        exclude_inputs=fixed_test_inputs(args, problem, tokenizer) if args.repeat_pool_size else None,
    )
    args.ignore_data_skip = True  # the stream itself continues; never replay it
    args.accelerator_config.dispatch_batches = True

    eval_set = test_set(problem, size=args.eval_size, seed=args.test_seed)
    eval_tok = tokenize_examples(tokenizer, eval_set)
    eval_features = [
        {"input_ids": ids[m.astype(bool)], "labels": lab[lab != -100]}
        for ids, m, lab in zip(eval_tok["input_ids"], eval_tok["attention_mask"], eval_tok["labels"])
    ]
    eval_tasks = getattr(eval_set, "tasks", None)
    eval_seen = round_matrices(eval_set.inputs, tokenizer.input_encoding)

    def compute_metrics(pred: EvalPrediction) -> dict[str, float]:
        decoded = tokenizer.decode_matrices(pred.predictions, with_task=eval_tasks is not None)
        predictions = decoded.matrices
        if eval_tasks is not None:
            predictions = [m if t == want else None for m, t, want in zip(predictions, decoded.tasks, eval_tasks)]
        return problem.score(eval_seen, predictions, tasks=eval_tasks).metrics()

    if args.process_index == 0:
        resolved = {k: v for k, v in args.to_dict().items() if not k.startswith("_")}
        (output_dir / "training_args.yaml").write_text(yaml.safe_dump(resolved, sort_keys=True))
        logger.info(
            f"{problem.name}: {args.input_encoding} -> {args.output_encoding}, "
            f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, "
            f"mixed precision: {'bf16' if args.bf16 else 'fp16' if args.fp16 else 'no'}, attention: {args.attention}"
        )

    trainer = MatrixSeq2SeqTrainer(
        number_loss=build_number_loss(args, tokenizer),
        deadline=build_deadline(args),
        model=model,
        args=args,
        train_dataset=train_stream,
        eval_dataset=eval_features,
        data_collator=MatrixDataCollator(tokenizer.pad_token_id),
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        callbacks=[CheckpointMarker(), MetricsLogger(output_dir / "metrics.jsonl", examples_per_step)],
    )
    started = time.time()
    trainer.train(resume_from_checkpoint=resume_from)
    train_seconds = time.time() - started

    if trainer.is_world_process_zero():
        trainer.save_model(str(output_dir))
        tokenizer.save_pretrained(str(output_dir))
        trainer.save_state()
        steps = trainer.state.global_step
        if args.final_eval_size:  # 0: a probe, with the curves only
            final_report(
                args,
                evaluation_model(trainer),
                tokenizer,
                problem,
                output_dir,
                train_seconds,
                steps,
                examples_per_step,
                command=command,
            )
        if (output_dir / "metrics.jsonl").exists():
            plot_curves(output_dir / "metrics.jsonl", output_dir / "training_curves.png")
    finish_distributed()
    return 0


def evaluation_model(trainer: Seq2SeqTrainer) -> PreTrainedModel:
    """The trained model without the mixed-precision wrapper that `accelerate` put on its forward for training.

    With bf16 training, `accelerator.prepare` replaces the model's ``forward`` by one under bf16 autocast, and it stays
    after training: `generate()` on ``trainer.model`` would still decode in bf16. This removes it, so that the final
    evaluation runs in `FINAL_EVAL_PRECISION`.
    """
    return trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)


FINAL_EVAL_PRECISION = "fp32"
"""The final evaluation runs in float32 whatever the training precision, as `AutoModel` loads the model: the same
trained weights of linalg/eigen-p1000's run H (2026-12-03) scored 97.01% / 34.10% at 5% / 1% on the 10,000 fixed
test problems under bf16 autocast, and 97.08% / 36.26% in float32."""


def final_report(
    args: MatrixTrainingArguments,
    model: PreTrainedModel,
    tokenizer: MatrixTokenizer,
    problem: BaseProblem,
    output_dir: Path,
    train_seconds: float,
    steps: int,
    examples_per_step: int,
    command: str | None = None,
) -> None:
    """Evaluate on the fixed test set (and any extra distributions) in float32; write the results and the table.

    `command` (`training_command` of the run's arguments) is recorded in ``results.json``: the card prints it.
    """
    rows = final_test_rows(
        model,
        tokenizer,
        problem,
        args.extra_test_distributions,
        size=args.final_eval_size,
        seed=args.test_seed,
        batch_size=args.per_device_eval_batch_size,
    )
    info = {
        "examples_seen": steps * examples_per_step,
        "steps": steps,
        "train_seconds_this_run": round(train_seconds, 1),
        "test_size": args.final_eval_size,
        "eval_precision": FINAL_EVAL_PRECISION,
        "problem": problem.config_dict(),
        "encodings": [tokenizer.input_encoding, tokenizer.output_encoding],
        "hardware": hardware_description(),
    }
    if command:
        info["command"] = command
    if args.init_from:  # what the starting model had seen, frozen now (its folder may be replaced later)
        info["init_from"] = training_lineage(args.init_from)
    table = write_results(output_dir, rows, info)
    print(f"\nFinal accuracy on the fixed test set ({args.final_eval_size:,} examples):\n{table}")


def final_test_rows(
    model: PreTrainedModel,
    tokenizer: MatrixTokenizer,
    problem: BaseProblem,
    extra_test_distributions: str | None,
    size: int,
    seed: int | None,
    batch_size: int,
) -> dict[str, dict[str, float]]:
    """The final evaluation: the fixed test set of `problem` and of each extra distribution, in float32.

    Args:
        model (`PreTrainedModel`): The trained model, unwrapped (`evaluation_model`).
        tokenizer (`MatrixTokenizer`): Its tokenizer.
        problem (`BaseProblem`): The training problem.
        extra_test_distributions (`str`, *optional*): Comma-separated eigenvalue distributions also scored.
        size (`int`): Problems per test set.
        seed (`int`, *optional*): The test sets' seed (default: the standard one).
        batch_size (`int`): Problems per `generate()` call.

    Returns:
        `dict[str, dict[str, float]]`: test-set name (``"test"``, then each distribution) -> its metrics row.
    """
    model.eval()
    return evaluate_test_sets(
        model,
        tokenizer,
        final_test_problems(problem, extra_test_distributions),
        size=size,
        seed=seed,
        batch_size=batch_size,
        autocast_dtype=None,  # FINAL_EVAL_PRECISION, as AutoModel and the pipelines load the model
    )


def hardware_description() -> str:
    """CPU model and core count, or the GPU name."""
    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    return f"{cpu_name()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"


def finish_distributed() -> None:
    """End a multi-process run cleanly: gloo processes can abort at interpreter exit."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
