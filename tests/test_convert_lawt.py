"""Conversion of reference (LAWT) checkpoints: random weights in the reference format, checked against an independent
re-implementation of the reference forward pass (docs/model.md#the-reference-architecture)."""

from __future__ import annotations

import importlib.util
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

import linalg_transformers  # noqa: F401  (registers the Auto classes)
from linalg_transformers.convert_lawt import (
    convert_lawt_checkpoint,
    convert_lawt_state_dicts,
    lawt_config_from_params,
    load_lawt_checkpoint,
)
from linalg_transformers.modeling_matrix_seq2seq import MatrixSeq2SeqForConditionalGeneration
from linalg_transformers.tokenization_matrix import lawt_vocabulary

N_POSITIONS = 64  # the reference has 4096; the table size is read from the checkpoint


def reference_params(**overrides) -> dict:
    vocab = lawt_vocabulary("float,2,10", "float,2,10")
    params = {
        "operation": "eigenvalues",
        "input_encoding": "float,2,10",
        "output_encoding": "float,2,10",
        "enc_emb_dim": 32,
        "dec_emb_dim": 32,
        "n_enc_layers": 2,
        "n_dec_layers": 1,
        "n_enc_heads": 4,
        "n_dec_heads": 4,
        "share_inout_emb": True,
        "sinusoidal_embeddings": False,
        "n_words": len(vocab),
        "eos_index": 0,
        "pad_index": 1,
        "max_dimension": 5,
        "max_input_coeff": 10,
        "eigen_distribution": "semicircle",
        "max_output_len": 20,
        "dropout": 0.0,
        "fp16": True,
    }
    params.update(overrides)
    return params


def xlm_sinusoidal_table(n_pos: int, dim: int) -> torch.Tensor:
    """The reference's frozen table: sine on even channels, cosine on odd ones."""
    enc = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for pos in range(n_pos)])
    out = np.zeros((n_pos, dim))
    out[:, 0::2] = np.sin(enc[:, 0::2])
    out[:, 1::2] = np.cos(enc[:, 1::2])
    return torch.tensor(out, dtype=torch.float32)


def random_stack(params: dict, is_decoder: bool, seed: int) -> dict[str, torch.Tensor]:
    """A reference state dict (encoder or decoder) with random weights."""
    g = torch.Generator().manual_seed(seed)
    dim = params["dec_emb_dim" if is_decoder else "enc_emb_dim"]
    enc_dim = params["enc_emb_dim"]
    layers = params["n_dec_layers" if is_decoder else "n_enc_layers"]

    def rnd(*shape: int, scale: float = 0.2) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * scale

    sd = {
        "position_embeddings.weight": xlm_sinusoidal_table(N_POSITIONS, dim)
        if params["sinusoidal_embeddings"]
        else rnd(N_POSITIONS, dim),
        "embeddings.weight": rnd(params["n_words"], dim, scale=dim**-0.5),
        "layer_norm_emb.weight": 1 + rnd(dim, scale=0.1),
        "layer_norm_emb.bias": rnd(dim, scale=0.1),
    }
    for i in range(layers):
        attentions = ["self_attention"] + (["cross_attention"] if is_decoder else [])
        for attn in attentions:
            for lin in ("q_lin", "k_lin", "v_lin", "out_lin"):
                in_dim = enc_dim if attn == "cross_attention" and lin in ("k_lin", "v_lin") else dim
                sd[f"layers.{i}.{attn}.{lin}.weight"] = rnd(dim, in_dim)
                sd[f"layers.{i}.{attn}.{lin}.bias"] = rnd(dim, scale=0.1)
        norms = ["layer_norm1", "layer_norm2"] + (["layer_norm15"] if is_decoder else [])
        for norm in norms:
            sd[f"layers.{i}.{norm}.weight"] = 1 + rnd(dim, scale=0.1)
            sd[f"layers.{i}.{norm}.bias"] = rnd(dim, scale=0.1)
        sd[f"layers.{i}.ffn.lin1.weight"] = rnd(4 * dim, dim)
        sd[f"layers.{i}.ffn.lin1.bias"] = rnd(4 * dim, scale=0.1)
        sd[f"layers.{i}.ffn.lin2.weight"] = rnd(dim, 4 * dim)
        sd[f"layers.{i}.ffn.lin2.bias"] = rnd(dim, scale=0.1)
    if is_decoder:
        # With share_inout_emb, the reference's state dict holds the shared tensor under both names.
        sd["proj.weight"] = sd["embeddings.weight"] if params["share_inout_emb"] else rnd(params["n_words"], dim)
        sd["proj.bias"] = rnd(params["n_words"], scale=0.1)
    return sd


def write_checkpoint(path: Path, params: dict, ddp_prefix: bool = False) -> dict:
    encoder, decoder = random_stack(params, False, seed=1), random_stack(params, True, seed=2)
    if ddp_prefix:
        encoder = {f"module.{k}": v for k, v in encoder.items()}
        decoder = {f"module.{k}": v for k, v in decoder.items()}
    checkpoint = {
        "epoch": 12,
        "n_total_iter": 56_256,
        "best_metrics": {"valid_numeric_beam_acc": 0.93},
        "best_stopping_criterion": 0.93,
        "params": params,
        "encoder": encoder,
        "decoder": decoder,
    }
    torch.save(checkpoint, path)
    return checkpoint


# ------------------------------------------------------------------------- independent reference forward pass
def _layer_norm(x: torch.Tensor, sd: dict, name: str) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], sd[f"{name}.weight"], sd[f"{name}.bias"], eps=1e-12)


def _linear(x: torch.Tensor, sd: dict, name: str) -> torch.Tensor:
    return x @ sd[f"{name}.weight"].T + sd[f"{name}.bias"]


def _attention(sd, name, query_in, kv_in, n_heads, key_keep, causal):
    bs, qlen, dim = query_in.shape
    klen, dh = kv_in.shape[1], dim // n_heads

    def heads(x, length):
        return x.view(bs, length, n_heads, dh).transpose(1, 2)

    q = heads(_linear(query_in, sd, f"{name}.q_lin"), qlen) / math.sqrt(dh)
    k = heads(_linear(kv_in, sd, f"{name}.k_lin"), klen)
    v = heads(_linear(kv_in, sd, f"{name}.v_lin"), klen)
    scores = q @ k.transpose(2, 3)
    keep = key_keep[:, None, None, :].expand(bs, n_heads, qlen, klen)
    if causal:
        keep = keep & torch.ones(qlen, klen, dtype=torch.bool).tril()
    scores = scores.masked_fill(~keep, -float("inf"))
    weights = F.softmax(scores.float(), dim=-1).type_as(scores)
    context = (weights @ v).transpose(1, 2).reshape(bs, qlen, dim)
    return _linear(context, sd, f"{name}.out_lin")


def _embed(sd, ids):
    x = sd["embeddings.weight"][ids] + sd["position_embeddings.weight"][: ids.shape[1]]
    return _layer_norm(x, sd, "layer_norm_emb")


def reference_forward(checkpoint, src, src_keep, tgt):
    params, enc, dec = checkpoint["params"], checkpoint["encoder"], checkpoint["decoder"]
    x = _embed(enc, src) * src_keep[..., None]
    for i in range(params["n_enc_layers"]):
        p = f"layers.{i}"
        x = _layer_norm(x + _attention(enc, f"{p}.self_attention", x, x, params["n_enc_heads"], src_keep, False),
                        enc, f"{p}.layer_norm1")  # fmt: skip
        x = _layer_norm(x + _linear(F.relu(_linear(x, enc, f"{p}.ffn.lin1")), enc, f"{p}.ffn.lin2"),
                        enc, f"{p}.layer_norm2")  # fmt: skip
        x = x * src_keep[..., None]
    tgt_keep = torch.ones_like(tgt, dtype=torch.bool)
    y = _embed(dec, tgt)
    for i in range(params["n_dec_layers"]):
        p, heads = f"layers.{i}", params["n_dec_heads"]
        h1 = _layer_norm(
            y + _attention(dec, f"{p}.self_attention", y, y, heads, tgt_keep, True), dec, f"{p}.layer_norm1"
        )
        # The reference's quirk: cross-attention queries come from the layer input y, not from h1.
        h2 = _layer_norm(h1 + _attention(dec, f"{p}.cross_attention", y, x, heads, src_keep, False),
                         dec, f"{p}.layer_norm15")  # fmt: skip
        y = _layer_norm(h2 + _linear(F.relu(_linear(h2, dec, f"{p}.ffn.lin1")), dec, f"{p}.ffn.lin2"),
                        dec, f"{p}.layer_norm2")  # fmt: skip
    return _linear(y, dec, "proj")


def _inputs(n_words: int):
    g = torch.Generator().manual_seed(3)
    src = torch.randint(2, n_words, (3, 11), generator=g)
    src[:, 0] = 0
    src_keep = torch.ones_like(src, dtype=torch.bool)
    src_keep[1, 7:] = False
    src[1, 7:] = 1  # </s> pads
    src[torch.arange(3), src_keep.sum(1) - 1] = 0  # <s> also ends every sequence
    tgt = torch.randint(2, n_words, (3, 6), generator=g)
    tgt[:, 0] = 0
    return src, src_keep, tgt


# ------------------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"share_inout_emb": False},
        {"sinusoidal_embeddings": True},
        {"enc_emb_dim": 48, "n_enc_heads": 6, "n_dec_layers": 2},  # different widths, as the inversion runs
    ],
    ids=["tied", "untied", "sinusoidal", "widths-48-32"],
)
def test_converted_model_matches_the_reference_forward(tmp_path, overrides):
    params = reference_params(**overrides)
    checkpoint = write_checkpoint(tmp_path / "ckpt.pth", params, ddp_prefix=bool(overrides))
    model = convert_lawt_checkpoint(tmp_path / "ckpt.pth")
    assert model.config.d_model == params["enc_emb_dim"] and model.config.decoder_d_model == params["dec_emb_dim"]
    assert model.config.tie_word_embeddings == params["share_inout_emb"]
    assert model.generation_config.max_new_tokens == params["max_output_len"] + 1

    unprefixed = {
        "params": params,
        "encoder": {k.removeprefix("module."): v for k, v in checkpoint["encoder"].items()},
        "decoder": {k.removeprefix("module."): v for k, v in checkpoint["decoder"].items()},
    }
    src, src_keep, tgt = _inputs(params["n_words"])
    expected = reference_forward(unprefixed, src, src_keep, tgt)
    for attn_implementation in ("sdpa", "eager"):
        model.set_attn_implementation(attn_implementation)
        with torch.no_grad():
            logits = model(input_ids=src, attention_mask=src_keep.long(), decoder_input_ids=tgt).logits
        torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)

    # Cached decoding gives the same logits step by step.
    with torch.no_grad():
        out = model.generate(
            input_ids=src, attention_mask=src_keep.long(), max_new_tokens=5, min_new_tokens=5,
            output_logits=True, return_dict_in_generate=True,
        )  # fmt: skip
        full = model(input_ids=src, attention_mask=src_keep.long(), decoder_input_ids=out.sequences[:, :-1]).logits
    torch.testing.assert_close(torch.stack(out.logits, dim=1), full, atol=1e-4, rtol=1e-4)


def test_every_reference_tensor_is_loaded(tmp_path):
    params = reference_params(share_inout_emb=False)
    checkpoint = write_checkpoint(tmp_path / "ckpt.pth", params)
    model = convert_lawt_checkpoint(tmp_path / "ckpt.pth")
    enc, dec = checkpoint["encoder"], checkpoint["decoder"]
    ours = model.state_dict()
    d = params["dec_emb_dim"]

    # Every reference tensor appears in the converted model, whole or as a slice of a fused q/k/v weight.
    for stack, sd in (("encoder", enc), ("decoder", dec)):
        for key, tensor in sd.items():
            found = [
                name for name, value in ours.items() if value.shape == tensor.shape and torch.equal(value, tensor)
            ]
            if not found:
                fused = [
                    name for name, value in ours.items()
                    if value.shape[0] in (2 * d, 3 * d) and value.shape[1:] == tensor.shape[1:]
                    and any(torch.equal(part, tensor) for part in value.split(d, dim=0))
                ]  # fmt: skip
                assert fused, f"{stack}.{key} was not loaded"
    qkv = model.model.decoder.layers[0].self_attn.qkv_proj.weight
    torch.testing.assert_close(qkv[d : 2 * d], dec["layers.0.self_attention.k_lin.weight"], atol=0, rtol=0)
    kv = model.model.decoder.layers[0].encoder_attn.kv_proj.bias
    torch.testing.assert_close(kv[d:], dec["layers.0.cross_attention.v_lin.bias"], atol=0, rtol=0)
    torch.testing.assert_close(model.lm_head.weight, dec["proj.weight"], atol=0, rtol=0)


def test_converted_folder_loads_with_auto_classes(tmp_path):
    params = reference_params()
    write_checkpoint(tmp_path / "ckpt.pth", params)
    script = Path(__file__).resolve().parents[1] / "training" / "convert_lawt_checkpoint.py"
    spec = importlib.util.spec_from_file_location("convert_lawt_checkpoint", script)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out_dir = tmp_path / "converted"
    assert cli.main(["--checkpoint", str(tmp_path / "ckpt.pth"), "--output", str(out_dir)]) == 0

    model = AutoModel.from_pretrained(out_dir)
    assert isinstance(model, MatrixSeq2SeqForConditionalGeneration)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    vocab = tokenizer.get_vocab()
    assert [w for w, _ in sorted(vocab.items(), key=lambda kv: kv[1])] == lawt_vocabulary("float,2,10", "float,2,10")
    assert len(vocab) == params["n_words"] == model.config.vocab_size
    assert (tokenizer.eos_token_id, tokenizer.pad_token_id) == (0, 1)
    problem = model.config.training_problem
    assert problem["name"] == "eigenvalues" and problem["dim"] == 5 and problem["coeff_range"] == 10
    assert problem["input_encoding"] == problem["output_encoding"] == "P10"

    ids = tokenizer("V2 V2 + 1 0 0 E-2 - 2 5 0 E-3 + 3 0 0 E-1 + 0 E0", return_tensors="pt")
    assert ids["input_ids"][0, 0] == 0 and ids["input_ids"][0, -1] == 0
    generated = model.generate(**ids, max_new_tokens=4)
    assert generated[0, 0] == 0 and generated.shape[1] <= 5


def test_bad_checkpoints_raise(tmp_path):
    params = reference_params()
    checkpoint = write_checkpoint(tmp_path / "ckpt.pth", params)
    config = lawt_config_from_params(params, max_position_embeddings=N_POSITIONS)

    missing = dict(checkpoint["decoder"])
    del missing["layers.0.cross_attention.k_lin.bias"]
    with pytest.raises(ValueError, match="cross_attention.k_lin.bias"):
        convert_lawt_state_dicts(checkpoint["encoder"], missing, config)
    extra = dict(checkpoint["encoder"], **{"layers.7.ffn.lin1.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="not used"):
        convert_lawt_state_dicts(extra, checkpoint["decoder"], config)
    untied = dict(checkpoint["decoder"], **{"proj.weight": torch.zeros_like(checkpoint["decoder"]["proj.weight"])})
    with pytest.raises(ValueError, match="share_inout_emb"):
        convert_lawt_state_dicts(checkpoint["encoder"], untied, config)

    with pytest.raises(ValueError, match="eos_index"):
        lawt_config_from_params(reference_params(eos_index=2))
    with pytest.raises(ValueError, match="n_enc_layers"):
        lawt_config_from_params({k: v for k, v in params.items() if k != "n_enc_layers"})

    write_checkpoint(tmp_path / "wrong_words.pth", reference_params(n_words=params["n_words"] + 1))
    with pytest.raises(ValueError, match="n_words"):
        convert_lawt_checkpoint(tmp_path / "wrong_words.pth")

    torch.save({"params": params}, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="missing keys"):
        load_lawt_checkpoint(tmp_path / "partial.pth")


class _NotAllowed:
    """Arbitrary objects are never unpickled (`weights_only=True`)."""


def test_arbitrary_objects_are_not_unpickled(tmp_path):
    torch.save({"params": _NotAllowed(), "encoder": {}, "decoder": {}}, tmp_path / "evil.pth")
    with pytest.raises(pickle.UnpicklingError):
        load_lawt_checkpoint(tmp_path / "evil.pth")
