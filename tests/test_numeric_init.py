import os

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from conftest import tiny_model  # noqa: E402

from linalg_transformers import MatrixSeq2SeqForConditionalGeneration, MatrixTokenizer  # noqa: E402
from linalg_transformers.numeric_init import NUM_FEATURES, apply_numeric_init, numeric_token_features  # noqa: E402


@pytest.mark.parametrize("token", ["<s>", "</s>", "<pad>", "V5", "T", "("])
def test_non_number_tokens_have_no_features(token):
    assert numeric_token_features(token) is None


@pytest.mark.parametrize("token", ["+", "-", "314", "E-2", "N-314", "N314e7", "N0e0"])
def test_number_tokens_have_features_of_the_fixed_width(token):
    features = numeric_token_features(token)
    assert features.shape == (NUM_FEATURES,) and np.isfinite(features).all()


def test_kind_flags_and_signs():
    assert numeric_token_features("+")[0] == 1 and numeric_token_features("-")[0] == -1
    assert numeric_token_features("314")[1] == 1  # a mantissa
    assert numeric_token_features("E-2")[2] == 1  # an exponent
    assert numeric_token_features("N-314e7")[:4].tolist() == [-1, 0, 0, 1]  # FP15: sign, value kind


@pytest.fixture(scope="module")
def model_and_tokenizer():
    """A tiny FP15 -> P1000 model at d_model 64, where the cosines below were measured; the tests change it."""
    tok = MatrixTokenizer(input_encoding="FP15", output_encoding="P1000")
    sizes = {"encoder_ffn_dim": None, "decoder_ffn_dim": None, "max_position_embeddings": 1024}  # the defaults
    return tiny_model(tok, d_model=64, **sizes).train(), tok


def test_neighbouring_numbers_start_with_neighbouring_embeddings(model_and_tokenizer):
    model, tok = model_and_tokenizer
    vocab = tok.get_vocab()
    random_norm = model.get_input_embeddings().weight.norm(dim=1).mean().item()
    count = apply_numeric_init(model, tok, seed=0)
    assert count == sum(numeric_token_features(t) is not None for t in vocab)

    def cosine(table: torch.Tensor, a: str, b: str) -> float:
        return torch.nn.functional.cosine_similarity(table[vocab[a]], table[vocab[b]], dim=0).item()

    enc, out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    # Measured at d=64, seed 0: 0.86 for 314/315 against 0.12 for 314/714 (output mantissas, the tied decoder table);
    # 0.93 for FP15 3.14/3.15 against -0.22 for 3.14/-7.14 (random rows: about 0).
    assert cosine(out, "314", "315") > 0.7 > 0.4 > cosine(out, "314", "714")
    assert cosine(enc, "N314e7", "N315e7") > 0.7 > 0.4 > cosine(enc, "N314e7", "N-714e7")
    # FP15 inputs also carry their signed value (VALUE_WEIGHT): measured -0.10 for 3.14/-3.14, 0.71 for 3.14/0.314 and
    # 0.83 for 0.999/1.00 (mantissas 999 and 100); the first scheme gave 0.88 and 0.98 for the sign and scale pairs.
    assert cosine(enc, "N314e7", "N-314e7") < 0.2
    assert cosine(enc, "N314e7", "N314e6") < 0.8
    assert cosine(enc, "N999e6", "N100e7") > 0.7
    # Rows keep the scale of the table's random initialization, and special tokens are left alone.
    assert enc[vocab["N314e7"]].norm().item() == pytest.approx(random_norm, rel=1e-4)
    assert not torch.equal(enc[vocab["<s>"]], enc[vocab["N314e7"]])


def test_the_projection_is_seeded(model_and_tokenizer):
    model, tok = model_and_tokenizer
    i = tok.get_vocab()["N314e7"]

    def row(seed: int) -> torch.Tensor:
        torch.manual_seed(0)
        fresh = MatrixSeq2SeqForConditionalGeneration(model.config)
        apply_numeric_init(fresh, tok, seed=seed)
        return fresh.get_input_embeddings().weight[i].detach()

    assert torch.equal(row(1), row(1))
    assert not torch.equal(row(1), row(2))
