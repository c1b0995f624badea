"""Print a run's segment for a runs file (``model_cards/<name>.runs.yaml``, ``segments``), read from its record.

Usage:
    python scripts/segment_entry.py runs/eigen-p1000-v5 --run H --start 1937184 \\
        --session "2026-12-03" --hardware "Intel Xeon with AMX, one thread, bf16" --schedule "constant 2e-4, ..."

``--start`` is what the lineage had seen when the run began (the runs file's last segment's end, or the snapshot's
examples for a run continued from a snapshot). Every number printed comes from the run's ``metrics.jsonl``
(`linalg_transformers.hub.history.segment_from_metrics`); paste the output under ``segments:``.
"""

from __future__ import annotations

import argparse
import sys
import textwrap

import yaml

from linalg_transformers.hub.history import segment_from_metrics
from linalg_transformers.record import read_metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="the run's output directory (or its snapshot or published folder)")
    parser.add_argument("--run", required=True, help="the run's name in the runs file's notes")
    parser.add_argument("--start", type=int, required=True, help="examples the lineage had seen before the run")
    parser.add_argument("--session", required=True)
    parser.add_argument("--hardware", required=True)
    parser.add_argument("--schedule", required=True)
    parser.add_argument("--test-problems", type=int, default=1000)
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
    text = yaml.safe_dump([entry], sort_keys=False, default_flow_style=None, width=200)
    sys.stdout.write(textwrap.indent(text, "  "))  # as the runs files indent their segments
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
