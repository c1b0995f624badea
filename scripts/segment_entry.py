"""Print a run's segment for a runs file (``model_cards/<name>.runs.yaml``, ``segments``), read from its record.

Usage:
    python scripts/segment_entry.py runs/eigen-p1000-v5 --run H --start 1937184 \\
        --session "2026-12-03" --hardware "Intel Xeon with AMX, one thread, bf16" --schedule "constant 2e-4, ..."

``--start`` is what the lineage had seen when the run began (the runs file's last segment's end, or the snapshot's
examples for a run continued from a snapshot). Every number printed comes from the run's ``metrics.jsonl``
(`linalg_transformers.hub.history.segment_from_metrics`), indented as the runs files indent their segments; paste
the output under ``segments:``, or give ``--append model_cards/<name>.runs.yaml`` to add it to the end of that file
(whose last key is ``segments``), which is refused unless the segment starts where the file's last one ends.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

from linalg_transformers.hub.history import segment_from_metrics
from linalg_transformers.record import read_metrics


class _SegmentDumper(yaml.SafeDumper):
    """A YAML dumper that indents a sequence under its key (``evaluations:``, then ``  - [...]``), as runs files do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def segment_text(entry: dict[str, Any]) -> str:
    """One segment as the lines of a runs file's ``segments:`` list (two spaces, then ``- run: ...``)."""
    text = yaml.dump([entry], Dumper=_SegmentDumper, sort_keys=False, default_flow_style=None, width=200)
    return textwrap.indent(text, "  ")


def append_segment(runs_file: Path, entry: dict[str, Any]) -> None:
    """Add `entry` at the end of `runs_file`, whose last key must be ``segments`` and whose last segment must end
    where `entry` starts.

    Raises:
        ValueError: if the file's last top-level key is not ``segments``, if the segment does not continue it, or if
            the file's segments are indented otherwise than `segment_text` writes them (the file is left unchanged).
    """
    text = runs_file.read_text()
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or list(data)[-1:] != ["segments"]:
        raise ValueError(f"{runs_file}: its last top-level key must be 'segments', to append to")
    segments = data["segments"] or []
    if segments and segments[-1]["examples"][1] != entry["examples"][0]:
        raise ValueError(
            f"{runs_file}: its last segment ends at {segments[-1]['examples'][1]:,} examples, this one starts at "
            f"{entry['examples'][0]:,} (--start)"
        )
    new = text.rstrip("\n") + "\n" + segment_text(entry)
    if yaml.safe_load(new)["segments"] != [*segments, entry]:
        raise ValueError(f"{runs_file}: its segments are not indented as this script writes them; paste it by hand")
    runs_file.write_text(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="the run's output directory (or its snapshot or published folder)")
    parser.add_argument("--run", required=True, help="the run's name in the runs file's notes")
    parser.add_argument("--start", type=int, required=True, help="examples the lineage had seen before the run")
    parser.add_argument("--session", required=True)
    parser.add_argument("--hardware", required=True)
    parser.add_argument("--schedule", required=True)
    parser.add_argument("--test-problems", type=int, default=1000)
    parser.add_argument("--append", type=Path, metavar="RUNS_FILE", help="add the segment to this runs file")
    args = parser.parse_args(argv)
    metrics = read_metrics(args.run_dir)
    if not metrics:
        parser.error(f"{args.run_dir} has no metrics.jsonl")
    try:
        entry = segment_from_metrics(
            metrics,
            run=args.run,
            session=args.session,
            hardware=args.hardware,
            schedule=args.schedule,
            start=args.start,
            test_problems=args.test_problems,
        )
    except ValueError as err:
        parser.error(str(err))
    if args.append is None:
        sys.stdout.write(segment_text(entry))
        return 0
    try:
        append_segment(args.append, entry)
    except (OSError, ValueError) as err:
        parser.error(str(err))
    print(f"appended run {args.run}'s segment to {args.append}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
