"""Fixed test sets: byte-for-byte reproducible, separate from training streams, exportable as datasets/parquet."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from linalg_transformers.problems import DEFAULT_TEST_SEED, batch_from_dataset, get_problem, to_dataset
from linalg_transformers.problems import test_set as make_test_set

# sha256 (first 16 hex digits) of the first 200 examples of the default 5x5 test sets, computed once. Inputs come
# from the random stream alone, so they are the same on any machine with this numpy; transpose and add targets are
# exact arithmetic, so their whole fingerprint is fixed too.
GOLDEN_INPUTS = {
    "transpose": "d750bd8c823760fa",
    "add": "82e045ec0c4b043b",
    "matvec": "f5c22a4c9beaf5f3",
    "matmul": "82e045ec0c4b043b",
    "eigenvalues": "200607c912e9d1eb",
    "inverse": "d750bd8c823760fa",
}
GOLDEN_FINGERPRINTS = {"transpose": "a8473f670f6036d3", "add": "5563aa31d7e38f23"}


def _inputs_hash(inputs) -> str:
    return hashlib.sha256(b"".join(np.ascontiguousarray(x, "<f8").tobytes() for x in inputs)).hexdigest()[:16]


@pytest.mark.parametrize("name", sorted(GOLDEN_INPUTS))
def test_default_test_sets_are_fixed_byte_for_byte(name):
    data = make_test_set(get_problem(name, dim=5), size=200)
    assert _inputs_hash(data.inputs) == GOLDEN_INPUTS[name]
    if name in GOLDEN_FINGERPRINTS:
        assert data.fingerprint()[:16] == GOLDEN_FINGERPRINTS[name]


def test_test_sets_are_reproducible_in_a_fresh_process():
    code = (
        "from linalg_transformers.problems import get_problem, test_set;"
        "print(test_set(get_problem('eigenvectors', dim=(3, 6)), size=300).fingerprint())"
    )
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert fresh == make_test_set(get_problem("eigenvectors", dim=(3, 6)), size=300).fingerprint()


def test_test_sets_default_size_seed_and_prefix_property():
    problem = get_problem("eigenvalues", dim=3)
    full = make_test_set(problem)
    assert len(full) == 10_000 and DEFAULT_TEST_SEED == 2022
    assert make_test_set(problem, seed=DEFAULT_TEST_SEED).fingerprint() == full.fingerprint()
    assert make_test_set("eigenvalues", size=10_000, seed=None).fingerprint() != full.fingerprint()  # dim 5
    assert make_test_set(problem.config_dict(), size=10_000).fingerprint() == full.fingerprint()
    assert make_test_set(problem, size=100, seed=1).fingerprint() != make_test_set(problem, size=100).fingerprint()


def test_test_sets_never_coincide_with_training_streams():
    problem = get_problem("transpose", dim=4)
    test_inputs = make_test_set(problem, size=500).inputs
    seen = {m.tobytes() for m in test_inputs}
    for seed in (DEFAULT_TEST_SEED, [DEFAULT_TEST_SEED, 0, 0, 0], [DEFAULT_TEST_SEED, 0, 0], [0, 0, 0, 0]):
        train = problem.generate(500, seed=seed).inputs
        assert not seen & {m.tobytes() for m in train}


def test_test_sets_carry_no_input_noise():
    noisy = get_problem("inverse", dim=4, noise=0.1)
    clean = get_problem("inverse", dim=4)
    assert make_test_set(noisy, size=200).fingerprint() == make_test_set(clean, size=200).fingerprint()
    assert noisy.generate(200, seed=0).fingerprint() != clean.generate(200, seed=0).fingerprint()


def test_cotraining_test_sets_carry_tasks():
    data = make_test_set(get_problem("cotraining", tasks="TEF", dim=3), size=90)
    assert isinstance(data.inputs, np.ndarray) and isinstance(data.targets, list)  # inputs share one shape
    assert len(data.tasks) == 90 and set(data.tasks) == {"T", "E", "F"}


@pytest.mark.parametrize("name", ["eigenvalues", "cotraining"])
def test_export_to_dataset_and_parquet_round_trips(name, tmp_path):
    problem = get_problem(name, dim=3)
    data = make_test_set(problem, size=40)
    ds = to_dataset(problem, encoding="P1000", input_encoding="FP15", size=40)
    assert ds.column_names == ["input", "target", "input_tokens", "target_tokens", "task"] and len(ds) == 40
    info = json.loads(ds.info.description)
    assert info["problem"] == problem.config_dict() and info["fingerprint"] == data.fingerprint()
    assert (info["input_encoding"], info["output_encoding"], info["seed"]) == ("FP15", "P1000", DEFAULT_TEST_SEED)
    row = ds[0]
    assert row["input_tokens"].startswith("V3 V3 N") and row["target_tokens"].startswith("V")
    assert row["task"] == (data.tasks[0] if data.tasks else "E")
    from linalg_transformers import get_encoding

    for i in range(40):
        x, y = np.asarray(data.inputs[i]), np.asarray(data.targets[i])
        np.testing.assert_array_equal(
            get_encoding("FP15").decode_matrix(ds[i]["input_tokens"]), get_encoding("FP15").round(x)
        )
        np.testing.assert_array_equal(
            get_encoding("P1000").decode_matrix(ds[i]["target_tokens"]), get_encoding("P1000").round(y)
        )
    assert batch_from_dataset(ds, problem).fingerprint() == data.fingerprint()
    path = tmp_path / "test.parquet"
    ds.to_parquet(str(path))
    import datasets

    back = datasets.Dataset.from_parquet(str(path))
    assert batch_from_dataset(back, problem).fingerprint() == data.fingerprint()  # floats exact through parquet
    assert back["target_tokens"] == ds["target_tokens"]


def test_export_of_any_batch():
    problem = get_problem("svd", dim=(2, 3), rectangular=True)
    batch = problem.generate(30, seed=5)
    ds = to_dataset(problem, encoding="B1999", batch=batch)
    assert batch_from_dataset(ds, problem).fingerprint() == batch.fingerprint()
    assert ds[0]["target_tokens"].split()[0] == f"V{batch.targets[0].shape[0]}"
