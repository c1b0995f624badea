"""Publishing to the Hugging Face Hub, and released checkpoints offline.

Three jobs, each also a ``linalg-transformers`` subcommand (`linalg_transformers.cli.hub`):

- ``publish``: turn a training output directory (``training/train.py --output_dir``) into the complete Hub model
  repository (``repo.py``): weights in a release dtype (``weights.py``), ``config.json`` with ``auto_map`` and
  ``custom_pipelines``, ``generation_config.json``, the tokenizer, the package's code as remote code
  (``remote_code.py``), the training record (`linalg_transformers.record`) and a model card rendered from
  ``model_cards/<card>.md`` (``card.py``). The folder is built from an allow-list and audited (``safety.py``), then
  written to a local folder or pushed in one commit (``push.py``).
- ``publish-metric``: the ``matrix_accuracy`` evaluate module as a Hub Space (``space.py``).
- ``install-checkpoints``: every released folder ``checkpoints/<org>/<name>/`` into the local Hugging Face cache
  exactly as a download would (``cache.py``), so that with ``HF_HUB_OFFLINE=1``
  ``AutoModel.from_pretrained("org/name")`` and the pipelines' default models load anywhere.

Where repositories live (repo ids, ``checkpoints/``, ``model_cards/``) is ``layout.py``. The training record is not
part of this package: `training/train.py` writes it without importing any of the publishing code.
"""

from __future__ import annotations

from ..record import (
    OPTIONAL_TRAINING_FILES,
    REQUIRED_TRAINING_FILES,
    TrainingOutput,
    published_lineage,
    published_results,
    sanitized_training_args,
    training_lineage,
)
from .cache import InstalledCheckpoint, install_checkpoint, install_checkpoints, snapshot_commit_id
from .card import CARD_SECTIONS, PROSE_SECTIONS, describe_problem, read_card_source, render_model_card
from .history import format_duration
from .layout import DEFAULT_METRIC_REPO, default_local_dir, project_path, validate_repo_id
from .push import PublishResult, publish_metric, publish_model, push_folder
from .remote_code import (
    DEFAULT_PIPELINE_TASKS,
    pipeline_tasks_for,
    refresh_remote_code,
    registered_pipelines,
    released_code_differences,
    remote_code_files,
    republish_command,
)
from .repo import build_model_repo
from .safety import audit_repo_folder
from .space import build_metric_space
from .weights import DEFAULT_RELEASE_DTYPE, LOAD_DTYPE, RELEASE_DTYPES, WeightsCheck

__all__ = [
    "CARD_SECTIONS",
    "DEFAULT_METRIC_REPO",
    "DEFAULT_PIPELINE_TASKS",
    "DEFAULT_RELEASE_DTYPE",
    "LOAD_DTYPE",
    "OPTIONAL_TRAINING_FILES",
    "PROSE_SECTIONS",
    "RELEASE_DTYPES",
    "REQUIRED_TRAINING_FILES",
    "InstalledCheckpoint",
    "PublishResult",
    "TrainingOutput",
    "WeightsCheck",
    "audit_repo_folder",
    "build_metric_space",
    "build_model_repo",
    "default_local_dir",
    "describe_problem",
    "format_duration",
    "install_checkpoint",
    "install_checkpoints",
    "pipeline_tasks_for",
    "project_path",
    "publish_metric",
    "publish_model",
    "published_lineage",
    "published_results",
    "push_folder",
    "read_card_source",
    "refresh_remote_code",
    "registered_pipelines",
    "released_code_differences",
    "remote_code_files",
    "render_model_card",
    "republish_command",
    "sanitized_training_args",
    "snapshot_commit_id",
    "training_lineage",
    "validate_repo_id",
]
