"""Tests of MatrixSeq2SeqConfig and the MatrixSeq2Seq models: tiny configs, CPU, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import conftest
import pytest
import torch
from safetensors import safe_open
from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

from linalg_transformers._registration import register_model_classes
from linalg_transformers.configuration_matrix_seq2seq import MatrixSeq2SeqConfig
from linalg_transformers.modeling_matrix_seq2seq import (
    CACHE_NAME,
    MatrixSeq2SeqForConditionalGeneration,
    MatrixSeq2SeqModel,
    shift_tokens_right,
    sinusoidal_positions,
)

register_model_classes()

VOCAB = 50
PAD, EOS, START = 2, 1, 0

VARIANTS = {
    "default": {},
    "sinusoidal": {"position_embedding_type": "sinusoidal"},
    "pre_ln": {"normalize_before": True},
    "looped": {"encoder_loops": 2, "decoder_loops": 3},
    "lawt_query": {"cross_attention_query": "input", "lm_head_bias": True, "layer_norm_eps": 1e-12},
    "small_decoder_vocab_shared": {"decoder_vocab_size": 20, "tie_encoder_decoder_embeddings": True},
    "small_decoder_vocab_untied": {"decoder_vocab_size": 20, "tie_word_embeddings": False, "lm_head_bias": False},
    "different_widths": {"decoder_d_model": 48, "decoder_layers": 2},
    "pre_ln_input_query_looped": {"normalize_before": True, "cross_attention_query": "input", "decoder_loops": 2},
}


MODELING_SIZES = {"vocab_size": VOCAB, "encoder_layers": 2, "encoder_ffn_dim": None, "decoder_ffn_dim": None}
"""Over conftest's `TINY_SIZES`: a bare vocabulary of `VOCAB` words (no tokenizer), two encoder layers, and the
config's own FFN widths (4 x d_model)."""


def tiny_config(**overrides) -> MatrixSeq2SeqConfig:
    return conftest.tiny_config(**{**MODELING_SIZES, **overrides})


def tiny_model(seed: int = 0, **overrides) -> MatrixSeq2SeqForConditionalGeneration:
    return conftest.tiny_model(seed=seed, **{**MODELING_SIZES, **overrides})


def batch(config: MatrixSeq2SeqConfig, batch_size: int = 3, src_len: int = 9, tgt_len: int = 6, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(3, config.vocab_size, (batch_size, src_len), generator=g)
    labels = torch.randint(3, config.decoder_vocab_size, (batch_size, tgt_len), generator=g)
    return input_ids, labels


def padded_batch(config: MatrixSeq2SeqConfig):
    """A batch whose second row is shorter: padded input, and labels padded with -100."""
    input_ids, labels = batch(config)
    attention_mask = torch.ones_like(input_ids)
    input_ids[1, 6:] = PAD
    attention_mask[1, 6:] = 0
    labels[1, 4:] = -100
    return input_ids, attention_mask, labels


# ------------------------------------------------------------------------------------------------------ config
def test_config_defaults_and_derived_fields():
    config = MatrixSeq2SeqConfig(vocab_size=100, d_model=64)
    assert config.decoder_vocab_size == 100
    assert config.decoder_d_model == 64
    assert config.encoder_ffn_dim == config.decoder_ffn_dim == 256
    assert config.use_cache is True
    assert config.is_encoder_decoder
    special = (config.bos_token_id, config.eos_token_id, config.pad_token_id, config.decoder_start_token_id)
    assert special == (0, 1, 2, 0)
    assert config.hidden_size == 64


def test_config_round_trip(tmp_path):
    problem = {"name": "eigenvalues", "dim": 5, "coeff_range": 10, "input_encoding": "FP15", "output_encoding": "P10"}
    config = tiny_config(decoder_vocab_size=20, decoder_loops=2, training_problem=problem)
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, MatrixSeq2SeqConfig)
    expected = {k: v for k, v in config.to_dict().items() if k != "_name_or_path"}
    assert {k: v for k, v in loaded.to_dict().items() if k != "_name_or_path"} == expected
    assert loaded.training_problem == problem


def test_lawt_preset():
    config = MatrixSeq2SeqConfig.for_lawt(1234, decoder_d_model=256, d_model=256)
    assert config.decoder_vocab_size == config.vocab_size == 1234
    special = (config.eos_token_id, config.bos_token_id, config.decoder_start_token_id, config.pad_token_id)
    assert special == (0, 0, 0, 1)
    assert config.layer_norm_eps == 1e-12 and not config.normalize_before and config.layernorm_embedding
    assert config.max_position_embeddings == 4096 and config.position_embedding_type == "learned"
    assert config.cross_attention_query == "input" and config.lm_head_bias and config.tie_word_embeddings
    assert not config.tie_encoder_decoder_embeddings and not config.scale_embedding
    assert config.activation_function == "relu" and config.encoder_ffn_dim == 4 * 256
    assert MatrixSeq2SeqConfig.for_lawt(100, encoder_layers=2).encoder_layers == 2


@pytest.mark.parametrize(
    ("overrides", "argument"),
    [
        ({"vocab_size": 0}, "vocab_size"),
        ({"decoder_vocab_size": VOCAB + 1}, "decoder_vocab_size"),
        ({"d_model": 30}, "encoder_attention_heads"),
        ({"decoder_d_model": 30}, "decoder_attention_heads"),
        ({"encoder_layers": 0}, "encoder_layers"),
        ({"decoder_loops": 0}, "decoder_loops"),
        ({"activation_function": "swish2"}, "activation_function"),
        ({"dropout": 1.0}, "dropout"),
        ({"position_embedding_type": "rotary"}, "position_embedding_type"),
        ({"cross_attention_query": "output"}, "cross_attention_query"),
        ({"tie_encoder_decoder_embeddings": True, "decoder_d_model": 64}, "tie_encoder_decoder_embeddings"),
        ({"decoder_vocab_size": 2}, "pad_token_id"),
        ({"eos_token_id": -1}, "eos_token_id"),
        ({"layer_norm_eps": 0.0}, "layer_norm_eps"),
        ({"training_problem": {"dim": 5}}, "training_problem"),
        ({"training_problem": {"name": "eigenvalues", "bad": object()}}, "training_problem"),
        ({"is_encoder_decoder": False}, "is_encoder_decoder"),
    ],
)
def test_config_rejects_bad_arguments(overrides, argument):
    with pytest.raises(ValueError, match=argument):
        tiny_config(**overrides)


# ------------------------------------------------------------------------------------------------ forward and loss
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_forward_shapes_loss_and_gradients(variant):
    model = tiny_model(**VARIANTS[variant]).train()
    config = model.config
    input_ids, labels = batch(config)
    out = model(input_ids=input_ids, labels=labels)
    assert out.logits.shape == (3, 6, config.decoder_vocab_size)
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert out.encoder_last_hidden_state.shape == (3, 9, config.d_model)
    out.loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(param.grad).all(), name


def test_base_model_outputs_hidden_states():
    config = tiny_config(encoder_loops=2)
    torch.manual_seed(0)
    model = MatrixSeq2SeqModel(config).eval()
    input_ids, labels = batch(config)
    decoder_input_ids = shift_tokens_right(labels, PAD, START)
    out = model(input_ids=input_ids, decoder_input_ids=decoder_input_ids, output_hidden_states=True, use_cache=False)
    assert out.last_hidden_state.shape == (3, 6, 32)
    assert len(out.encoder_hidden_states) == 1 + 2 * 2  # embeddings + 2 layers x 2 loops
    assert len(out.decoder_hidden_states) == 1 + 1
    assert torch.equal(out.encoder_hidden_states[-1], out.encoder_last_hidden_state)
    with pytest.raises(ValueError, match="decoder_input_ids"):
        model(input_ids=input_ids)
    with pytest.raises(ValueError, match="output_attentions"):
        model(input_ids=input_ids, decoder_input_ids=decoder_input_ids, output_attentions=True)


def test_shift_tokens_right():
    labels = torch.tensor([[5, 6, 7, 1], [8, 1, -100, -100]])
    assert shift_tokens_right(labels, PAD, START).tolist() == [[0, 5, 6, 7], [0, 8, 1, PAD]]


def test_loss_is_token_mean_and_num_items_in_batch_gives_sum_over_count():
    model = tiny_model()
    input_ids, attention_mask, labels = padded_batch(model.config)
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    log_probs = out.logits.float().log_softmax(-1)
    keep = labels != -100
    token_nll = -log_probs[keep].gather(-1, labels[keep][:, None]).squeeze(-1)
    torch.testing.assert_close(out.loss, token_nll.mean())

    # Trainer passes the number of target tokens of the whole (accumulated / distributed) batch: the loss of each
    # micro-batch is its sum divided by that count, so the micro-batch losses add up to the full batch's mean.
    total = int(keep.sum())
    parts = [
        model(input_ids=input_ids[i : i + 1], attention_mask=attention_mask[i : i + 1], labels=labels[i : i + 1],
              num_items_in_batch=torch.tensor(total)).loss
        for i in range(3)
    ]  # fmt: skip
    torch.testing.assert_close(sum(parts), token_nll.mean())
    torch.testing.assert_close(parts[1], token_nll[keep[0].sum() : keep[0].sum() + keep[1].sum()].sum() / total)


def test_labels_outside_decoder_vocabulary_raise():
    model = tiny_model(decoder_vocab_size=20)
    input_ids, _ = batch(model.config)
    with pytest.raises(ValueError, match=r"labels.*\[0, 20\)"):
        model(input_ids=input_ids, labels=torch.full((3, 4), 25))
    with pytest.raises(ValueError, match="input_ids"):
        model(input_ids=torch.full((1, 4), VOCAB), labels=torch.full((1, 4), 5))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(input_ids=torch.full((1, 65), 5), labels=torch.full((1, 4), 5))


def test_a_few_optimizer_steps_reduce_the_loss():
    model = tiny_model().train()
    input_ids, labels = batch(model.config, batch_size=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = model(input_ids=input_ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_padding_is_ignored():
    model = tiny_model()
    input_ids, attention_mask, labels = padded_batch(model.config)
    full = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).logits
    alone = model(input_ids=input_ids[1:2, :6], labels=labels[1:2]).logits
    torch.testing.assert_close(full[1], alone[0], atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------------------------- attention kernels
@pytest.mark.parametrize("variant", ["default", "looped", "pre_ln_input_query_looped", "different_widths"])
def test_sdpa_and_eager_give_the_same_outputs(variant):
    sdpa = tiny_model(**VARIANTS[variant])
    eager = tiny_model(**VARIANTS[variant])
    eager.set_attn_implementation("eager")
    assert sdpa.config._attn_implementation == "sdpa" and eager.config._attn_implementation == "eager"
    input_ids, attention_mask, labels = padded_batch(sdpa.config)
    decoder_attention_mask = (labels != -100).long()
    kwargs = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
    torch.testing.assert_close(sdpa(**kwargs).logits, eager(**kwargs).logits, atol=1e-5, rtol=1e-5)
    kwargs["decoder_attention_mask"] = decoder_attention_mask
    torch.testing.assert_close(sdpa(**kwargs).logits, eager(**kwargs).logits, atol=1e-5, rtol=1e-5)
    gen = {"input_ids": input_ids, "attention_mask": attention_mask, "max_new_tokens": 7}
    assert torch.equal(sdpa.generate(**gen), eager.generate(**gen))


def test_resize_position_embeddings(tmp_path):
    model = tiny_model()
    old_encoder = model.model.encoder.embed_positions.weight.detach().clone()
    input_ids = torch.randint(3, VOCAB, (2, 80))  # longer than the 64 positions
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(input_ids=input_ids, labels=torch.full((2, 3), 5))
    model.resize_position_embeddings(100)
    assert model.config.max_position_embeddings == 100
    encoder_table, decoder_table = model.get_position_embeddings()
    assert encoder_table.weight.shape == (100, 32) and decoder_table.weight.shape == (100, 32)
    torch.testing.assert_close(encoder_table.weight[:64], old_encoder, atol=0, rtol=0)
    assert torch.isfinite(model(input_ids=input_ids, labels=torch.full((2, 3), 5)).loss)
    model.save_pretrained(tmp_path)
    assert AutoModel.from_pretrained(tmp_path).get_position_embeddings()[1].weight.shape == (100, 32)
    with pytest.raises(ValueError, match="new_num_position_embeddings"):
        model.resize_position_embeddings(0)


# ---------------------------------------------------------------------------------------------- cache and generate
@pytest.mark.parametrize("variant", ["default", "looped", "pre_ln_input_query_looped", "small_decoder_vocab_shared"])
@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
@pytest.mark.parametrize("cache_argument", ["past_key_values", "cache"])  # the 5.23 and the 5.24 name, both accepted
def test_incremental_decoding_matches_full_forward(variant, attn_implementation, cache_argument):
    model = tiny_model(**VARIANTS[variant])
    model.set_attn_implementation(attn_implementation)
    input_ids, attention_mask, labels = padded_batch(model.config)
    decoder_input_ids = shift_tokens_right(labels, PAD, START)
    full = model(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids).logits

    encoder_outputs = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
    past, steps = None, []
    for t in range(decoder_input_ids.shape[1]):
        out = model(
            encoder_outputs=encoder_outputs,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids[:, t : t + 1],
            use_cache=True,
            **{cache_argument: past},
        )
        past = getattr(out, CACHE_NAME)
        steps.append(out.logits)
    assert past.get_seq_length() == decoder_input_ids.shape[1]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)

    # Two new positions at once after a cached prefix (masks must not assume an empty cache).
    context = {"encoder_outputs": encoder_outputs, "attention_mask": attention_mask, "use_cache": True}
    past = getattr(model(decoder_input_ids=decoder_input_ids[:, :3], **context), CACHE_NAME)
    chunk = model(decoder_input_ids=decoder_input_ids[:, 3:5], **{cache_argument: past}, **context).logits
    torch.testing.assert_close(chunk, full[:, 3:5], atol=1e-5, rtol=1e-5)


def test_cache_argument_names():
    model = tiny_model()
    input_ids, attention_mask, labels = padded_batch(model.config)
    decoder_input_ids = shift_tokens_right(labels, PAD, START)
    out = model(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids)
    # The cache is returned under the installed transformers' field name (`cache` from 5.24, `past_key_values` before).
    assert CACHE_NAME in out and out[CACHE_NAME].get_seq_length() == decoder_input_ids.shape[1]
    assert CACHE_NAME in model.config.keys_to_ignore_at_inference
    assert getattr(model(input_ids=input_ids, labels=labels), CACHE_NAME) is None
    both = {"cache": out[CACHE_NAME], "past_key_values": EncoderDecoderCache(DynamicCache(), DynamicCache())}
    with pytest.raises(ValueError, match="not both"):
        model(input_ids=input_ids, decoder_input_ids=decoder_input_ids[:, :1], **both)


def _generate(model, input_ids, attention_mask, **kwargs):
    return model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        max_new_tokens=8,
        output_scores=True,
        return_dict_in_generate=True,
        **kwargs,
    )


@pytest.mark.parametrize("variant", ["default", "looped", "small_decoder_vocab_shared"])
def test_generate_with_and_without_cache_agree(variant):
    # A slightly trained model, so that greedy and beam outputs are not a constant token.
    model = tiny_model(**VARIANTS[variant]).train()
    input_ids, attention_mask, labels = padded_batch(model.config)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(10):
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()

    cached = _generate(model, input_ids, attention_mask, use_cache=True)
    uncached = _generate(model, input_ids, attention_mask, use_cache=False)
    assert len(set(cached.sequences[:, 1:].flatten().tolist())) > 1
    assert torch.equal(cached.sequences, uncached.sequences)
    for a, b in zip(cached.scores, uncached.scores):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)

    beam_cached = _generate(model, input_ids, attention_mask, use_cache=True, num_beams=3, num_return_sequences=2)
    beam_uncached = _generate(model, input_ids, attention_mask, use_cache=False, num_beams=3, num_return_sequences=2)
    assert beam_cached.sequences.shape[0] == 6
    assert torch.equal(beam_cached.sequences, beam_uncached.sequences)
    torch.testing.assert_close(beam_cached.sequences_scores, beam_uncached.sequences_scores, atol=1e-5, rtol=1e-5)


def test_generation_defaults():
    model = tiny_model(decoder_vocab_size=20)
    gc = model.generation_config
    assert (gc.decoder_start_token_id, gc.eos_token_id, gc.pad_token_id) == (START, EOS, PAD)
    assert gc.num_beams == 1 and gc.do_sample is False
    input_ids, _ = batch(model.config)
    out = model.generate(input_ids, max_new_tokens=5)
    assert (out[:, 0] == START).all() and out.shape[1] <= 6 and int(out.max()) < 20


# -------------------------------------------------------------------------------------------------------- tying
def test_tied_weights_share_one_tensor():
    model = tiny_model(decoder_vocab_size=20, tie_encoder_decoder_embeddings=True)
    decoder_table = model.model.decoder.embed_tokens.weight
    assert decoder_table.shape == (20, 32)
    assert model.lm_head.weight is decoder_table
    assert model.model.encoder.embed_tokens.weight is decoder_table
    assert model.model.encoder.embed_tokens.extra_weight.shape == (VOCAB - 20, 32)
    ids = torch.tensor([[3, 19, 20, 49]])
    table = torch.cat([decoder_table, model.model.encoder.embed_tokens.extra_weight])
    torch.testing.assert_close(model.model.encoder.embed_tokens(ids), table[ids])

    untied = tiny_model(tie_word_embeddings=False)
    assert untied.lm_head.weight is not untied.model.decoder.embed_tokens.weight
    assert untied.model.encoder.embed_tokens.weight is not untied.model.decoder.embed_tokens.weight


@pytest.mark.parametrize("variant", ["default", "small_decoder_vocab_shared", "small_decoder_vocab_untied"])
def test_save_and_load_round_trip(tmp_path, variant):
    model = tiny_model(**VARIANTS[variant])
    model.generation_config.max_new_tokens = 7
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    with safe_open(tmp_path / "model.safetensors", "pt") as f:
        keys = set(f.keys())
    tables = {k for k in keys if "embed_tokens" in k or k.startswith("lm_head.weight")}
    expected = {
        "default": {"model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"},
        "small_decoder_vocab_shared": {"model.decoder.embed_tokens.weight", "model.encoder.embed_tokens.extra_weight"},
        "small_decoder_vocab_untied": {
            "model.encoder.embed_tokens.weight",
            "model.decoder.embed_tokens.weight",
            "lm_head.weight",
        },
    }[variant]
    assert tables == expected  # tied tensors are stored once
    assert keys == set(model.state_dict()) - set(model.all_tied_weights_keys)

    input_ids, attention_mask, labels = padded_batch(model.config)
    reference = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    for auto_class in (AutoModel, AutoModelForSeq2SeqLM):
        loaded = auto_class.from_pretrained(tmp_path).eval()
        assert type(loaded) is MatrixSeq2SeqForConditionalGeneration
        assert loaded.generation_config.max_new_tokens == 7
        out = loaded(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
        torch.testing.assert_close(out.logits, reference.logits, atol=0, rtol=0)
        torch.testing.assert_close(out.loss, reference.loss, atol=0, rtol=0)
        assert torch.equal(loaded.generate(input_ids, attention_mask=attention_mask),
                           model.generate(input_ids, attention_mask=attention_mask))  # fmt: skip
        if model.config.tie_word_embeddings:
            assert loaded.lm_head.weight is loaded.model.decoder.embed_tokens.weight


def test_remote_code_loads_in_a_fresh_process_without_the_package(tmp_path):
    model = tiny_model(decoder_vocab_size=20, tie_encoder_decoder_embeddings=True, decoder_loops=2)
    model.generation_config.max_new_tokens = 6
    saved = tmp_path / "saved"
    model.save_pretrained(saved)
    assert (saved / "modeling_matrix_seq2seq.py").exists() and (saved / "configuration_matrix_seq2seq.py").exists()
    auto_map = json.loads((saved / "config.json").read_text())["auto_map"]
    assert auto_map == {
        "AutoConfig": "configuration_matrix_seq2seq.MatrixSeq2SeqConfig",
        "AutoModel": "modeling_matrix_seq2seq.MatrixSeq2SeqForConditionalGeneration",
        "AutoModelForSeq2SeqLM": "modeling_matrix_seq2seq.MatrixSeq2SeqForConditionalGeneration",
    }

    input_ids, attention_mask, labels = padded_batch(model.config)
    torch.save({"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}, tmp_path / "inputs.pt")
    script = textwrap.dedent(
        f"""
        import sys
        import torch
        from transformers import AutoModel, AutoModelForSeq2SeqLM

        inputs = torch.load({str(tmp_path / "inputs.pt")!r}, weights_only=True)
        model = AutoModel.from_pretrained({str(saved)!r}, trust_remote_code=True).eval()
        assert type(model).__name__ == "MatrixSeq2SeqForConditionalGeneration", type(model)
        assert type(AutoModelForSeq2SeqLM.from_pretrained({str(saved)!r}, trust_remote_code=True)) is type(model)
        assert not any(name.startswith("linalg_transformers") for name in sys.modules), "package was imported"
        out = model(**inputs)
        generated = model.generate(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        torch.save({{"logits": out.logits, "loss": out.loss, "generated": generated}}, {str(tmp_path / "out.pt")!r})
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"), TRANSFORMERS_VERBOSITY="error")
    work_dir = tmp_path / "elsewhere"
    work_dir.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=work_dir, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    remote = torch.load(tmp_path / "out.pt", weights_only=True)
    reference = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    torch.testing.assert_close(remote["logits"], reference.logits, atol=0, rtol=0)
    torch.testing.assert_close(remote["loss"], reference.loss, atol=0, rtol=0)
    assert torch.equal(remote["generated"], model.generate(input_ids=input_ids, attention_mask=attention_mask))


def test_remote_code_files_use_only_relative_package_imports():
    src = Path(__file__).resolve().parents[1] / "src" / "linalg_transformers"
    for name in ("configuration_matrix_seq2seq.py", "modeling_matrix_seq2seq.py"):
        text = (src / name).read_text()
        assert "linalg_transformers" not in text.replace("from linalg_transformers import", ""), name
        assert "import linalg_transformers" not in text and "from linalg_transformers." not in text, name


# ------------------------------------------------------------------------------------------------------ precision
def test_bf16_autocast_training_and_inference():
    model = tiny_model(decoder_vocab_size=20, tie_encoder_decoder_embeddings=True).train()
    input_ids, attention_mask, labels = padded_batch(model.config)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    assert out.logits.dtype == torch.bfloat16
    assert out.loss.dtype == torch.float32 and torch.isfinite(out.loss)
    out.loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    fp32_loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
    assert abs(out.loss.item() - fp32_loss.item()) < 0.05

    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        generated = model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=5)
    assert generated.shape[0] == 3
    model_bf16 = tiny_model(decoder_vocab_size=20).to(torch.bfloat16)
    logits = model_bf16(input_ids=input_ids, attention_mask=attention_mask, labels=labels).logits
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits).all()


def test_sinusoidal_positions_follow_the_reference_layout():
    table = sinusoidal_positions(0, 5, 8)
    pos, j = 3, torch.arange(8)
    angle = pos / torch.pow(10000.0, (2 * (j // 2)).double() / 8)
    expected = torch.where(j % 2 == 0, torch.sin(angle), torch.cos(angle)).float()
    torch.testing.assert_close(table[pos], expected)
    torch.testing.assert_close(sinusoidal_positions(2, 3, 8), table[2:])
