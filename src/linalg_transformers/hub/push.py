"""Writing a built repository to its released folder, or pushing it to the Hub in one commit.

`publish_model` and `publish_metric` build the repository in a temporary folder (`linalg_transformers.hub.repo`,
`linalg_transformers.hub.space`), then either replace the local folder (by default ``checkpoints/<org>/<name>``, or
``spaces/<org>/<name>``) or upload it with `push_folder`: every file added, every other remote file deleted, in one
commit. Neither overwrites a repository or folder holding something else without ``force``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypedDict

from huggingface_hub import CommitInfo, CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub import constants as hf_constants

from .layout import DEFAULT_METRIC_REPO, default_local_dir, validate_repo_id
from .repo import build_model_repo
from .safety import audit_repo_folder
from .space import PACKAGE_REQUIREMENT, build_metric_space
from .weights import DEFAULT_RELEASE_DTYPE

__all__ = ["PublishResult", "publish_metric", "publish_model", "push_folder"]

logger = logging.getLogger(__name__)


class PublishResult(TypedDict, total=False):
    """What `publish_model` and `publish_metric` did.

    Attributes:
        files (`list[str]`): The repository's files.
        local_dir (`Path`): The folder written (when not pushed).
        commit (`CommitInfo`): The Hub commit (when pushed).
    """

    files: list[str]
    local_dir: Path
    commit: CommitInfo


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
) -> CommitInfo:
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
    operations: list[CommitOperationAdd | CommitOperationDelete] = [
        CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(folder / f)) for f in files
    ]
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


# ----------------------------------------------------------------------------------------------- publishing
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
    card: str | None = None,
    cards_dir: str | os.PathLike | None = None,
    runs_file: str | os.PathLike | None = None,
    dtype: str = DEFAULT_RELEASE_DTYPE,
    check_size: int = 256,
    pipeline_tasks: Sequence[str] | None = None,
) -> PublishResult:
    """Build a model repository and write it to a folder or push it to the Hub.

    Args:
        checkpoint_dir (`str` or `os.PathLike`): Output directory of ``training/train.py``.
        repo_id (`str`): ``org/name``.
        local_dir (`str` or `os.PathLike`, *optional*): Write the repository here and do not push. When neither it
            nor `push` is given, the repository is pushed if a token and the network are available, and otherwise
            written to ``./checkpoints/<org>/<name>`` (the released-checkpoints layout).
        push (`bool`, *optional*): Push to the Hub (True) or only write a folder (False).
        force (`bool`, *optional*, defaults to `False`): Overwrite a repository or folder holding another model.
        api (`HfApi`, *optional*): Hub client (tests pass a fake).
        token (`str`, *optional*): Hub token.
        private (`bool`, *optional*): Visibility of a new Hub repository.
        commit_message (`str`, *optional*): Commit message.
        card (`str`, *optional*): Card source name; defaults to the repository name (`build_model_repo`).
        cards_dir (`str` or `os.PathLike`, *optional*): Folder of the card sources (defaults to ``model_cards/``).
        runs_file (`str` or `os.PathLike`, *optional*): The runs file (defaults to ``<cards_dir>/<card>.runs.yaml``).
        dtype (`str`, *optional*, defaults to `DEFAULT_RELEASE_DTYPE`): Storage dtype of the weights.
        check_size (`int`, *optional*, defaults to 256): Test problems on which published and trained weights are
            compared (0 skips the check).
        pipeline_tasks (`Sequence[str]`, *optional*): Pipeline tasks to ship; by default those of the problem.

    Returns:
        `PublishResult`: ``files``, and ``local_dir`` or ``commit``.
    """

    def build(folder: Path) -> list[str]:
        return build_model_repo(
            checkpoint_dir,
            repo_id,
            folder,
            card=card,
            cards_dir=cards_dir,
            runs_file=runs_file,
            dtype=dtype,
            check_size=check_size,
            pipeline_tasks=pipeline_tasks,
        )

    return _publish(
        build,
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
    package_requirement: str = PACKAGE_REQUIREMENT,
) -> PublishResult:
    """Build the metric Space and write it to a folder (default ``spaces/<org>/<name>``) or push it.

    See `publish_model` for the arguments; `package_requirement` is passed to `build_metric_space`.
    """
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
    build: Callable[[Path], list[str]],
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
) -> PublishResult:
    _, name = validate_repo_id(repo_id)
    if push and local_dir is not None:
        raise ValueError("--local-dir only writes a folder; it cannot be combined with pushing")
    if push is None:
        push = False
        if local_dir is None:
            push, why = (True, "") if api is not None else _push_possible(token)
            if not push:
                local_dir = default_local_dir(repo_id, repo_type)
                logger.warning(f"not pushing ({why}); writing {Path(local_dir).resolve()} instead")
    elif not push and local_dir is None:
        local_dir = default_local_dir(repo_id, repo_type)
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
