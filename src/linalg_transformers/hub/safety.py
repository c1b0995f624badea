"""What must never be published: training state, data and credentials.

A repository folder is built from an allow-list (`linalg_transformers.hub.repo`); `audit_repo_folder` is the second
line of defence, run on every folder before it is written in place, pushed or installed: it rejects forbidden file
names and anything that looks like a Hugging Face token.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

__all__ = ["LOAD_TIME_TOKENIZER_KEYS", "audit_repo_folder", "without_load_time_keys"]

LOAD_TIME_TOKENIZER_KEYS = (
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
"""Keys that ``from_pretrained`` leaks into a re-saved ``tokenizer_config.json``; ``token`` would be a credential."""

_FORBIDDEN_NAME = re.compile(
    r"(^|/)(checkpoint-[^/]*/|optimizer\.|scheduler\.|rng_state|trainer_state\.json$|training_args\.bin$|\.env$|"
    r"token$|\.git-credentials$|\.netrc$)|\.(pt|pth|pkl|pickle|ckpt|parquet|arrow)$"
)
_TOKEN_PATTERN = re.compile(rb"hf_[A-Za-z0-9]{30,}")


def without_load_time_keys(tokenizer_config: dict[str, Any]) -> dict[str, Any]:
    """A saved ``tokenizer_config.json`` without the `LOAD_TIME_TOKENIZER_KEYS`."""
    return {k: v for k, v in tokenizer_config.items() if k not in LOAD_TIME_TOKENIZER_KEYS}


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
