"""MatrixTokenizer: ids, framing, batched helpers, saved folders, and the generic (package-free) loader."""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerFast

import linalg_transformers  # noqa: F401  (registers MatrixTokenizer with AutoTokenizer)
from linalg_transformers.encodings import get_encoding
from linalg_transformers.tokenization_matrix import (
    STANDARD_TOKENIZERS,
    TASK_TOKENS,
    MatrixTokenizer,
    lawt_vocabulary,
)

ROOT = Path(__file__).resolve().parents[1]
FILES = ROOT / "tokenizer_files"
sys.path.insert(0, str(ROOT / "scripts"))


def symmetric(n: int, dim: int = 5, seed: int = 0) -> np.ndarray:
    a = np.random.default_rng(seed).uniform(-10, 10, (n, dim, dim))
    return np.tril(a) + np.swapaxes(np.tril(a, -1), 1, 2)


@pytest.fixture(scope="module")
def tok() -> MatrixTokenizer:
    return MatrixTokenizer(input_encoding="FP15", output_encoding="P1000")


def test_special_ids_and_output_vocabulary(tok):
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    vocab = tok.get_vocab()
    assert len(vocab) == tok.vocab_size == len(set(vocab.values()))
    # Every token the output encoding can emit (and the task tokens) has an id below output_vocab_size.
    for s in [*get_encoding("P1000").symbols, *TASK_TOKENS]:
        assert vocab[s] < tok.output_vocab_size
    assert tok.output_vocab_size == 4 + len(TASK_TOKENS) + get_encoding("P1000").num_symbols


@pytest.mark.parametrize("folder", sorted(STANDARD_TOKENIZERS))
def test_nothing_maps_to_unknown(folder):
    tokenizer = AutoTokenizer.from_pretrained(FILES / folder)
    assert isinstance(tokenizer, MatrixTokenizer)
    enc_in, enc_out = (get_encoding(e) for e in STANDARD_TOKENIZERS[folder])
    symbols = sorted(set(enc_in.symbols) | set(enc_out.symbols))
    ids = tokenizer(" ".join(symbols), add_special_tokens=False)["input_ids"]
    assert len(ids) == len(symbols) and tokenizer.unk_token_id not in ids
    assert tokenizer.convert_ids_to_tokens(ids) == symbols


def test_text_path_equals_vectorized_path(tok):
    m = symmetric(6)
    ev = np.sort(np.linalg.eigvalsh(m), axis=1)[:, ::-1, None]
    batch = tok.prepare_batch(m, ev, return_tensors="np")
    for i in range(6):
        assert tok(tok.matrix_to_text(m[i]))["input_ids"] == batch["input_ids"][i].tolist()
        labels = tok(tok.matrix_to_text(ev[i], side="output"))["input_ids"]
        assert labels == batch["labels"][i].tolist()
    assert batch["input_ids"].shape == (6, 2 + 25 + 1) and batch["labels"].shape == (6, 2 + 15 + 1)


def test_round_trip_through_generated_ids(tok):
    m = symmetric(4)
    ev = np.sort(np.linalg.eigvalsh(m), axis=1)[:, ::-1, None]
    labels = tok.prepare_batch(m, ev, return_tensors="np")["labels"]
    generated = np.concatenate([np.zeros((4, 1), dtype=np.int64), labels, np.full((4, 3), tok.pad_token_id)], 1)
    decoded = tok.decode_matrices(generated)
    assert decoded.valid.all()
    np.testing.assert_array_equal(np.stack(decoded.matrices), get_encoding("P1000").round(ev))
    # Labels themselves (with -100 padding) decode too; malformed rows are invalid, never an exception.
    assert tok.decode_matrices(labels).valid.all()
    broken = generated.copy()
    broken[1, 5] = tok.convert_tokens_to_ids("N314e7")  # an input-only token inside the output
    broken[2, 1:] = tok.eos_token_id
    out = tok.decode_matrices(broken)
    assert out.valid.tolist() == [True, False, False, True] and out.matrices[1] is None
    assert tok.decode_matrices(np.random.default_rng(0).integers(-5, 40000, (50, 30))).valid.shape == (50,)
    assert tok.decode_matrices([[0, 5, 9], [1]]).valid.tolist() == [False, False]


def test_zero_length_rows_are_invalid_never_an_exception(tok):
    import torch

    for ids in ([[]], np.zeros((2, 0), dtype=np.int64), torch.zeros((2, 0), dtype=torch.long), []):
        for with_task in (False, True):
            out = tok.decode_matrices(ids, with_task=with_task)
            assert not out.valid.any() and all(m is None for m in out.matrices)
            assert len(out.matrices) == len(out.valid) == (0 if isinstance(ids, list) and not ids else len(ids))
    assert not get_encoding("P1000").decode_batch(np.zeros((2, 0), dtype=np.int64)).valid.any()


def test_decoding_random_ids_never_raises():
    """10,000 random id sequences (empty ones, out-of-range ids, ragged lists) over every setup: no exception."""
    rng = np.random.default_rng(16)
    for input_encoding, output_encoding in STANDARD_TOKENIZERS.values():
        tokenizer = MatrixTokenizer(input_encoding=input_encoding, output_encoding=output_encoding)
        for _ in range(400):
            batch, length = int(rng.integers(1, 4)), int(rng.integers(0, 30))
            kind = rng.integers(3)
            if kind == 0:  # anything, including negative and out-of-range ids
                ids = rng.integers(-200, tokenizer.vocab_size + 50, (batch, length))
            elif kind == 1:  # output tokens only: more often close to well formed
                ids = rng.integers(0, tokenizer.output_vocab_size, (batch, length))
            else:  # ragged nested lists, some empty
                ids = [rng.integers(-2, tokenizer.vocab_size, int(rng.integers(0, 10))).tolist() for _ in range(batch)]
            for with_task in (False, True):
                out = tokenizer.decode_matrices(ids, with_task=with_task)
                assert len(out.matrices) == len(out.valid) == batch
                assert all((m is None) != bool(v) for m, v in zip(out.matrices, out.valid))


def test_only_eos_pad_and_minus_100_end_a_sequence(tok):
    """An id outside the vocabulary inside a sequence makes it invalid; it is not read as the sequence's end."""
    three = tok.encode_matrices([np.array([[3.0]])], side="output")[0][0]
    body = [int(t) for t in three if t not in (tok.eos_token_id, tok.pad_token_id)]  # V1 V1 + 300 E-2
    assert tok.decode_matrices([[*body, tok.eos_token_id]]).matrices[0].tolist() == [[3.0]]
    for bad in (999_999, tok.vocab_size, -1, -5):
        for ids in ([*body[:3], bad, *body[3:]], [*body, bad, *body], [*body, bad]):
            out = tok.decode_matrices([ids])
            assert not out.valid[0] and out.matrices[0] is None, (bad, ids)
    for end in (tok.eos_token_id, tok.pad_token_id, -100):
        out = tok.decode_matrices([[*body, end, 999_999, *body]])  # whatever follows the end is ignored
        assert out.valid[0] and out.matrices[0].tolist() == [[3.0]], end


def test_mixed_shapes_and_task_tokens(tok):
    mats = [np.eye(2), np.ones((3, 1)), -np.eye(2)]
    ids, lengths = tok.encode_matrices(mats, "output", tasks=["T", "E", "I"])
    assert lengths.tolist() == [1 + 2 + 4 * 3 + 1, 1 + 2 + 3 * 3 + 1, 1 + 2 + 4 * 3 + 1]
    out = tok.decode_matrices(ids, with_task=True)
    assert out.tasks == ["T", "E", "I"] and out.valid.all()
    np.testing.assert_array_equal(out.matrices[1], np.ones((3, 1)))
    with pytest.raises(ValueError, match="unknown task"):
        tok.encode_matrices(mats, "output", tasks=["T", "Q", "I"])
    with pytest.raises(ValueError, match="finite"):
        tok.prepare_batch(np.full((1, 2, 2), np.inf))


def test_lawt_framing_and_vocabulary_sizes():
    # The reference vocabulary sizes (docs/encodings.md#the-reference-vocabulary).
    sizes = {("float,2,10",) * 2: 338, ("float,2,1000",) * 2: 1328, ("floatsymbol,2",) * 2: 2329}
    sizes |= {("FP15,2,16",) * 2: 29128, ("FP15,2,16", "float,2,1000"): 30329, ("FP15,2,16", "floatsymbol,2"): 31330}
    for (i, o), n in sizes.items():
        assert len(lawt_vocabulary(i, o)) == n
    words = lawt_vocabulary("FP15,2,16", "float,2,1000")
    assert words[:3] == ["<s>", "</s>", "<pad>"] and words[22:27] == ["+", "-", "10^", ".", "|"]
    tok = MatrixTokenizer(vocab=words, input_encoding="FP15", output_encoding="P1000", framing="lawt")
    assert (tok.eos_token_id, tok.pad_token_id) == (0, 1)
    batch = tok.prepare_batch(np.eye(2)[None], np.eye(2)[None], return_tensors="np")
    assert batch["input_ids"][0, 0] == 0 and batch["input_ids"][0, -1] == 0
    assert tok.decode(batch["input_ids"][0]).split()[:3] == ["<s>", "V2", "V2"]
    generated = np.concatenate([[[0]], batch["labels"]], 1)
    np.testing.assert_array_equal(tok.decode_matrices(generated).matrices[0], np.eye(2))


def test_bad_vocabulary_and_options():
    with pytest.raises(ValueError, match="framing"):
        MatrixTokenizer(framing="bos")
    with pytest.raises(ValueError, match="lacks"):
        MatrixTokenizer(vocab=["<s>", "</s>", "<pad>", "<unk>", "V1"], input_encoding="P10")
    with pytest.raises(ValueError, match="unknown encoding"):
        MatrixTokenizer(input_encoding="P7")


def test_tokenizer_files_do_not_drift(tmp_path):
    from make_tokenizer_files import write_tokenizer_files

    write_tokenizer_files(tmp_path)
    assert sorted(p.name for p in FILES.iterdir() if p.is_dir()) == sorted(STANDARD_TOKENIZERS)
    for folder in STANDARD_TOKENIZERS:
        cmp = filecmp.dircmp(tmp_path / folder, FILES / folder)
        assert not cmp.diff_files and not cmp.left_only and not cmp.right_only, folder


def test_generic_loader_in_a_process_without_the_package():
    """A process that never imports linalg_transformers loads the folders as generic fast tokenizers."""
    texts = {}
    for folder in STANDARD_TOKENIZERS:
        t = AutoTokenizer.from_pretrained(FILES / folder)
        m = symmetric(1, 3)[0]
        texts[folder] = (t.matrix_to_text(m), t(t.matrix_to_text(m))["input_ids"])
    code = (
        "import json, sys\n"
        "from transformers import AutoTokenizer\n"
        "texts = json.loads(sys.stdin.read())\n"
        "out = {}\n"
        "for folder, (text, _) in texts.items():\n"
        f"    t = AutoTokenizer.from_pretrained({str(FILES)!r} + '/' + folder)\n"
        "    out[folder] = [type(t).__name__, t(text)['input_ids'], t.decode(t(text)['input_ids'])]\n"
        "assert 'linalg_transformers' not in sys.modules\n"
        "print(json.dumps(out))\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH="")
    res = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(texts), capture_output=True, text=True, env=env
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    for folder, (text, ids) in texts.items():
        cls, generic_ids, decoded = out[folder]
        assert cls == "TokenizersBackend"
        assert generic_ids == ids
        assert decoded == text + " </s>"
    assert isinstance(PreTrainedTokenizerFast.from_pretrained(FILES / "p10"), PreTrainedTokenizerFast)
