"""Where repositories live: repository ids, the project's folders, and the local layout of released repositories.

A released model repository is the folder ``checkpoints/<org>/<name>/``, a metric Space ``spaces/<org>/<name>/``;
``model_cards/`` holds the card sources. Paths are looked up in the current directory first, then in the checkout
holding this package (an editable install).
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["DEFAULT_METRIC_REPO", "default_local_dir", "project_path", "validate_repo_id"]

DEFAULT_METRIC_REPO = "linalg/matrix_accuracy"
"""Hub Space of the ``matrix_accuracy`` evaluate module."""

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LOCAL_ROOTS = {"model": "checkpoints", "space": "spaces"}


def validate_repo_id(repo_id: str) -> tuple[str, str]:
    """Split ``org/name`` after checking its form (it also names folders, so no ``..`` and no other separator).

    Raises:
        ValueError: if `repo_id` is not ``org/name`` with Hub-valid characters.
    """
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id) or ".." in repo_id:
        raise ValueError(f"repo id must look like 'org/name' (letters, digits, '-', '_', '.'); got {repo_id!r}")
    org, name = repo_id.split("/")
    return org, name


def project_path(name: str) -> Path:
    """``./name`` if it exists, else the copy next to the package source (a checkout with an editable install)."""
    here = Path.cwd() / name
    if here.exists():
        return here
    return Path(__file__).resolve().parents[3] / name


def default_local_dir(repo_id: str, repo_type: str = "model") -> Path:
    """The released-repository folder of `repo_id`: ``checkpoints/<org>/<name>`` (``spaces/...`` for a Space)."""
    if repo_type not in _LOCAL_ROOTS:
        raise ValueError(f"repo_type must be one of {sorted(_LOCAL_ROOTS)}; got {repo_type!r}")
    org, name = validate_repo_id(repo_id)
    return Path(_LOCAL_ROOTS[repo_type], org, name)
