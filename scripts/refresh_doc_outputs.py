"""Rewrite the expected outputs of the README's and docs' Python examples from what they print now.

After a release changes what a model answers, the doctests of ``README.md`` and ``docs/*.md`` (run by
``tests/test_readme.py``) fail where they print the model's answers. This runs each document's examples the way that
test does (one session per document, its blocks in order, from the repository root, offline) and writes what each
failing example printed in place of what it expected. Read the diff before committing it: a changed output is only
right if the change that caused it is.

Not rewritten, and listed instead: examples that raised an exception they did not expect, examples that expect an
exception (a traceback is not an output to paste), and examples whose expected output uses ``...`` (an ellipsis
pattern that no longer matches needs a person to decide what to elide). `run_document` is also how
``tests/test_readme.py`` runs the documents, so both run them the same way.

Usage::

    HF_HUB_OFFLINE=1 python scripts/refresh_doc_outputs.py docs/pipelines.md README.md [--check]
"""

from __future__ import annotations

import argparse
import doctest
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", flags=re.S)


def run_document(text: str, name: str, runner: doctest.DocTestRunner) -> int:
    """Run a Markdown document's ```python blocks as doctests, in one session, from the repository root.

    The blocks share their globals in order, as a reader's session would. Each block's doctest carries the line of
    the document where it begins (``DocTest.lineno``), so a failure's line in the document is ``test.lineno +
    example.lineno + 1``. What the examples write in the repository root is removed afterwards: new entries that the
    document names (an entry another process creates meanwhile is left alone).

    Args:
        text: The document.
        name: Its name, for the doctests' names.
        runner: Runs each block (`doctest.DocTestRunner` or a subclass that records the failures).

    Returns:
        The number of blocks run.
    """
    parser, globs = doctest.DocTestParser(), {}
    before, cwd = {p.name for p in ROOT.iterdir()}, os.getcwd()
    os.chdir(ROOT)
    blocks = 0
    try:
        for i, match in enumerate(BLOCK.finditer(text)):
            test = parser.get_doctest(
                match.group(1), globs, f"{name} block {i}", name, text.count("\n", 0, match.start(1))
            )
            runner.run(test, clear_globs=False)
            globs.update(test.globs)  # later blocks build on earlier ones
            blocks += 1
    finally:
        os.chdir(cwd)
        for entry in {p.name for p in ROOT.iterdir()} - before:
            if entry in text:
                path = ROOT / entry
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    return blocks


@dataclass
class Refresh:
    """What running one document's examples found.

    Attributes:
        text: The document with every rewritable failing example's expected output replaced by what it printed.
        rewritten: How many examples were rewritten.
        left: One line per failing example that was not rewritten, in the document's order.
    """

    text: str
    rewritten: int = 0
    left: list[str] = field(default_factory=list)


class _Recorder(doctest.DocTestRunner):
    """A doctest runner that keeps each failure (its document line, example and output) instead of reporting it."""

    def __init__(self) -> None:
        super().__init__(optionflags=doctest.ELLIPSIS, verbose=False)
        self.outputs: list[tuple[int, doctest.Example, str]] = []
        self.left: list[tuple[int, str]] = []

    def report_failure(
        self, out: Callable[[str], object], test: doctest.DocTest, example: doctest.Example, got: str
    ) -> None:
        line = test.lineno + example.lineno
        if example.exc_msg is not None:
            self.left.append((line, "expects an exception and got another output"))
        elif "..." in example.want:
            self.left.append((line, "ellipsis pattern no longer matches"))
        else:
            self.outputs.append((line, example, got))

    def report_unexpected_exception(
        self, out: Callable[[str], object], test: doctest.DocTest, example: doctest.Example, exc_info: tuple
    ) -> None:
        self.left.append((test.lineno + example.lineno, f"raised {exc_info[0].__name__}: {exc_info[1]}"))


def _replace_want(lines: list[str], line: int, example: doctest.Example, got: str) -> None:
    """Replace, in place, the expected-output lines of ``example`` (its source begins at ``line``) by ``got``.

    Args:
        lines: The document's lines, without line ends.
        line: Index in ``lines`` of the example's first source line.
        example: The failing example.
        got: What it printed; a blank line of it is written ``<BLANKLINE>``, as doctest reads it.
    """
    first = line + example.source.count("\n")
    pad = " " * example.indent
    new = [pad + (row or "<BLANKLINE>") for row in got.rstrip("\n").split("\n")] if got else []
    lines[first : first + example.want.count("\n")] = new


def refresh(text: str, name: str) -> Refresh:
    """Run one document's examples in one session and rewrite the expected outputs of those that fail.

    Args:
        text: The Markdown document.
        name: Its name, for the doctests' names and the report.

    Returns:
        The rewritten document, the count of rewritten examples and the failures left for a person.
    """
    recorder = _Recorder()
    run_document(text, name, recorder)
    lines = text.split("\n")
    for line, example, got in sorted(recorder.outputs, key=lambda e: e[0], reverse=True):  # bottom up
        _replace_want(lines, line, example, got)
    left = [f"{name}:{line + 1}: {why}" for line, why in sorted(recorder.left)]
    return Refresh(text="\n".join(lines), rewritten=len(recorder.outputs), left=left)


def main(argv: list[str] | None = None) -> int:
    """Refresh the named documents; with ``--check``, only report.

    Args:
        argv: The command line's arguments (default: ``sys.argv[1:]``).

    Returns:
        0, or 1 if an example is left for a person (or, with ``--check``, if any example fails).

    Raises:
        ValueError: if a named document is not a file under the repository root.
    """
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("documents", nargs="+", type=Path, help="Markdown files, relative to the repository root")
    cli.add_argument("--check", action="store_true", help="report the failing examples without rewriting")
    args = cli.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    missing = [str(d) for d in args.documents if not (ROOT / d).is_file()]
    if missing:
        raise ValueError(f"no such document under {ROOT}: {', '.join(missing)}")
    failed = False
    with tempfile.TemporaryDirectory(prefix="refresh-doc-outputs-") as scratch:
        previous, tempfile.tempdir = tempfile.tempdir, scratch  # what the examples write with tempfile goes with it
        try:
            for document in args.documents:
                found = refresh((ROOT / document).read_text(), document.as_posix())
                print(f"{document}: {found.rewritten} outputs {'to rewrite' if args.check else 'rewritten'}")
                for line in found.left:
                    print(f"  left: {line}")
                failed = failed or bool(found.left) or (args.check and bool(found.rewritten))
                if found.rewritten and not args.check:
                    (ROOT / document).write_text(found.text)
        finally:
            tempfile.tempdir = previous
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
