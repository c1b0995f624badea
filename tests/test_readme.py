"""The Python examples of README.md and docs/*.md run as doctests, so the documentation stays true.

Each file is its own session (its blocks share globals, in order, as a reader's session would), run from the
repository root, where the examples' relative paths (``tokenizer_files/``, ``checkpoints/``) point.
"""

from __future__ import annotations

import doctest
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python blocks of a Markdown text."""
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_examples(document, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # tempfile.mkdtemp() in an example lands here
    text = (ROOT / document).read_text()
    blocks = python_blocks(text)
    if document == "README.md":
        assert blocks, "the README has no Python examples"
    monkeypatch.chdir(ROOT)
    before = {p.name for p in ROOT.iterdir()}
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    globs: dict = {}
    try:
        for i, block in enumerate(blocks):
            test = parser.get_doctest(block, globs, f"{document} block {i}", document, 0)
            runner.run(test, clear_globs=False)
            globs.update(test.globs)  # later blocks build on earlier ones
    finally:
        # Remove what an example wrote in the repository root: new entries that the document names (a file
        # another process creates meanwhile is left alone).
        for name in {p.name for p in ROOT.iterdir()} - before:
            if name in text:
                path = ROOT / name
                shutil.rmtree(path) if path.is_dir() else path.unlink()
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
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from refresh_doc_outputs import refresh
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    document = "\n".join(
        [
            "Intro.",
            "",
            "```python",
            ">>> x = [1, 2]",
            ">>> x",  # a stale output, rewritten
            "[1, 3]",
            ">>> print('a\\nb')",  # a stale two-line output, becomes three lines
            "a",
            "```",
            "",
            "```python",
            ">>> x + [3]",  # right: the second block sees the first one's x
            "[1, 2, 3]",
            ">>> list(range(30))",  # an ellipsis that no longer matches: left
            "[5, ...]",
            ">>> 1 / 0",  # an unexpected exception: left
            "1",
            ">>> print('one')",
            "two",
            "```",
        ]
    )
    found = refresh(document, "doc.md")
    assert found.rewritten == 3
    assert found.text.split("\n")[3:10] == [">>> x = [1, 2]", ">>> x", "[1, 2]", ">>> print('a\\nb')", "a", "b", "```"]
    assert found.text.split("\n")[-3:] == [">>> print('one')", "one", "```"]
    assert "[5, ...]" in found.text and "\n1\n" in found.text
    assert [line.split(": ", 1)[1] for line in found.left] == [
        "raised ZeroDivisionError: division by zero",
        "ellipsis pattern no longer matches",
    ]
    assert refresh(found.text, "doc.md").rewritten == 0
