"""Rewrite the expected outputs of the README's and docs' Python examples from what they print now.

After a release changes what a model answers, the doctests of ``README.md`` and ``docs/*.md`` (run by
``tests/test_readme.py``) fail where they print the model's answers. This runs each document's examples the way that
test does (one session per document, its blocks in order, from the repository root, offline) and writes what each
failing example printed in place of what it expected. Read the diff before committing it: a changed output is only
right if the change that caused it is.

Not rewritten, and listed instead: examples that raised an exception they did not expect, and examples whose expected
output uses ``...`` (an ellipsis pattern that no longer matches needs a person to decide what to elide).

Usage::

    HF_HUB_OFFLINE=1 python scripts/refresh_doc_outputs.py docs/pipelines.md README.md [--check]
"""

from __future__ import annotations

import argparse
import doctest
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", flags=re.S)


@dataclass
class Refresh:
    """What running one document's examples found.

    Attributes:
        text: The document with every rewritable failing example's expected output replaced by what it printed.
        rewritten: How many examples were rewritten.
        left: One line per failing example that was not rewritten (an unexpected exception or an ellipsis pattern).
    """

    text: str
    rewritten: int = 0
    left: list[str] = field(default_factory=list)


class _Recorder(doctest.DocTestRunner):
    """A doctest runner that keeps each failure's example and output instead of printing a report."""

    def __init__(self) -> None:
        super().__init__(optionflags=doctest.ELLIPSIS, verbose=False)
        self.outputs: list[tuple[doctest.Example, str]] = []
        self.errors: list[tuple[doctest.Example, str]] = []

    def report_failure(self, out, test, example, got):  # noqa: D102 (doctest's hook)
        self.outputs.append((example, got))

    def report_unexpected_exception(self, out, test, example, exc_info):  # noqa: D102 (doctest's hook)
        self.errors.append((example, f"{exc_info[0].__name__}: {exc_info[1]}"))


def _replace_want(lines: list[str], start: int, example: doctest.Example, got: str) -> None:
    """Replace, in place, the expected-output lines of ``example`` (its block begins at line ``start``) by ``got``.

    Args:
        lines: The document's lines, without line ends.
        start: Index in ``lines`` of the block's first line.
        example: The failing example; its ``lineno`` counts from the block's first line.
        got: What it printed.
    """
    first = start + example.lineno + example.source.count("\n")
    old = example.want.count("\n")
    new = [" " * example.indent + line if line else line for line in got.rstrip("\n").split("\n")] if got else []
    lines[first : first + old] = new


def refresh(text: str, name: str) -> Refresh:
    """Run one document's examples in one session and rewrite the expected outputs of those that fail.

    Args:
        text: The Markdown document.
        name: Its name, for the doctest names and the report.

    Returns:
        The rewritten document, the count of rewritten examples and the failures left for a person.
    """
    parser, globs = doctest.DocTestParser(), {}
    lines = text.split("\n")
    result = Refresh(text=text)
    edits: list[tuple[int, doctest.Example, str]] = []
    for i, match in enumerate(BLOCK.finditer(text)):
        start = text.count("\n", 0, match.start(1))
        runner = _Recorder()
        test = parser.get_doctest(match.group(1), globs, f"{name} block {i}", name, 0)
        runner.run(test, clear_globs=False)
        globs.update(test.globs)  # later blocks build on earlier ones, as in tests/test_readme.py
        for example, error in runner.errors:
            result.left.append(f"{name}:{start + example.lineno + 1}: raised {error}")
        for example, got in runner.outputs:
            if "..." in example.want:
                result.left.append(f"{name}:{start + example.lineno + 1}: ellipsis pattern no longer matches")
            else:
                edits.append((start, example, got))
    for start, example, got in sorted(edits, key=lambda e: e[0] + e[1].lineno, reverse=True):
        _replace_want(lines, start, example, got)
    result.text, result.rewritten = "\n".join(lines), len(edits)
    return result


def main(argv: list[str] | None = None) -> int:
    """Refresh the named documents; with ``--check``, only report.

    Returns:
        0, or 1 if an example is left for a person (or, with ``--check``, if any example fails).
    """
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("documents", nargs="+", type=Path, help="Markdown files, relative to the repository root")
    cli.add_argument("--check", action="store_true", help="report the failing examples without rewriting")
    args = cli.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    missing = [str(d) for d in args.documents if not (ROOT / d).is_file()]
    if missing:
        raise ValueError(f"no such document under {ROOT}: {', '.join(missing)}")
    os.chdir(ROOT)
    tempfile.tempdir = tempfile.mkdtemp(prefix="refresh-doc-outputs-")  # what the examples write goes here
    left = False
    for document in args.documents:
        found = refresh((ROOT / document).read_text(), document.as_posix())
        print(f"{document}: {found.rewritten} outputs {'to rewrite' if args.check else 'rewritten'}")
        for line in found.left:
            print(f"  left: {line}")
        left = left or bool(found.left)
        if found.rewritten and not args.check:
            (ROOT / document).write_text(found.text)
        left = left or (args.check and bool(found.rewritten))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
