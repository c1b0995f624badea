"""The ``matrix_accuracy`` evaluate module as a Hub Space.

Every file of the Space comes from the metric's folder (`linalg_transformers.metrics.MATRIX_ACCURACY_PATH`): the
module (renamed after the Space, so ``evaluate.load("org/<name>")`` finds it), the metric card (given Space front
matter), ``app.py`` (copied unchanged) and ``requirements.txt`` (with the line that installs this package).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from huggingface_hub import SpaceCard, SpaceCardData

from ..metrics import MATRIX_ACCURACY_PATH
from .card import split_front_matter
from .layout import DEFAULT_METRIC_REPO, validate_repo_id
from .safety import audit_repo_folder

__all__ = ["PACKAGE_REQUIREMENT", "build_metric_space"]

PACKAGE_REQUIREMENT = "linalg-transformers"
"""The line of the metric's ``requirements.txt`` that installs this package (the module imports it)."""


def _requirements(package_requirement: str) -> str:
    lines = (MATRIX_ACCURACY_PATH / "requirements.txt").read_text().splitlines()
    if PACKAGE_REQUIREMENT not in lines:
        raise ValueError(f"{MATRIX_ACCURACY_PATH / 'requirements.txt'} has no line {PACKAGE_REQUIREMENT!r}")
    return "\n".join(package_requirement if line == PACKAGE_REQUIREMENT else line for line in lines) + "\n"


def build_metric_space(
    out_dir: str | os.PathLike,
    repo_id: str = DEFAULT_METRIC_REPO,
    *,
    package_requirement: str = PACKAGE_REQUIREMENT,
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
    _, name = validate_repo_id(repo_id)
    if not name.isidentifier():
        raise ValueError(f"the metric Space name must be a Python identifier (it names the module); got {name!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"{out_dir} is not empty")
    requirements = _requirements(package_requirement)
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MATRIX_ACCURACY_PATH / "matrix_accuracy.py", out_dir / f"{name}.py")
    shutil.copyfile(MATRIX_ACCURACY_PATH / "app.py", out_dir / "app.py")
    (out_dir / "requirements.txt").write_text(requirements)

    card_meta, card_body = split_front_matter((MATRIX_ACCURACY_PATH / "README.md").read_text(), "metric card")
    extra = {k: v for k, v in card_meta.items() if k not in {"title", "sdk", "app_file", "tags", "license"}}
    data = SpaceCardData(
        title=name,
        sdk="gradio",
        app_file="app.py",
        license=card_meta.get("license", "apache-2.0"),
        tags=sorted({"evaluate", "metric", *card_meta.get("tags", [])}),
        **extra,
    )
    SpaceCard(f"---\n{data.to_yaml()}\n---\n{card_body}").save(out_dir / "README.md")
    return audit_repo_folder(out_dir)
