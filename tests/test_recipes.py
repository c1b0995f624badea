"""The training and decoding options of the recipe search: the number-aware loss, repeated examples (two-set
training), the warmup-stable-decay schedule across sessions, and regression-aware decoding.

Everything runs on tiny models on the CPU, offline; one decoding test reads the released eigen-p1000 folder.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import save_tiny_model, tiny_model
from transformers import Seq2SeqTrainingArguments, pipeline
from transformers.cache_utils import EncoderDecoderCache
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput

import linalg_transformers  # noqa: F401
from linalg_transformers import MatrixSeq2SeqConfig, MatrixTokenizer
from linalg_transformers.data import POOL_BLOCK, MatrixDataCollator, ProblemStream, input_keys, tokenize_examples
from linalg_transformers.encodings import get_encoding
from linalg_transformers.evaluation import evaluate_model, generate_matrices
from linalg_transformers.number_loss import MANTISSA_GROUPS, MAX_DISTANCE, NumberTokenLoss
from linalg_transformers.problems import available_problems, get_problem, test_set
from linalg_transformers.regression_decoding import regression_generate, weighted_mean, weighted_median
from linalg_transformers.scoring import Score

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "training" / "configs" / "smoke.yaml"
RELEASE = ROOT / "checkpoints" / "linalg" / "eigen-p1000"
ENCODINGS = ("P10", "P1000", "B1999", "FP15")

sys.path.insert(0, str(ROOT / "training"))
import train  # noqa: E402


def tokenizer_for(output_encoding: str) -> MatrixTokenizer:
    return MatrixTokenizer(input_encoding="P1000", output_encoding=output_encoding)


def peaked_logits(tok: MatrixTokenizer, labels: torch.Tensor, position: int, token: str) -> torch.Tensor:
    """Logits `(1, T, K)` that put almost all mass on `token` at `position` (and uniform mass elsewhere)."""
    logits = torch.zeros(1, labels.shape[1], tok.output_vocab_size)
    logits[0, position, tok.convert_tokens_to_ids(token)] = 30.0
    return logits


# =============================================================================================== number loss
NEAR_AND_FAR = {  # encoding: (target value, position of its mantissa token, near token, far token)
    "P10": (3.14, 3, "4", "9"),  # + 3 1 4 E-2: the first digit
    "P1000": (3.14, 3, "315", "700"),
    "B1999": (3.14, 2, "N315", "N700"),
    "FP15": (3.14, 2, "N315e7", "N700e7"),
}


@pytest.mark.parametrize("kind", ["wasserstein", "soft"])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_number_loss_rewards_near_misses_in_every_encoding(encoding, kind):
    tok = tokenizer_for(encoding)
    value, position, near, far = NEAR_AND_FAR[encoding]
    labels = tok.prepare_batch([[[1.0]]], [[[value]]])["labels"]
    loss = NumberTokenLoss(tok, kind=kind)
    right = tok.convert_ids_to_tokens(int(labels[0, position]))
    at = {t: float(loss.term(peaked_logits(tok, labels, position, t), labels)) for t in (right, near, far)}
    assert at[right] < at[near] < at[far], at


def test_p1000_distances_cross_powers_of_ten_and_signs_are_far_apart():
    tok = tokenizer_for("P1000")
    loss = NumberTokenLoss(tok)
    index = {int(i): k for k, i in enumerate(loss.ids)}
    target = torch.tensor([index[tok.convert_tokens_to_ids("100")]])  # 10.0 is "+ 100 E-1"
    d = loss.distances(target)[0]
    at = {m: float(d[index[tok.convert_tokens_to_ids(str(m))]]) for m in (100, 101, 999, 990, 500)}
    assert at[100] == 0 and at[999] == pytest.approx(math.log(1000 / 999), rel=1e-4)  # 9.99 is next to 10.0
    assert at[999] < at[101] < at[990] < at[500]
    b1999 = NumberTokenLoss(tokenizer_for("B1999"))
    index = {int(i): k for k, i in enumerate(b1999.ids)}
    ids = tokenizer_for("B1999").convert_tokens_to_ids
    d = b1999.distances(torch.tensor([index[ids("N314")]]))[0]
    assert float(d[index[ids("N-314")]]) == pytest.approx(MAX_DISTANCE)
    assert float(d[index[ids("N315")]]) == pytest.approx(math.log(315 / 314), rel=1e-4)


@pytest.mark.parametrize("encoding", ["FP15", "P10"])
def test_wasserstein_is_the_difference_of_cdfs_on_a_line(encoding):
    """Against a one-hot target, W1 = sum over consecutive ordered tokens of |CDF_p - CDF_target| * gap."""
    tok = tokenizer_for(encoding)
    loss = NumberTokenLoss(tok)
    if encoding == "FP15":  # one sign (the other sheet is at the capped distance): restrict to positive values
        keep = (loss.sheets == 0).nonzero()[:, 0][:2000]
    else:
        keep = torch.arange(len(loss.ids))
    coords = loss.coordinates[keep].double()
    order = torch.argsort(coords)
    coords, keep = coords[order], keep[order]
    rng = torch.Generator().manual_seed(0)
    group_logits = torch.randn(1, len(keep), generator=rng, dtype=torch.float64) * 3
    target = int(keep[len(keep) // 3])
    p = torch.softmax(group_logits, -1)[0]
    cdf_p = torch.cumsum(p, 0)[:-1]
    cdf_t = (torch.arange(len(keep)) >= len(keep) // 3).double()[:-1]
    gaps = coords[1:] - coords[:-1]
    w1 = float(((cdf_p - cdf_t).abs() * gaps).sum())
    # The same prediction as logits over the vocabulary (other tokens at -inf); distances uncapped on this range.
    logits = torch.full((1, 1, tok.output_vocab_size), -1e9, dtype=torch.float64)
    logits[0, 0, loss.ids[keep]] = group_logits[0]
    labels = loss.ids[target].reshape(1, 1)
    distances = loss.distances(torch.tensor([target]))[0, keep]
    assert float(distances.max()) < MAX_DISTANCE or encoding == "FP15"
    expected = float((p * distances.double()).sum())
    assert float(loss.term(logits, labels)) == pytest.approx(expected, rel=1e-4)
    if float(distances.max()) < MAX_DISTANCE:  # no cap inside the range: W1 exactly
        assert expected == pytest.approx(w1, rel=1e-4)


def test_the_number_loss_is_normalized_like_cross_entropy_and_accumulates_exactly():
    tok = tokenizer_for("P1000")
    problem = get_problem("eigenvalues", dim=3)
    data = tokenize_examples(tok, problem.generate(8, seed=0))
    labels = torch.from_numpy(data["labels"])
    logits = torch.randn(*labels.shape, tok.output_vocab_size, generator=torch.Generator().manual_seed(1))
    loss = NumberTokenLoss(tok)
    tokens = int((labels != -100).sum())
    mean = loss.term(logits, labels)
    assert float(loss.term(logits, labels, num_items_in_batch=tokens)) == pytest.approx(float(mean))
    # Two micro-batches normalized by the whole batch's tokens add up to the whole batch's value (accumulation).
    halves = sum(loss.term(logits[i : i + 4], labels[i : i + 4], torch.tensor(tokens)) for i in (0, 4))
    assert float(halves) == pytest.approx(float(mean), rel=1e-6)
    # Only mantissa positions count: logits elsewhere do not change the term.
    changed = logits.clone()
    mantissa = torch.isin(labels, loss.ids)
    changed[~mantissa] += 5 * torch.randn_like(changed[~mantissa])
    assert float(loss.term(changed, labels)) == pytest.approx(float(mean))


def test_soft_targets_of_zero_width_are_cross_entropy_on_the_mantissas():
    tok = tokenizer_for("P1000")
    data = tokenize_examples(tok, get_problem("eigenvalues", dim=3).generate(4, seed=0))
    labels = torch.from_numpy(data["labels"])
    logits = torch.randn(*labels.shape, tok.output_vocab_size, generator=torch.Generator().manual_seed(2))
    loss = NumberTokenLoss(tok, kind="soft", width=0.0)
    mantissa = torch.isin(labels, loss.ids)
    ce = torch.nn.functional.cross_entropy(logits[mantissa], labels[mantissa], reduction="sum")
    assert float(loss.term(logits, labels)) == pytest.approx(float(ce) / int((labels != -100).sum()), rel=1e-5)
    wide = NumberTokenLoss(tok, kind="soft", width=0.05)
    assert float(wide.term(logits, labels)) > float(loss.term(logits, labels))  # spread targets: higher entropy


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_number_loss_works_for_every_problem_with_teacher_forcing(encoding):
    tok = tokenizer_for(encoding)
    model = tiny_model(tok, max_position_embeddings=256)
    loss = NumberTokenLoss(tok, weight=0.3)
    for name in available_problems():
        problem = get_problem(name, dim=3)
        batch = MatrixDataCollator(tok.pad_token_id)(
            [
                {"input_ids": i[m.astype(bool)], "labels": lab[lab != -100]}
                for i, m, lab in zip(*tokenize_examples(tok, problem.generate(4, seed=0)).values())
            ]
        )
        model.zero_grad()
        out = model(**batch)
        term = loss(out.logits, batch["labels"], step=0)
        assert torch.isfinite(term) and float(term.detach()) > 0, name
        term.backward()
        assert model.lm_head.weight.grad.abs().sum() > 0, name


def test_the_schedule_anneals_the_weight_or_the_width():
    tok = tokenizer_for("P1000")
    w1 = NumberTokenLoss(tok, weight=0.4, anneal_steps=100)
    assert w1.schedule(0) == (0.4, 0.02) and w1.schedule(50) == (pytest.approx(0.2), 0.02)
    assert w1.schedule(100)[0] == 0 and w1.schedule(1000)[0] == 0
    soft = NumberTokenLoss(tok, weight=0.4, kind="soft", width=0.1, anneal_steps=10)
    assert soft.schedule(5) == (0.4, pytest.approx(0.05)) and soft.schedule(10) == (0.4, 0.0)
    assert NumberTokenLoss(tok, weight=0.4).schedule(10**9) == (0.4, 0.02)


def test_bad_number_loss_options_raise(monkeypatch):
    tok = tokenizer_for("P1000")
    with pytest.raises(ValueError, match="unknown number loss kind 'l2'.*wasserstein, soft"):
        NumberTokenLoss(tok, kind="l2")
    with pytest.raises(ValueError, match="weight must be >= 0"):
        NumberTokenLoss(tok, weight=-1)
    monkeypatch.delitem(MANTISSA_GROUPS, "P1000")
    with pytest.raises(ValueError, match="no mantissa group for the output encoding 'P1000'"):
        NumberTokenLoss(tok)
    monkeypatch.undo()
    for bad, match in (
        (["--number_loss_kind", "l2"], "number_loss_kind"),
        (["--number_loss_weight", "-0.1"], "number_loss_weight"),
        (["--repeat_pool_size", "10"], "both repeat_pool_size > 0 and repeat_prob > 0"),
        (["--repeat_prob", "1.5", "--repeat_pool_size", "3"], "repeat_prob must be in"),
        (["--eval_size", "0"], "eval_size must be >= 1"),
        (["--final_eval_size", "-1"], "final_eval_size must be >= 0"),
    ):
        with pytest.raises(ValueError, match=match):
            train.parse_arguments(["--config", str(SMOKE), "--output_dir", "/tmp/unused", *bad])


def test_the_trainer_adds_the_weighted_term_to_cross_entropy_in_training_only(tmp_path):
    tok = tokenizer_for("P1000")
    model = tiny_model(tok).train()
    problem = get_problem("eigenvalues", dim=3)
    collate = MatrixDataCollator(tok.pad_token_id)
    stream = iter(ProblemStream(problem, tok, seed=0, chunk_size=16))
    batch = collate([next(stream) for _ in range(8)])
    args = Seq2SeqTrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[], dataloader_num_workers=0)
    loss = NumberTokenLoss(tok, weight=0.5)
    trainer = train.MatrixSeq2SeqTrainer(model=model, args=args, number_loss=loss, data_collator=collate)
    items = torch.tensor(int((batch["labels"] != -100).sum()) * 2)  # as if accumulated over two micro-batches
    torch.manual_seed(0)
    total = trainer.compute_loss(model, dict(batch), num_items_in_batch=items)
    torch.manual_seed(0)
    out = model(**batch, num_items_in_batch=items)
    expected = out.loss + 0.5 * loss.term(out.logits, batch["labels"], items)
    assert float(total.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    assert trainer._number_sums[1] == pytest.approx(
        float(0.5 * loss.term(out.logits.detach(), batch["labels"], items))
    )
    model.eval()
    plain = trainer.compute_loss(model, dict(batch), num_items_in_batch=items)
    assert float(plain.detach()) == pytest.approx(
        float(model(**batch, num_items_in_batch=items).loss.detach()), rel=1e-6
    )


# ========================================================================================= repeated examples
def ids_of(stream: ProblemStream, n: int) -> list[tuple[int, ...]]:
    it = iter(stream)
    return [tuple(next(it)["input_ids"].tolist()) for _ in range(n)]


def test_repeated_examples_are_seeded_resumable_and_mixed_with_the_fresh_stream():
    problem = get_problem("eigenvalues", dim=3)
    tok = tokenizer_for("P1000")
    options = {"seed": 3, "chunk_size": 16, "repeat_pool_size": 10, "repeat_prob": 0.5}
    mixed = ids_of(ProblemStream(problem, tok, **options), 200)
    assert mixed == ids_of(ProblemStream(problem, tok, **options), 200)  # seeded
    pool = ProblemStream(problem, tok, **options).pool()
    pool_ids = set(input_keys(pool))
    assert len(pool["input_ids"]) == 10 and len(pool_ids) == 10
    as_keys = [np.array(x, dtype=np.int64).tobytes() for x in mixed]
    from_pool = np.array([k in pool_ids for k in as_keys])
    assert 0.35 < from_pool.mean() < 0.65  # p = 0.5 of 200 examples
    assert len({k for k, f in zip(as_keys, from_pool) if f}) == 10  # every pool example came, most more than once
    plain = ids_of(ProblemStream(problem, tok, seed=3, chunk_size=16), 200)
    assert [m for m, f in zip(mixed, from_pool) if not f] == [p for p, f in zip(plain, from_pool) if not f]
    for start in (16, 13, 101):  # on a chunk boundary, and inside chunks: the resumed stream continues exactly
        resumed = ids_of(ProblemStream(problem, tok, start_example=start, **options), 40)
        assert resumed == mixed[start : start + 40]
    other_rank = ProblemStream(problem, tok, rank=1, **options)
    assert set(input_keys(other_rank.pool())) == pool_ids  # one pool for every process
    assert ids_of(other_rank, 50) != mixed[:50]
    only_pool = ids_of(ProblemStream(problem, tok, seed=3, chunk_size=16, repeat_pool_size=10, repeat_prob=1.0), 50)
    assert {np.array(x, dtype=np.int64).tobytes() for x in only_pool} <= pool_ids
    small_chunks = ProblemStream(problem, tok, seed=3, chunk_size=4, repeat_pool_size=10, repeat_prob=0.5)
    assert set(input_keys(small_chunks.pool())) == pool_ids  # the pool does not depend on chunk_size


def test_the_pool_never_holds_a_test_problem():
    """A 1x1 problem has few distinct inputs, so a pool drawn blindly would overlap its test set."""
    problem = get_problem("transpose", dim=1, coeff_range=1)
    tok = tokenizer_for("P1000")
    test_keys = set(input_keys(tokenize_examples(tok, test_set(problem, size=2000))))
    blind = ProblemStream(problem, tok, seed=0, repeat_pool_size=500, repeat_prob=0.5)
    assert set(input_keys(blind.pool())) & test_keys  # the check below can fail
    kept_apart = ProblemStream(problem, tok, seed=0, repeat_pool_size=500, repeat_prob=0.5, exclude_inputs=test_keys)
    pool = set(input_keys(kept_apart.pool()))
    assert len(kept_apart.pool()["input_ids"]) == 500 and not pool & test_keys
    # Excluding every input the pool stream draws in its first 20 blocks: the pool cannot be filled.
    drawn = ProblemStream(problem, tok, seed=0, repeat_pool_size=20 * POOL_BLOCK, repeat_prob=0.5)
    everything = set(input_keys(drawn.pool()))
    with pytest.raises(ValueError, match="could not draw 10 pool examples outside the excluded"):
        ProblemStream(problem, tok, seed=0, repeat_pool_size=10, repeat_prob=0.5, exclude_inputs=everything).pool()


def test_training_keeps_the_pool_apart_from_every_fixed_test_set_it_scores(tmp_path):
    extra = ["--repeat_pool_size", "64", "--repeat_prob", "0.5", "--extra_test_distributions", "laplace"]
    args = train.parse_arguments(["--config", str(SMOKE), "--output_dir", str(tmp_path), *extra])
    problem = get_problem(args.problem, **train.problem_options(args))
    tok = MatrixTokenizer(input_encoding=args.input_encoding, output_encoding=args.output_encoding)
    keys = train.fixed_test_inputs(args, problem, tok)
    for p in (problem, get_problem({**problem.config_dict(), "eigen_distribution": "laplace"})):
        for size in (args.eval_size, args.final_eval_size, 10_000):
            assert set(input_keys(tokenize_examples(tok, test_set(p, size=size)))) <= keys


def test_bad_pool_options_raise():
    problem, tok = get_problem("eigenvalues", dim=3), tokenizer_for("P1000")
    for options, match in (
        ({"repeat_pool_size": 5}, "both repeat_pool_size > 0 and repeat_prob > 0"),
        ({"repeat_prob": 0.5}, "both"),
        ({"repeat_pool_size": -1, "repeat_prob": 0.5}, "non-negative int"),
        ({"repeat_pool_size": 5, "repeat_prob": 2.0}, r"in \[0, 1\]"),
    ):
        with pytest.raises(ValueError, match=match):
            ProblemStream(problem, tok, seed=0, **options)


# ====================================================================================== training end to end
def tiny_run(out: Path, *extra: str) -> list[dict]:
    argv = ["--config", str(SMOKE), "--output_dir", str(out), "--logging_steps", "1", "--eval_strategy", "no"]
    argv += ["--final_eval_size", "16", "--save_total_limit", "10", "--disable_tqdm", "true", *extra]
    assert train.main(argv) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if "loss" in r]


@pytest.mark.slow
def test_training_with_the_number_loss_and_a_pool_logs_both_parts(tmp_path):
    rows = tiny_run(
        tmp_path / "run",
        "--max_steps", "6", "--save_steps", "6", "--number_loss_weight", "0.3",
        "--repeat_pool_size", "64", "--repeat_prob", "0.5",
    )  # fmt: skip
    assert [r["step"] for r in rows] == list(range(1, 7))
    for r in rows:
        assert r["number_loss"] > 0 and r["loss"] == pytest.approx(r["ce_loss"] + r["number_loss"], abs=2e-3)
    recorded = (tmp_path / "run" / "training_args.yaml").read_text()
    assert "number_loss_weight: 0.3" in recorded and "repeat_pool_size: 64" in recorded


def lr_by_step(rows: list[dict]) -> dict[int, float]:
    return {r["step"]: r["learning_rate"] for r in rows}


@pytest.mark.slow
def test_warmup_stable_decay_continues_across_sessions_and_decays_a_copy(tmp_path):
    """Session 1 (max_steps 12) is continued from its step-6 checkpoint, in the stable phase, with a larger max_steps
    (20): it keeps the constant rate, with no new warmup, and decays only in its last steps. A copy resumed with
    max_steps = 6 + 4 decays at once, as the end of the longer run does. (The logged rate is the step's own.)"""
    wsd = ["--lr_scheduler_type", "warmup_stable_decay", "--warmup_steps", "2", "--learning_rate", "0.001"]
    wsd += ["--lr_scheduler_kwargs", '{"num_decay_steps": 4, "min_lr_ratio": 0.1}', "--save_steps", "6"]
    first = lr_by_step(tiny_run(tmp_path / "session1", *wsd, "--max_steps", "12"))
    assert first[1] == pytest.approx(1e-4) and first[1] < first[2] < first[3]  # warmup from min_lr_ratio
    assert all(first[s] == 0.001 for s in range(3, 10)) and 0.001 > first[10] > first[11] > first[12] > 1e-4

    def continued(name: str, max_steps: int) -> dict[int, float]:
        out = tmp_path / name
        out.mkdir()
        shutil.copytree(tmp_path / "session1" / "checkpoint-6", out / "checkpoint-6")
        return lr_by_step(tiny_run(out, *wsd, "--max_steps", str(max_steps)))

    longer = continued("session2", 20)
    assert min(longer) == 7 and max(longer) == 20  # resumed at the checkpoint, not restarted
    assert all(longer[s] == 0.001 for s in range(7, 18))  # the constant rate until the decay
    assert 0.001 > longer[18] > longer[19] > longer[20] > 1e-4
    assert [longer[s] for s in (18, 19, 20)] == pytest.approx([first[s] for s in (10, 11, 12)])
    decayed = continued("published", 10)
    assert decayed[7] == 0.001 and 0.001 > decayed[8] > decayed[9] > decayed[10] > 1e-4
    assert [decayed[s] for s in range(7, 11)] == pytest.approx([longer[s] for s in range(17, 21)])


# ==================================================================================== regression decoding
def test_weighted_median_and_mean_of_hand_built_distributions():
    values = np.array([[1.0, 2.0, 3.0], [5.0, 9.9, 10.0], [7.0, 7.5, 8.0]])
    weights = np.array([[0.4, 0.3, 0.3], [0.1, 0.45, 0.45], [0.0, 0.2, 0.8]])
    assert weighted_median(values, weights).tolist() == [2.0, 9.9, 8.0]  # the mode of row 0 is 1.0
    assert weighted_mean(values, weights) == pytest.approx([1.9, 9.455, 7.9])
    assert weighted_median(values[:, ::-1], weights[:, ::-1]).tolist() == [2.0, 9.9, 8.0]  # order-free


class TableModel(torch.nn.Module):
    """A scripted decoder: next-token log-probabilities are a function of the tokens written so far.

    The prefix travels in the cache (the token ids stored as keys), so the test also checks that regression
    decoding selects and reorders cache rows correctly.
    """

    def __init__(self, tok: MatrixTokenizer, script) -> None:
        super().__init__()
        self.tok, self.script = tok, script
        self.config = MatrixSeq2SeqConfig(
            vocab_size=tok.vocab_size, decoder_vocab_size=tok.output_vocab_size, max_position_embeddings=40
        )
        self.calls = 0

    def get_encoder(self):
        return lambda input_ids, attention_mask=None: BaseModelOutput(
            last_hidden_state=torch.zeros(input_ids.shape[0], input_ids.shape[1], 1)
        )

    def forward(self, encoder_outputs, attention_mask, decoder_input_ids, past_key_values, use_cache):
        assert isinstance(past_key_values, EncoderDecoderCache)
        self.calls += 1
        stored = past_key_values.self_attention_cache
        new = decoder_input_ids.double()[:, None, :, None]
        keys, _ = stored.update(new, new, 0)
        logits = torch.full((len(decoder_input_ids), 1, self.config.decoder_vocab_size), -50.0)
        for row, prefix in enumerate(keys[:, 0, :, 0].long().tolist()):
            for token, p in self.script(self.tok.convert_ids_to_tokens(prefix[1:])).items():
                logits[row, 0, self.tok.convert_tokens_to_ids(token)] = math.log(p)
        return Seq2SeqLMOutput(logits=logits)


def split_across_ten(written: list[str]) -> dict[str, float]:
    """One number near 10: mantissa 100 (10.0, 0.46), 990 (9.90, 0.44) or 500 (written 5.00, 0.1); sign + (0.9)."""
    if len(written) < 2:
        return {"V1": 1.0}
    after = written[2:]
    if len(after) == 0:
        return {"+": 0.9, "-": 0.1}
    if len(after) == 1:
        return {"100": 0.46, "990": 0.44, "500": 0.1}
    if len(after) == 2:
        return {"E-1": 1.0} if after[1] == "100" else {"E-2": 1.0}
    return {"</s>": 1.0}


def test_the_median_is_taken_over_values_across_a_power_of_ten():
    tok = tokenizer_for("P1000")
    model = TableModel(tok, split_across_ten)
    batch = tok.prepare_batch(np.ones((2, 1, 1)))
    decode = {
        s: tok.batch_decode(regression_generate(model, tok, batch["input_ids"], batch["attention_mask"], statistic=s))
        for s in ("median", "mean")
    }
    # Values -10.0, -9.90, -5.00 (sign -, 0.1 in all), 5.00, 9.90, 10.0: the weighted median is 9.90. The mantissa
    # alone (100 < 500 < 990 with 0.46 / 0.1 / 0.44) would have given its middle, 500: a number off by half.
    assert decode["median"][0].split() == ["<s>", "V1", "V1", "+", "990", "E-2", "</s>"]
    mean = (0.9 - 0.1) * (0.46 * 10.0 + 0.44 * 9.9 + 0.1 * 5.0)
    assert decode["mean"][0].split()[3:6] == get_encoding("P1000").encode_number(mean)
    greedy = regression_generate(model, tok, batch["input_ids"], batch["attention_mask"], num_candidates=1)
    assert tok.batch_decode(greedy)[0].split()[3:6] == ["+", "100", "E-1"]  # the most likely tokens: the mode


def three_numbers(written: list[str]) -> dict[str, float]:
    """A 3x1 answer where each number's distribution depends on the value chosen for the previous one."""
    if len(written) < 2:
        return {"V3": 0.7, "V1": 0.3} if not written else {"V1": 0.8, "V2": 0.2}
    after = written[2:]
    slot, done = len(after) % 3, len(after) // 3
    if done == 3:
        return {"</s>": 1.0}
    previous = after[3 * done - 2] if done else "200"
    if slot == 0:
        return {"+": 1.0}
    if slot == 1:  # 0.4 on the previous mantissa + 1, then 0.35 and 0.25 on + 2 and + 3: the median is + 2
        m = int(previous)
        return {str(m + 1): 0.4, str(m + 2): 0.35, str(m + 3): 0.25}
    return {"E-2": 1.0}


def test_each_number_conditions_on_the_values_chosen_before_it():
    tok = tokenizer_for("P1000")
    model = TableModel(tok, three_numbers)
    batch = tok.prepare_batch(np.ones((1, 2, 2)))
    out = regression_generate(model, tok, batch["input_ids"], batch["attention_mask"], statistic="median")
    assert tok.decode(out[0]) == "<s> V3 V1 + 202 E-2 + 204 E-2 + 206 E-2 </s>"
    greedy = regression_generate(model, tok, batch["input_ids"], batch["attention_mask"], num_candidates=1)
    assert tok.decode(greedy[0]) == "<s> V3 V1 + 201 E-2 + 202 E-2 + 203 E-2 </s>"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_regression_decoding_writes_well_formed_answers_in_every_encoding(encoding):
    tok = tokenizer_for(encoding)
    model = tiny_model(tok, max_position_embeddings=48)
    with torch.no_grad():  # a random model writes any header; this one writes a 2x2 answer
        model.lm_head.bias[tok.convert_tokens_to_ids("V2")] += 100.0
    x = np.random.default_rng(0).uniform(-10, 10, (5, 2, 2))
    batch = tok.prepare_batch(x)
    for statistic in ("median", "mean"):
        out = regression_generate(model, tok, batch["input_ids"], batch["attention_mask"], statistic=statistic)
        decoded = tok.decode_matrices(out)
        assert decoded.valid.all() and all(m.shape == (2, 2) for m in decoded.matrices), (encoding, statistic)
    short = regression_generate(model, tok, batch["input_ids"], batch["attention_mask"], max_new_tokens=6)
    assert short.shape[1] <= 7 and not tok.decode_matrices(short).valid.any()  # out of budget: not well formed


def overfit_model(tok: MatrixTokenizer, inputs: np.ndarray, targets: np.ndarray):
    """A tiny model trained to write `targets` for `inputs` (greedy decoding writes them)."""
    model = tiny_model(tok).train()
    batch = tok.prepare_batch(inputs, targets)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(200):
        optimizer.zero_grad()
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.05
    return model.eval(), batch


@pytest.mark.parametrize("encoding", ["P1000", "P10"])
def test_with_peaked_distributions_regression_decoding_is_greedy_decoding(encoding):
    tok = tokenizer_for(encoding)
    rng = np.random.default_rng(1)
    inputs, targets = rng.uniform(-10, 10, (4, 2, 2)), rng.uniform(-10, 10, (4, 2, 1))
    model, batch = overfit_model(tok, inputs, targets)
    model.lm_head.register_forward_hook(lambda module, args, out: out * 20)  # the same argmax, peaked
    length = tok.prepare_batch(inputs, targets)["labels"].shape[1]
    greedy = model.generate(batch["input_ids"], attention_mask=batch["attention_mask"], max_length=length + 1)
    assert tok.decode_matrices(greedy).stack((2, 1)) == pytest.approx(get_encoding(encoding).round(targets))
    for statistic in ("median", "mean"):
        out = regression_generate(model, tok, batch["input_ids"], batch["attention_mask"], statistic=statistic)
        assert torch.equal(out[:, : greedy.shape[1]], greedy), statistic


@pytest.mark.skipif(not (RELEASE / "model.safetensors").is_file(), reason="the released eigen-p1000 folder is absent")
def test_on_the_sharpened_release_median_decoding_is_greedy_decoding():
    """eigen-p1000 with its logits multiplied by 1e4 (the same argmax, a peaked distribution)."""
    from linalg_transformers.evaluation import load_model

    model, tok = load_model(RELEASE)
    problem = get_problem({k: v for k, v in model.config.training_problem.items() if "encoding" not in k})
    batch = tok.prepare_batch(test_set(problem, size=16).inputs)
    greedy = model.generate(batch["input_ids"], attention_mask=batch["attention_mask"], max_length=19)
    one = regression_generate(model, tok, batch["input_ids"], batch["attention_mask"], num_candidates=1)
    assert torch.equal(one, greedy)  # one candidate: greedy decoding (the release's greedy answers are well formed)
    model.lm_head.register_forward_hook(lambda module, args, out: out * 1e4)
    out = regression_generate(model, tok, batch["input_ids"], batch["attention_mask"], max_new_tokens=18)
    assert torch.equal(out, greedy)


def test_bad_decoding_options_raise():
    tok = tokenizer_for("P1000")
    model = tiny_model(tok)
    batch = tok.prepare_batch(np.ones((1, 2, 2)))
    with pytest.raises(ValueError, match="unknown statistic 'mode'; valid: median, mean"):
        regression_generate(model, tok, batch["input_ids"], statistic="mode")
    with pytest.raises(ValueError, match="num_candidates must be a positive int"):
        regression_generate(model, tok, batch["input_ids"], num_candidates=0)
    with pytest.raises(ValueError, match="unknown decoding 'mode'; valid: greedy, grammar, median, mean"):
        generate_matrices(model, tok, np.ones((1, 2, 2)), decoding="mode")
    with pytest.raises(ValueError, match="does not combine with num_beams=2"):
        generate_matrices(model, tok, np.ones((1, 2, 2)), decoding="median", num_beams=2)
    with pytest.raises(ValueError, match="writes no task token"):
        generate_matrices(model, tok, np.ones((1, 2, 2)), tasks=["T"], decoding="median")


def test_evaluation_and_the_pipeline_decode_with_the_median(tmp_path):
    tok = tokenizer_for("P1000")
    model, _ = overfit_model(tok, np.eye(3)[None] * 2.0, np.array([[[2.0], [2.0], [2.0]]]))
    problem = get_problem("eigenvalues", dim=3)
    result = evaluate_model(model, tok, problem, np.eye(3)[None] * 2.0, decoding="median")
    assert result.metrics["accuracy@0.005"] == 1.0
    solver = pipeline("matrix-eigen", model=model, tokenizer=tok)
    out = solver(np.eye(3) * 2.0, decoding="median")
    assert (
        out["valid"]
        and out["eigenvalues"] == [2.0, 2.0, 2.0]
        and out["generated"] == solver(np.eye(3) * 2.0)["generated"]
    )
    with pytest.raises(ValueError, match="unknown decoding 'mode'"):
        solver(np.eye(3), decoding="mode")
    with pytest.raises(ValueError, match="does not combine with num_beams=2, verify_rerank=True"):
        solver(np.eye(3), decoding="mean", num_beams=2, verify_rerank=True)


def test_the_evaluate_command_takes_a_decoding(tmp_path):
    tok = tokenizer_for("P1000")
    model = tiny_model(tok)
    model.config.training_problem = {"name": "eigenvalues", "dim": 3}
    model.save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    command = [sys.executable, "-m", "linalg_transformers.cli", "evaluate", str(tmp_path / "model"), "--size", "8"]
    command += ["--no-progress", "--precision", "fp32", "--device", "cpu"]
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "TOKENIZERS_PARALLELISM": "false"}
    res = subprocess.run(
        [*command, "--decoding", "median", "--candidates", "4", "--json", str(tmp_path / "out.json")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert "regression-aware decoding (median of 4 candidates per number)" in res.stdout
    results = json.loads((tmp_path / "out.json").read_text())
    assert results["decoding"] == "median" and results["num_candidates"] == 4
    res = subprocess.run(
        [*command, "--decoding", "mean", "--num-beams", "2"], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert res.returncode == 2 and "does not combine with num_beams=2" in res.stderr


# ============================================================================================= the documentation
def test_the_recipes_page_examples_run():
    """docs/recipes.md's Python examples run as doctests (as README.md's do in test_readme.py)."""
    import doctest
    import os
    import re

    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "recipes.md").read_text(), flags=re.S)
    assert blocks
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    cwd, globs = os.getcwd(), {}
    try:
        os.chdir(ROOT)
        for i, block in enumerate(blocks):
            runner.run(parser.get_doctest(block, globs, f"recipes block {i}", "docs/recipes.md", 0), clear_globs=False)
    finally:
        os.chdir(cwd)
    assert runner.failures == 0, f"{runner.failures} docs/recipes.md examples failed (run pytest -s to see them)"


# ------------------------------------------------------------------------------------------- the recipe A/B
def _recipe_arms():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import recipe_arms
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return recipe_arms


def test_every_arm_is_a_valid_training_command_at_the_protocol_budget():
    arms = _recipe_arms()
    for arm in arms.ARMS.values():
        cmd = arm.command(seed=3)
        assert cmd[:4] == ["python", "training/train.py", "--config", arm.config]
        args = train.parse_arguments(cmd[2:])
        assert args.max_steps * args.per_device_train_batch_size == arms.BUDGET, arm.name
        assert args.warmup_steps * args.per_device_train_batch_size == arms.WARMUP_EXAMPLES, arm.name
        assert args.eval_steps * args.per_device_train_batch_size == arms.EVAL_EVERY, arm.name
        assert args.seed == 3 and args.output_dir.endswith(f"runs/recipe/{arm.name}-s3")
    assert train.parse_arguments(arms.ARMS["matvec-base"].command()[2:]).problem == "matvec"


def test_projection_extrapolates_the_test_loss_both_ways(tmp_path):
    arms = _recipe_arms()
    # loss = 2 - 0.1 ln(n / 1000) exactly, after a first point on the plateau that the fit skips
    points = [(1_000, 3.0)] + [(n, 2.0 - 0.1 * math.log(n / 1_000)) for n in (10_000, 100_000, 1_000_000)]
    rows = [{"step": i, "examples": n, "eval_loss": loss} for i, (n, loss) in enumerate(points)]
    rows.append({"step": 9, "examples": 1_000_000, "loss": 1.0})  # training rows are ignored
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = arms.project(tmp_path, target_loss=1.0)
    assert p.log_slope == pytest.approx(-0.1)
    assert p.log_examples == pytest.approx(1_000 * math.exp(10.0), rel=1e-6)
    (n1, l1), (n2, l2) = points[-2:]
    assert p.linear_slope == pytest.approx((l2 - l1) / (n2 - n1) * 100_000)
    assert p.linear_examples == pytest.approx(n2 + (1.0 - l2) / ((l2 - l1) / (n2 - n1)))
    with pytest.raises(ValueError, match="need at least 3 evaluations"):
        arms.project(tmp_path / "missing")


def test_the_target_projection_fits_an_error_quantile_as_a_power_of_the_examples():
    arms = _recipe_arms()
    errors = np.array([0.03, 0.01, 0.02, np.inf, 0.04])  # one malformed answer
    assert arms.error_quantile(errors, 0.4) == 0.02 and arms.error_quantile(errors, 0.8) == 0.04
    assert arms.error_quantile(errors, 1.0) == math.inf  # 100% is never within a tolerance with a malformed answer
    with pytest.raises(ValueError, match="share must be in"):
        arms.error_quantile(errors, 0.0)
    # q = 0.2 (n / 1e6)^-0.5: 0.01 is reached at n = 1e6 * 20^2 = 4e8
    points = [(n, 0.2 * (n / 1e6) ** -0.5) for n in (1_000_000, 2_000_000, 4_000_000)]
    p = arms.project_target(points, tolerance=0.01, share=0.9)
    assert p.slope == pytest.approx(-0.5) and p.examples == pytest.approx(4e8, rel=1e-9)
    assert p.recent_slope == pytest.approx(-0.5) and p.recent_examples == pytest.approx(4e8, rel=1e-9)
    # a curve that bends: a steep early drop, then -0.5 through the last two points (as a lineage's second drop)
    bent = arms.project_target([(250_000, 3.2), *points[1:]], tolerance=0.01, share=0.9)
    assert bent.slope < -1.0 and bent.examples < 4e8  # all points: the early drop makes it optimistic
    assert bent.recent_slope == pytest.approx(-0.5) and bent.recent_examples == pytest.approx(4e8, rel=1e-9)
    assert arms.project_target(points, tolerance=0.15, share=0.9).examples == 2_000_000  # met: the first that meets it
    rising = [(1_000_000, 0.02), (2_000_000, 0.03)]
    assert arms.project_target(rising, tolerance=0.01, share=0.9).examples == math.inf
    with pytest.raises(ValueError, match="at least two points with a finite error quantile"):
        arms.project_target([(1_000_000, 0.02), (1_000_000, 0.03)], tolerance=0.01, share=0.9)
    with pytest.raises(ValueError, match="at least two points with a finite error quantile"):
        arms.project_target([(1_000_000, 0.02), (2_000_000, math.inf)], tolerance=0.01, share=0.9)


def test_the_target_projection_measures_a_model_folder_on_its_fixed_test_set(tmp_path, monkeypatch):
    arms = _recipe_arms()
    problem = get_problem("eigenvalues", dim=3)
    tok = MatrixTokenizer(input_encoding="P1000", output_encoding="P1000")
    folder = save_tiny_model(tmp_path / "m", tok, training_problem=problem.config_dict())
    with pytest.raises(ValueError, match="has no results.json"):
        arms.measure_errors(str(folder), size=4)
    # a published folder records the lineage's total; a run folder started with --init_from its own and its start's
    (folder / "results.json").write_text(json.dumps({"examples_seen": 640, "examples_seen_total": 5_640}))
    point = arms.measure_errors(str(folder), size=4, batch_size=2)
    assert point.examples == 5_640 and set(point.quantiles) == {0.5, 0.9, 0.99}
    assert set(point.accuracy) == {0.05, 0.02, 0.01, 0.005} and all(0 <= a <= 1 for a in point.accuracy.values())
    (folder / "results.json").write_text(json.dumps({"examples_seen": 640, "init_from": {"examples_seen": 5_000}}))
    assert arms.measure_errors(str(folder), size=4, batch_size=2).examples == 5_640
    within = arms.measure_errors(str(folder), size=4, batch_size=2, decoding="grammar")  # no answer malformed
    assert all(math.isfinite(q) for q in within.quantiles.values())
    (folder / "results.json").write_text(json.dumps({"examples_seen": 640, "init_from": {"model": "org/unknown"}}))
    with pytest.raises(ValueError, match="'org/unknown', whose examples are not recorded"):
        arms.measure_errors(str(folder), size=4)
    (folder / "results.json").write_text(json.dumps({"examples_seen": 640}))
    # the quantiles and accuracies are those of the evaluation's errors (an untrained model's are all malformed)
    import linalg_transformers.evaluation as evaluation

    errors = np.array([0.004, 0.009, 0.03, 0.2, np.inf])
    real = evaluation.evaluate_model

    def known_errors(*args, **kwargs):
        result = real(*args, **kwargs)
        return evaluation.EvaluationResult(score=Score(errors, np.isfinite(errors)), predictions=result.predictions)

    monkeypatch.setattr(evaluation, "evaluate_model", known_errors)
    point = arms.measure_errors(str(folder), size=5, batch_size=5)
    assert point.quantiles == {0.5: 0.03, 0.9: math.inf, 0.99: math.inf}
    assert point.accuracy == {0.05: 0.6, 0.02: 0.4, 0.01: 0.4, 0.005: 0.2}
