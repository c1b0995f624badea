"""The README's Python examples run as doctests, so the README stays true."""

from __future__ import annotations

import doctest
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_examples(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has no Python examples"
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    globs: dict = {}
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)  # examples use paths relative to the repository root (tokenizer_files/, ...)
        for i, block in enumerate(blocks):
            test = parser.get_doctest(block, globs, f"README block {i}", "README.md", 0)
            runner.run(test, clear_globs=False)
            globs.update(test.globs)  # later blocks build on earlier ones, as a reader's session would
    finally:
        os.chdir(cwd)
    for f in ROOT.glob("*.parquet"):  # an example writes one
        f.unlink()
    assert runner.failures == 0, f"{runner.failures} README examples failed (run pytest -s to see them)"
