"""The ``publish``, ``publish-metric`` and ``install-checkpoints`` subcommands of ``linalg-transformers``.

`add_hub_commands` registers them on the command line's subparsers (`linalg_transformers.cli.COMMAND_GROUPS`); each
handler turns the parsed arguments into one call of `linalg_transformers.hub` (`publish_model`, `publish_metric`,
`install_checkpoints`) and prints what it wrote.
"""

from __future__ import annotations

import argparse

from ..hub.cache import install_checkpoints
from ..hub.layout import DEFAULT_METRIC_REPO, project_path
from ..hub.push import PublishResult, publish_metric, publish_model
from ..hub.space import PACKAGE_REQUIREMENT
from ..hub.weights import DEFAULT_RELEASE_DTYPE, RELEASE_DTYPES

__all__ = ["add_hub_commands"]


def add_hub_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``publish``, ``publish-metric`` and ``install-checkpoints`` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "publish",
        help="build the Hub repository of a trained model (folder or one-commit push)",
        description="Build the complete Hub repository of a training output directory: weights in a release dtype, "
        "config with auto_map, tokenizer, remote code, training record and the model card. Pushed in one commit "
        "when a token and the network are available, else written to checkpoints/<org>/<name>.",
    )
    p.add_argument("checkpoint_dir", help="output_dir of training/train.py")
    p.add_argument("repo_id", help="Hub repository id, e.g. linalg/eigen-p1000")
    p.add_argument("--local-dir", help="only write the repository into this folder (no push)")
    p.add_argument("--card", help="card source model_cards/CARD.md (default: the repository name)")
    p.add_argument("--cards-dir", help="folder of the card sources (default: model_cards/)")
    p.add_argument("--runs", help="runs file: the training commands and notes (default: model_cards/CARD.runs.yaml)")
    p.add_argument(
        "--dtype",
        default=DEFAULT_RELEASE_DTYPE,
        choices=sorted(RELEASE_DTYPES),
        help=f"weights dtype ({DEFAULT_RELEASE_DTYPE}: kept the greedy answers best)",
    )
    p.add_argument(
        "--check-size", type=int, default=256, help="test problems on which published and trained weights are compared"
    )
    p.add_argument("--pipeline-task", action="append", help="pipeline task to ship (default: the problem's)")
    _add_push_options(p)
    p.set_defaults(func=_cmd_publish)

    p = subparsers.add_parser(
        "publish-metric",
        help="build the matrix_accuracy evaluate module as a Hub Space",
        description="Build the matrix_accuracy metric Space (module, metric card, app.py, requirements.txt).",
    )
    p.add_argument("repo_id", nargs="?", default=DEFAULT_METRIC_REPO, help=f"Space id (default {DEFAULT_METRIC_REPO})")
    p.add_argument("--local-dir", help="only write the Space into this folder (no push)")
    p.add_argument(
        "--package-requirement",
        default=PACKAGE_REQUIREMENT,
        help="requirements.txt line installing this package in the Space",
    )
    _add_push_options(p)
    p.set_defaults(func=_cmd_publish_metric)

    p = subparsers.add_parser(
        "install-checkpoints",
        help="put checkpoints/<org>/<name>/ into the local Hugging Face cache",
        description="Place every released checkpoint folder in the Hugging Face cache as a download would, so that "
        "with HF_HUB_OFFLINE=1 AutoModel.from_pretrained('org/name') works from any directory.",
    )
    p.add_argument("--checkpoints-dir", help="folder of <org>/<name>/ checkpoints (default: checkpoints/)")
    p.add_argument("--cache-dir", help="hub cache (default: $HF_HUB_CACHE, else $HF_HOME/hub)")
    p.set_defaults(func=_cmd_install)


def _add_push_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="overwrite a repository or folder holding something else")
    p.add_argument("--private", action="store_true", default=None, help="create the Hub repository as private")
    p.add_argument("--commit-message", help="message of the Hub commit")


def _cmd_publish(args: argparse.Namespace) -> int:
    result = publish_model(
        args.checkpoint_dir,
        args.repo_id,
        local_dir=args.local_dir,
        push=False if args.local_dir else None,
        force=args.force,
        private=args.private,
        commit_message=args.commit_message,
        card=args.card,
        cards_dir=args.cards_dir,
        runs_file=args.runs,
        dtype=args.dtype,
        check_size=args.check_size,
        pipeline_tasks=args.pipeline_task,
    )
    _report(result, args.repo_id)
    return 0


def _cmd_publish_metric(args: argparse.Namespace) -> int:
    result = publish_metric(
        args.repo_id,
        local_dir=args.local_dir,
        push=False if args.local_dir else None,
        force=args.force,
        private=args.private,
        commit_message=args.commit_message,
        package_requirement=args.package_requirement,
    )
    _report(result, args.repo_id)
    return 0


def _report(result: PublishResult, repo_id: str) -> None:
    where = result.get("local_dir") or getattr(result.get("commit"), "commit_url", repo_id)
    print(f"{repo_id}: {len(result['files'])} files -> {where}")
    for f in result["files"]:
        print(f"  {f}")


def _cmd_install(args: argparse.Namespace) -> int:
    installed = install_checkpoints(args.checkpoints_dir, args.cache_dir)
    if not installed:
        print(f"no checkpoint folders <org>/<name>/ in {args.checkpoints_dir or project_path('checkpoints')}")
    for item in installed:
        state = "installed" if item.changed else "already installed"
        print(f"{item.repo_id}: {state} as revision main ({item.commit}) in {item.snapshot}")
    return 0
