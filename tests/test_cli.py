"""The ``linalg-transformers`` command line: generate, evaluate, errors and --help (offline, CPU, a tiny model)."""

from __future__ import annotations

import ast
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import Trace, registered_problem, save_tiny_model

import linalg_transformers  # noqa: F401  (registers the model classes)
from linalg_transformers import MatrixSeq2SeqForConditionalGeneration, MatrixTokenizer, cli
from linalg_transformers.cli.problems import parse_option_value
from linalg_transformers.evaluation import evaluate_model, json_safe
from linalg_transformers.problems import available_eigen_distributions, get_problem, test_set
from linalg_transformers.problems.test_sets import METADATA_KEY, to_dataset
from linalg_transformers.scoring import TOLERANCES


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # models are local folders; nothing may reach the network


TRAINED_ON = {
    "name": "eigenvalues",
    "dim": 2,
    "coeff_range": 10,
    "input_encoding": "P1000",
    "output_encoding": "P1000",
}


def run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of the command line (argparse and error exits included)."""
    try:
        code = cli.main(argv)
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A random tiny model whose config says it was trained on 2x2 eigenvalues."""
    return save_tiny_model(tmp_path_factory.mktemp("models") / "eigen-tiny", training_problem=TRAINED_ON)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------------------------------------------- help
def test_top_level_help_lists_every_command(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and out.startswith("usage: linalg-transformers")
    for command in ("generate", "evaluate", "publish", "install-checkpoints"):
        assert command in out


def test_top_level_examples_are_commands_that_parse(capsys):
    import shlex

    code, out, _ = run(["--help"], capsys)
    examples = [line.split("#")[0].strip() for line in out.splitlines() if line.startswith("  linalg-transformers ")]
    assert [e.split()[1] for e in examples][:4] == ["install-checkpoints", "solve", "generate", "evaluate"]
    parser = cli.build_parser()
    for example in examples:
        args = parser.parse_args(shlex.split(example)[1:])  # exits (SystemExit) if the syntax were wrong
        assert callable(args.func), example


def test_every_subcommand_has_a_help_page(capsys):
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert {"generate", "evaluate"} <= set(commands)
    for command in commands:
        code, out, _ = run([command, "--help"], capsys)
        assert code == 0 and out.startswith(f"usage: linalg-transformers {command}"), command
        assert len(out.splitlines()) > 5, command


@pytest.mark.parametrize("command", ["generate", "evaluate"])
def test_help_shows_examples_and_problem_options(command, capsys):
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0
    assert f"\n  linalg-transformers {command} " in out  # examples, one per line as written
    assert "problem options:" in out
    for flag in ("--dim", "--coeff-range", "--eigen-distribution", "--tasks"):
        assert flag in out
    assert "laplace" in out  # the eigenvalue distributions are listed


# ------------------------------------------------------------------------------------------------ generate
def test_generate_parquet_is_the_problems_generator_with_that_seed(tmp_path, capsys):
    path = tmp_path / "eig.parquet"
    code, out, err = run(
        ["generate", "eigenvalues", "--size", "64", "--seed", "3", "--dim", "3", "--output", str(path)], capsys
    )
    assert code == 0, err
    assert "64 examples of eigenvalues" in out and str(path) in out
    table = pq.read_table(path)
    assert table.column_names == ["input", "target", "task"]  # no token columns without an encoding
    expected = get_problem("eigenvalues", dim=3).generate(64, seed=3)
    assert np.array_equal(np.array(table.column("input").to_pylist()), expected.inputs)
    assert np.array_equal(np.array(table.column("target").to_pylist()), expected.targets)
    assert set(table.column("task").to_pylist()) == {"E"}
    meta = json.loads(table.schema.metadata[METADATA_KEY])
    assert meta["problem"] == get_problem("eigenvalues", dim=3).config_dict()
    assert (meta["seed"], meta["size"], meta["source"]) == (3, 64, "generate")
    assert b"huggingface" in table.schema.metadata  # datasets can load it back with its features


def test_generate_jsonl_with_token_strings(tmp_path, capsys):
    path = tmp_path / "eig.jsonl"
    argv = ["generate", "eigenvalues", "-n", "40", "--seed", "5", "--eigen-distribution", "laplace", "-o", str(path)]
    code, out, err = run([*argv, "--input-encoding", "FP15", "--output-encoding", "P1000"], capsys)
    assert code == 0, err
    assert "FP15 -> P1000" in out
    rows = read_jsonl(path)
    problem = get_problem("eigenvalues", eigen_distribution="laplace")
    batch = problem.generate(40, seed=5)
    expected = to_dataset(problem, batch=batch, input_encoding="FP15", output_encoding="P1000")
    assert len(rows) == 40 and list(rows[0]) == expected.column_names
    assert rows == expected.to_list()  # numbers exact (floats round-trip), tokens the same
    assert rows[0]["input_tokens"].startswith("V5 V5 ")


def test_generate_fixed_test_set(tmp_path, capsys):
    path = tmp_path / "inverse.parquet"
    code, _, err = run(["generate", "inverse", "--fixed-test-set", "--size", "30", "--output", str(path)], capsys)
    assert code == 0, err
    table = pq.read_table(path)
    expected = test_set("inverse", size=30)
    assert np.array_equal(np.array(table.column("input").to_pylist()), expected.inputs)
    meta = json.loads(table.schema.metadata[METADATA_KEY])
    assert (meta["seed"], meta["source"], meta["fingerprint"]) == (2022, "test_set", expected.fingerprint())


def test_generate_mixed_shapes_and_task_tokens(tmp_path, capsys):
    path = tmp_path / "mix.jsonl"
    argv = ["generate", "cotraining", "--tasks", "TAE", "--dim", "2,4", "--size", "30", "--output", str(path)]
    code, _, err = run([*argv, "--format", "jsonl"], capsys)
    assert code == 0, err
    problem = get_problem("cotraining", tasks=["transpose", "add", "eigenvalues"], dim=(2, 4))
    expected = problem.generate(30, seed=0)  # the default seed
    rows = read_jsonl(path)
    assert [r["task"] for r in rows] == expected.tasks
    for row, x in zip(rows, expected.inputs):
        assert np.array_equal(np.array(row["input"]), x)


def test_generate_a_user_registered_problem_with_its_own_option(tmp_path, capsys):
    class ScaledTrace(Trace):
        task_token = None

        @classmethod
        def option_defaults(cls) -> dict[str, Any]:
            return {**super().option_defaults(), "scale": 1.0}

        def solve(self, inputs):
            return self.options["scale"] * super().solve(inputs)

    with registered_problem("scaled_trace_cli", ScaledTrace):
        code, out, _ = run(["generate", "--help"], capsys)
        assert "--scale" in out and "[scaled_trace_cli]" in out
        path = tmp_path / "trace.jsonl"
        code, _, err = run(["generate", "scaled_trace_cli", "--scale", "2", "--size", "8", "-o", str(path)], capsys)
        assert code == 0, err
        expected = get_problem("scaled_trace_cli", scale=2).generate(8, seed=0)
        assert [r["target"] for r in read_jsonl(path)] == expected.targets.tolist()
        code, _, err = run(["generate", "eigenvalues", "--scale", "2", "-o", str(tmp_path / "x.jsonl")], capsys)
        assert code == 2 and "has no option(s) ['scale']" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eigenvals"], "unknown problem 'eigenvals'; valid: transpose"),
        (["inverse", "--rectangular"], "has no option(s) ['rectangular']"),
        (["eigenvalues", "--dim", "0"], "dim must satisfy"),
        (["eigenvalues", "--dim", "3,2"], "dim must satisfy"),
        (["eigenvalues", "--eigen-distribution", "cauchy"], "unknown eigen_distribution 'cauchy'"),
        (["eigenvalues", "--coeff-distribution", "cauchy"], "unknown coeff_distribution"),
        (["eigenvalues", "--noise", "-1"], "noise must be"),
        (["eigenvalues", "--encoding", "P7"], "unknown encoding 'P7'"),
        (["eigenvalues", "--size", "-1"], "--size must be >= 0"),
        (["eigenvalues", "--size", "ten"], "invalid int value"),
        (["eigenvalues", "--format", "csv"], "invalid choice"),
    ],
)
def test_generate_bad_input_is_an_error_message(args, message, tmp_path, capsys):
    code, out, err = run(["generate", *args, "--output", str(tmp_path / "out.parquet")], capsys)
    assert code == 2 and message in err, err
    assert "Traceback" not in err and not (tmp_path / "out.parquet").exists()


def test_generate_output_file_errors(tmp_path, capsys):
    code, _, err = run(["generate", "eigenvalues", "--output", str(tmp_path / "eig.csv")], capsys)
    assert code == 2 and "cannot tell the format" in err
    code, _, err = run(["generate", "eigenvalues"], capsys)
    assert code == 2 and "--output" in err
    existing = tmp_path / "eig.parquet"
    existing.write_text("keep me")
    code, _, err = run(["generate", "eigenvalues", "--size", "4", "--output", str(existing)], capsys)
    assert code == 2 and "--force" in err and existing.read_text() == "keep me"
    code, _, err = run(["generate", "eigenvalues", "--size", "4", "--output", str(existing), "--force"], capsys)
    assert code == 0 and pq.read_table(existing).num_rows == 4


@pytest.mark.parametrize(
    ("text", "value"),
    [("5", 5), ("0.05", 0.05), ("3,8", [3, 8]), ("[3, 8]", [3, 8]), ("true", True), ("False", False)]
    + [("laplace", "laplace"), ("laplace,positive", "laplace,positive"), ("TADMEFI", "TADMEFI")],
)
def test_option_values(text, value):
    assert parse_option_value(text) == value


# ------------------------------------------------------------------------------------------------ evaluate
def test_evaluate_prints_the_table_and_writes_json(tiny_model, tmp_path, capsys, monkeypatch):
    import linalg_transformers.cli.evaluate as evaluate_cli

    monkeypatch.setattr(evaluate_cli, "cpu_bf16_is_faster", lambda: True)  # where auto would choose bf16
    out_json = tmp_path / "results" / "eval.json"
    argv = ["evaluate", str(tiny_model), "--size", "12", "--batch-size", "5", "--json", str(out_json)]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "problem: eigenvalues (dim=2, coeff_range=10" in out  # the model's training problem
    assert "| test set | 5% tol. | 2% tol. | 1% tol. | 0.5% tol. | well formed |" in out
    assert "| test |" in out
    results = json.loads(out_json.read_text())  # strict JSON: no NaN
    assert results["problem"] == get_problem("eigenvalues", dim=2).config_dict()
    assert (results["test_size"], results["test_seed"], results["num_beams"]) == (12, 2022, 1)
    assert results["precision"] == "fp32"  # by default, as training's final evaluation and the model cards score
    row = results["test_sets"]["test"]
    assert set(row) >= {f"accuracy@{t:g}" for t in TOLERANCES} | {"well_formed"}
    # the shared evaluation path: the same numbers as evaluate_model on the fixed test set
    model = MatrixSeq2SeqForConditionalGeneration.from_pretrained(tiny_model).eval()
    tokenizer = MatrixTokenizer.from_pretrained(tiny_model)
    problem = get_problem("eigenvalues", dim=2)
    direct = evaluate_model(model, tokenizer, problem, test_set(problem, size=12).inputs).metrics
    for key in (*(f"accuracy@{t:g}" for t in TOLERANCES), "well_formed"):
        assert row[key] == direct[key]


def test_evaluate_within_the_grammar_writes_every_answer_well_formed(tiny_model, tmp_path, capsys):
    out_json = tmp_path / "grammar.json"
    argv = [
        "evaluate",
        str(tiny_model),
        "-n",
        "8",
        "--decoding",
        "grammar",
        "--num-beams",
        "2",
        "--json",
        str(out_json),
    ]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "beam search (2 beams) within the output grammar" in out
    results = json.loads(out_json.read_text())
    assert results["decoding"] == "grammar" and results["num_candidates"] is None
    assert results["test_sets"]["test"]["well_formed"] == 1.0


def test_evaluate_out_of_distribution_rows(tiny_model, tmp_path, capsys):
    out_json = tmp_path / "ood.json"
    argv = ["evaluate", str(tiny_model), "-n", "6", "--ood", "--json", str(out_json), "--no-progress"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    names = ["test", *(d for d in available_eigen_distributions() if d != "semicircle")]  # semicircle: "test"
    assert list(json.loads(out_json.read_text())["test_sets"]) == names
    for name in names:
        assert f"| {name} |" in out
    code, out, err = run(["evaluate", str(tiny_model), "-n", "6", "--distributions", "laplace,positive"], capsys)
    assert code == 0, err
    assert "| laplace |" in out and "| positive |" in out and "| gaussian |" not in out


def test_evaluate_problem_options_override_the_training_problem(tiny_model, tmp_path, capsys):
    out_json = tmp_path / "eval.json"
    argv = ["evaluate", str(tiny_model), "-n", "4", "--eigen-distribution", "positive", "--json", str(out_json)]
    code, _, err = run([*argv, "--num-beams", "2", "--precision", "bf16"], capsys)
    assert code == 0, err
    results = json.loads(out_json.read_text())
    assert results["problem"] == get_problem("eigenvalues", dim=2, eigen_distribution="positive").config_dict()
    assert (results["num_beams"], results["precision"]) == (2, "bf16")
    # another problem keeps the training options it has (dim 2), not the defaults
    code, out, err = run(["evaluate", str(tiny_model), "-n", "4", "--problem", "transpose"], capsys)
    assert code == 0, err
    assert "problem: transpose (dim=2," in out


def test_results_json_is_strict():
    row = {"accuracy@0.05": 0.0, "well_formed": 0.0, "mean_relative_error": math.nan, "max": math.inf}
    assert json.loads(json.dumps(json_safe({"test_sets": {"test": row}}), allow_nan=False))["test_sets"]["test"] == {
        "accuracy@0.05": 0.0,
        "well_formed": 0.0,
        "mean_relative_error": None,
        "max": "inf",
    }


def test_evaluate_bad_input_is_an_error_message(tiny_model, tmp_path, capsys):
    model = str(tiny_model)
    cases = [
        ([str(tmp_path / "missing")], "cannot load a model from"),
        ([model, "--problem", "transpose", "--ood"], "has no eigen_distribution option"),
        ([model, "--distributions", "laplace,cauchy"], "unknown eigen_distribution 'cauchy'"),
        ([model, "--problem", "inverse", "--rectangular"], "has no option(s) ['rectangular']"),
        ([model, "--dim", "12"], "the model has 64 positions (trained on eigenvalues, dim=2)"),
        ([model, "--size", "0"], "--size must be >= 1"),
        ([model, "--num-beams", "0"], "--num-beams must be >= 1"),
        ([model, "--device", "tpu9"], "unknown device"),
        ([model, "--ood", "--distributions", "laplace"], "not allowed with argument"),
    ]
    for args, message in cases:
        code, _, err = run(["evaluate", *args], capsys)
        assert code == 2 and message in err, (args, err)
        assert "Traceback" not in err
    untagged = save_tiny_model(tmp_path / "untagged")
    code, _, err = run(["evaluate", str(untagged), "-n", "2"], capsys)
    assert code == 2 and "records no training problem" in err and "--problem" in err
    code, _, err = run(["evaluate", str(untagged), "-n", "2", "--problem", "eigenvalues", "--dim", "2"], capsys)
    assert code == 0, err


# ------------------------------------------------------------------------------------------------------ layering
PACKAGE_DIR = Path(linalg_transformers.__file__).resolve().parent


def library_modules() -> dict[str, Path]:
    """Module name -> source file of every module of the package outside ``linalg_transformers.cli``."""
    out = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR).with_suffix("").parts
        if parts[0] == "cli" or "__pycache__" in parts:
            continue
        name = ".".join(("linalg_transformers", *parts)).removesuffix(".__init__")
        out[name] = path
    return out


def imported_names(name: str, path: Path) -> set[str]:
    """Absolute names a module imports anywhere in its source (in functions too), relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return found


def is_cli(name: str) -> bool:
    return name == "linalg_transformers.cli" or name.startswith("linalg_transformers.cli.")


def test_library_modules_do_not_import_the_command_line():
    modules = library_modules()
    assert {"linalg_transformers.evaluation", "linalg_transformers.problems", "linalg_transformers.hub.push"} <= set(
        modules
    )
    assert imported_names("linalg_transformers.cli.evaluate", PACKAGE_DIR / "cli" / "evaluate.py") >= {
        "linalg_transformers.cli.help",
        "linalg_transformers.evaluation",
    }  # relative imports resolve to absolute names
    offenders = {name: sorted(filter(is_cli, imported_names(name, path))) for name, path in modules.items()}
    assert not {name: found for name, found in offenders.items() if found}


def test_importing_every_library_module_loads_no_command_line_code():
    importable = sorted(n for n, p in library_modules().items() if (p.parent / "__init__.py").exists())
    script = (
        "import importlib, json, sys\n"
        f"for name in {importable!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('linalg_transformers'))))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert "linalg_transformers.hub.push" in loaded and not [m for m in loaded if is_cli(m)]
