"""The Python examples of README.md and docs/*.md run as doctests, so the documentation stays true.

Each file is its own session (its blocks share globals, in order, as a reader's session would), run from the
repository root, where the examples' relative paths (``tokenizer_files/``, ``checkpoints/``) point.
"""

from __future__ import annotations

import doctest
import re
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
try:
    from refresh_doc_outputs import refresh, run_document
finally:
    sys.path.remove(str(ROOT / "scripts"))
DOCUMENTS = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_examples(document, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # tempfile.mkdtemp() in an example lands here
    text = (ROOT / document).read_text()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    blocks = run_document(text, document, runner)  # one session, from the repository root, cleaned up after
    if document == "README.md":
        assert blocks, "the README has no Python examples"
    assert runner.failures == 0, f"{runner.failures} examples of {document} failed (run pytest -s to see them)"


def test_links_resolve():
    """Every relative link of the README and the docs points to a file of the repository."""
    missing = []
    for document in DOCUMENTS:
        for target in LINK.findall((ROOT / document).read_text()):
            if re.match(r"[a-z]+://", target) or target.startswith("#"):
                continue
            path = (ROOT / document).parent / target.split("#")[0]
            if not path.exists():
                missing.append(f"{document}: {target}")
    assert not missing, missing


def test_readme_links_every_doc():
    """The README's documentation index links every page of docs/."""
    readme = (ROOT / "README.md").read_text()
    unlinked = [d for d in DOCUMENTS[1:] if f"]({d})" not in readme]
    assert not unlinked, f"docs pages missing from the README's index: {unlinked}"


def test_refresh_doc_outputs_rewrites_stale_outputs_and_leaves_the_rest():
    document = "\n".join(
        [
            "Intro.",
            "",
            "```python",
            ">>> x = [1, 2]",
            ">>> x",  # a stale output, rewritten
            "[1, 3]",
            ">>> print('a\\nb')",  # a stale one-line output, becomes two lines
            "a",
            ">>> print('c\\n\\nd')",  # a blank line is written as doctest reads it
            "c",
            ">>> for i in range(2):",  # a two-line source; no expected output, one now
            "...     print(i)",
            "```",
            "",
            "- a list item:",
            "",
            "  ```python",
            "  >>> x + [3]",  # right: the second block sees the first one's x (and is indented)
            "  [1, 2, 3]",
            "  >>> list(range(30))",  # an ellipsis that no longer matches: left
            "  [5, ...]",
            "  >>> 1 / 0",  # an unexpected exception: left
            "  1",
            "  >>> int('x')",  # expects another exception: left
            "  Traceback (most recent call last):",
            "  TypeError: no",
            "  >>> print('one')",
            "  two",
            "  >>> print(end='')",  # prints nothing now: its expected line goes
            "  gone",
            "  ```",
        ]
    )
    found = refresh(document, "doc.md")
    lines = found.text.split("\n")
    assert found.rewritten == 6
    assert lines[3:16] == [
        ">>> x = [1, 2]", ">>> x", "[1, 2]", ">>> print('a\\nb')", "a", "b", ">>> print('c\\n\\nd')", "c",
        "<BLANKLINE>", "d", ">>> for i in range(2):", "...     print(i)", "0",
    ]  # fmt: skip
    assert lines[16:18] == ["1", "```"]
    assert lines[-4:] == ["  >>> print('one')", "  one", "  >>> print(end='')", "  ```"]
    assert "  [5, ...]" in lines and "  1" in lines and "  TypeError: no" in lines
    assert found.left == [
        "doc.md:20: ellipsis pattern no longer matches",
        "doc.md:22: raised ZeroDivisionError: division by zero",
        "doc.md:24: expects an exception and got another output",
    ]
    again = refresh(found.text, "doc.md")
    assert again.rewritten == 0 and again.text == found.text
