"""Released checkpoints offline: ``checkpoints/<org>/<name>/`` into the Hugging Face cache, exactly as a download.

`install_checkpoints` writes ``models--org--name/{blobs,snapshots,refs/main}`` under the hub cache, with a commit id
derived from the folder's content (`snapshot_commit_id`), so that with ``HF_HUB_OFFLINE=1``
``AutoModel.from_pretrained("org/name")`` and the pipelines' default models load from any directory; a changed
folder becomes a new revision ``main``, and installing twice changes nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import constants as hf_constants
from huggingface_hub.utils.sha import git_hash

from .layout import project_path, validate_repo_id
from .safety import audit_repo_folder

__all__ = ["InstalledCheckpoint", "install_checkpoint", "install_checkpoints", "snapshot_commit_id"]

# Files stored through LFS on the Hub (their cache blob is named by sha256; other files by their git blob hash).
_LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".png", ".jpg", ".parquet", ".arrow", ".npy", ".npz", ".zip")
_LFS_MIN_SIZE = 10 * 1024 * 1024


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
    root = Path(checkpoints_dir) if checkpoints_dir else project_path("checkpoints")
    if not root.is_dir():
        raise ValueError(f"checkpoints folder {root} does not exist")
    cache = Path(cache_dir) if cache_dir else Path(hf_constants.HF_HUB_CACHE)
    installed = []
    for org_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for repo_dir in sorted(p for p in org_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            installed.append(install_checkpoint(repo_dir, f"{org_dir.name}/{repo_dir.name}", cache))
    return installed
