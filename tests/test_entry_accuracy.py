"""scripts/entry_accuracy.py: entry-by-entry scores of a model's answers, and its run on a trained model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
try:
    import entry_accuracy
finally:
    sys.path.remove(str(ROOT / "scripts"))


def test_entries_are_scored_one_by_one_and_whole_matrices_need_all():
    targets = np.array([[[1.0, 2.0], [3.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]], [[5.0, 5.0], [5.0, 5.0]]])
    predictions = [
        np.array([[1.04, 2.0], [3.0, 4.0]]),  # within 5% everywhere
        np.array([[1.0, 1.2], [1.0, 1.0]]),  # one entry off by 20%
        None,  # not well formed: every entry wrong
    ]
    result = entry_accuracy.entry_accuracy(predictions, targets, 0.05)
    np.testing.assert_allclose(result.per_entry, [[2 / 3, 1 / 3], [2 / 3, 2 / 3]])
    assert result.whole == pytest.approx(1 / 3)
    wrong_shape = entry_accuracy.entry_accuracy([np.ones((3, 2))], targets[:1], 0.05)
    assert wrong_shape.per_entry.sum() == 0 and wrong_shape.whole == 0
    with pytest.raises(ValueError, match="one prediction per target"):
        entry_accuracy.entry_accuracy(predictions[:2], targets, 0.05)


def test_the_script_scores_the_released_transposition_model():
    """The released 5x5 transposition model gets every entry of its first test problems right."""
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "entry_accuracy.py"),
        str(ROOT / "checkpoints/linalg/transpose-p1000"),
    ]
    res = subprocess.run([*cmd, "--size", "20"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "entries within tolerance: 1.000; whole matrices: 1.000" in res.stdout
    bad = subprocess.run([*cmd, "--size", "0"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert bad.returncode == 2 and "--size" in bad.stderr
