"""Convert checkpoints of the reference code (facebookresearch/LAWT) into `MatrixSeq2SeqForConditionalGeneration`.

A reference checkpoint is a `torch.save` dict with `params` (the training arguments), `encoder` and `decoder` (state
dicts) and training bookkeeping (`epoch`, `n_total_iter`, `best_metrics`, `best_stopping_criterion`). It is read with
`torch.load(..., weights_only=True)`: tensors and plain containers only, never arbitrary pickled objects.

The architecture is `MatrixSeq2SeqConfig.for_lawt` (docs/reference-code.md#checkpoint-conversion). Weight names map
one to one, except that the separate q/k/v projections of the reference are concatenated into our fused `qkv_proj`
(self-attention) and `kv_proj` (cross-attention) weights.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import torch

from .configuration_matrix_seq2seq import MatrixSeq2SeqConfig
from .encodings import encoding_from_lawt
from .modeling_matrix_seq2seq import MatrixSeq2SeqForConditionalGeneration, sinusoidal_positions

__all__ = [
    "convert_lawt_checkpoint",
    "convert_lawt_state_dicts",
    "lawt_config_from_params",
    "load_lawt_checkpoint",
]

_REQUIRED_PARAMS = (
    "input_encoding",
    "output_encoding",
    "enc_emb_dim",
    "dec_emb_dim",
    "n_enc_layers",
    "n_dec_layers",
    "n_enc_heads",
    "n_dec_heads",
    "n_words",
)
# Reference training arguments copied into `config.training_problem` when present (LAWT `src/envs/numeric.py`
# arguments; docs/problems.md#inputs).
_PROBLEM_PARAMS = {
    "min_dimension": "min_dim",
    "max_dimension": "dim",
    "max_input_coeff": "coeff_range",
    "min_input_coeff": "min_coeff_range",
    "generator": "generator",
    "eigen_distribution": "eigen_distribution",
    "rectangular": "rectangular",
    "noisy_input": "noisy_input",
    "sigma": "sigma",
    "cotraining_tasks": "cotraining_tasks",
}
# Per-layer weights: reference name -> our name (q/k/v are handled separately because they are fused).
_LAYER_RENAMES = {
    "self_attention.out_lin": "self_attn.out_proj",
    "layer_norm1": "self_attn_layer_norm",
    "cross_attention.q_lin": "encoder_attn.q_proj",
    "cross_attention.out_lin": "encoder_attn.out_proj",
    "layer_norm15": "encoder_attn_layer_norm",
    "ffn.lin1": "ffn.fc1",
    "ffn.lin2": "ffn.fc2",
    "layer_norm2": "final_layer_norm",
}


def load_lawt_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a reference checkpoint safely (`weights_only=True`) and check its top-level layout.

    Args:
        path (`str` or `os.PathLike`): The `.pth` file.

    Returns:
        `dict`: the checkpoint, with `params`, `encoder` and `decoder`.

    Raises:
        ValueError: if the file is not a reference checkpoint.
    """
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path}: expected a dict checkpoint, got {type(checkpoint).__name__}")
    missing = [key for key in ("params", "encoder", "decoder") if key not in checkpoint]
    if missing:
        raise ValueError(f"{path}: not a reference (LAWT) checkpoint, missing keys {missing}")
    if not isinstance(checkpoint["params"], Mapping):
        raise ValueError(f"{path}: `params` must be a dict of training arguments")
    return checkpoint


def lawt_config_from_params(
    params: Mapping[str, Any], max_position_embeddings: int = 4096, ffn_dims: tuple[int, int] | None = None
) -> MatrixSeq2SeqConfig:
    """The `MatrixSeq2SeqConfig` of a reference run, from its training arguments.

    Args:
        params (`Mapping[str, Any]`): The checkpoint's `params`.
        max_position_embeddings (`int`, *optional*, defaults to 4096): Rows of the reference position tables.
        ffn_dims (`tuple[int, int]`, *optional*): Encoder and decoder feed-forward widths read from the weights;
            4 x width when not given.

    Returns:
        `MatrixSeq2SeqConfig`: `MatrixSeq2SeqConfig.for_lawt(...)` with the run's sizes and `training_problem`.

    Raises:
        ValueError: on missing arguments, or special-token ids other than the reference's (eos 0, pad 1).
    """
    missing = [key for key in _REQUIRED_PARAMS if key not in params]
    if missing:
        raise ValueError(f"reference params lack {missing}")
    for key, expected in (("eos_index", 0), ("pad_index", 1)):
        if params.get(key, expected) != expected:
            raise ValueError(f"reference params: `{key}` is {params[key]!r}, expected {expected}")
    input_encoding = encoding_from_lawt(str(params["input_encoding"])).name
    output_encoding = encoding_from_lawt(str(params["output_encoding"])).name
    problem: dict[str, Any] = {"name": str(params.get("operation", "unknown"))}
    for key, name in _PROBLEM_PARAMS.items():
        value = params.get(key)
        if isinstance(value, (bool, int, float, str)):
            problem[name] = value
    problem.update(
        input_encoding=input_encoding,
        output_encoding=output_encoding,
        lawt_input_encoding=str(params["input_encoding"]),
        lawt_output_encoding=str(params["output_encoding"]),
    )
    d_model, decoder_d_model = int(params["enc_emb_dim"]), int(params["dec_emb_dim"])
    encoder_ffn_dim, decoder_ffn_dim = ffn_dims if ffn_dims is not None else (4 * d_model, 4 * decoder_d_model)
    return MatrixSeq2SeqConfig.for_lawt(
        int(params["n_words"]),
        d_model=d_model,
        decoder_d_model=decoder_d_model,
        encoder_layers=int(params["n_enc_layers"]),
        decoder_layers=int(params["n_dec_layers"]),
        encoder_attention_heads=int(params["n_enc_heads"]),
        decoder_attention_heads=int(params["n_dec_heads"]),
        encoder_ffn_dim=encoder_ffn_dim,
        decoder_ffn_dim=decoder_ffn_dim,
        position_embedding_type="sinusoidal" if params.get("sinusoidal_embeddings", False) else "learned",
        tie_word_embeddings=bool(params.get("share_inout_emb", True)),
        max_position_embeddings=max_position_embeddings,
        training_problem=problem,
    )


def _strip_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # DistributedDataParallel saves its wrapped module's weights as `module.<name>`.
    return {key.removeprefix("module."): value for key, value in state_dict.items()}


def _convert_stack(
    state_dict: dict[str, torch.Tensor], prefix: str, config: MatrixSeq2SeqConfig, is_decoder: bool
) -> dict[str, torch.Tensor]:
    """Map one reference stack (`encoder` or `decoder`) to our names under `prefix`; pops what it uses."""
    out: dict[str, torch.Tensor] = {}
    out[f"{prefix}.embed_tokens.weight"] = state_dict.pop("embeddings.weight")
    positions = state_dict.pop("position_embeddings.weight")
    if config.position_embedding_type == "learned":
        out[f"{prefix}.embed_positions.weight"] = positions
    else:
        # Frozen sinusoidal table in the reference: ours is computed, so only check that the layouts agree.
        expected = sinusoidal_positions(0, positions.shape[0], positions.shape[1])
        if not torch.allclose(positions.float(), expected, atol=1e-5):
            raise ValueError(f"{prefix}: the checkpoint's sinusoidal position table differs from ours")
    for name in ("weight", "bias"):
        out[f"{prefix}.layernorm_embedding.{name}"] = state_dict.pop(f"layer_norm_emb.{name}")

    num_layers = config.decoder_layers if is_decoder else config.encoder_layers
    for i in range(num_layers):
        src, dst = f"layers.{i}.", f"{prefix}.layers.{i}."
        for name in ("weight", "bias"):
            out[f"{dst}self_attn.qkv_proj.{name}"] = torch.cat(
                [state_dict.pop(f"{src}self_attention.{p}_lin.{name}") for p in "qkv"], dim=0
            )
            if is_decoder:
                out[f"{dst}encoder_attn.kv_proj.{name}"] = torch.cat(
                    [state_dict.pop(f"{src}cross_attention.{p}_lin.{name}") for p in "kv"], dim=0
                )
            for old, new in _LAYER_RENAMES.items():
                if not is_decoder and old.startswith(("cross_attention", "layer_norm15")):
                    continue
                out[f"{dst}{new}.{name}"] = state_dict.pop(f"{src}{old}.{name}")
    return out


def convert_lawt_state_dicts(
    encoder: Mapping[str, torch.Tensor], decoder: Mapping[str, torch.Tensor], config: MatrixSeq2SeqConfig
) -> dict[str, torch.Tensor]:
    """Rename (and fuse) reference weights into a `MatrixSeq2SeqForConditionalGeneration` state dict.

    Args:
        encoder (`Mapping[str, torch.Tensor]`): The reference encoder state dict (a `module.` prefix is stripped).
        decoder (`Mapping[str, torch.Tensor]`): The reference decoder state dict.
        config (`MatrixSeq2SeqConfig`): The target configuration (`lawt_config_from_params`).

    Returns:
        `dict[str, torch.Tensor]`: every weight of the model, under our names; with `tie_word_embeddings`,
        `lm_head.weight` is the decoder embedding.

    Raises:
        ValueError: if a reference weight is missing or left over, or a tied output projection differs from the
            decoder embedding.
    """
    encoder_sd, decoder_sd = _strip_prefix(encoder), _strip_prefix(decoder)
    try:
        out = _convert_stack(encoder_sd, "model.encoder", config, is_decoder=False)
        out.update(_convert_stack(decoder_sd, "model.decoder", config, is_decoder=True))
    except KeyError as err:
        raise ValueError(f"reference checkpoint is missing weight {err.args[0]!r}") from None

    # The output layer is `proj` (or `pred_layer.proj` in XLM-style checkpoints).
    proj = {
        key.split("proj.")[-1]: key for key in decoder_sd if re.fullmatch(r"(pred_layer\.)?proj\.(weight|bias)", key)
    }
    if "bias" not in proj:
        raise ValueError("reference checkpoint is missing the output layer bias `proj.bias`")
    out["lm_head.bias"] = decoder_sd.pop(proj["bias"])
    decoder_table = out["model.decoder.embed_tokens.weight"]
    if config.tie_word_embeddings:
        if "weight" in proj and not torch.equal(decoder_sd.pop(proj["weight"]), decoder_table):
            raise ValueError("`share_inout_emb` is set but `proj.weight` differs from the decoder embedding")
        out["lm_head.weight"] = decoder_table
    elif "weight" in proj:
        out["lm_head.weight"] = decoder_sd.pop(proj["weight"])
    else:
        raise ValueError("reference checkpoint is missing the output layer weight `proj.weight`")

    leftover = [f"encoder.{k}" for k in encoder_sd] + [f"decoder.{k}" for k in decoder_sd]
    if leftover:
        raise ValueError(f"reference weights not used by the conversion: {sorted(leftover)}")
    return out


def convert_lawt_checkpoint(
    checkpoint_path: str | os.PathLike, output_dir: str | os.PathLike | None = None
) -> MatrixSeq2SeqForConditionalGeneration:
    """Convert a reference checkpoint; optionally save the model and its tokenizer (reference vocabulary order).

    Args:
        checkpoint_path (`str` or `os.PathLike`): The reference `.pth` file.
        output_dir (`str` or `os.PathLike`, *optional*): Where to `save_pretrained` the model and the tokenizer. The
            folder then loads with `AutoModel.from_pretrained` and `AutoTokenizer.from_pretrained`.

    Returns:
        `MatrixSeq2SeqForConditionalGeneration`: the converted model, in eval mode, with every weight loaded.

    Raises:
        ValueError: on a malformed checkpoint, weights that do not match the configuration, or a vocabulary size
            that differs from the reference's `n_words`.
    """
    checkpoint = load_lawt_checkpoint(checkpoint_path)
    params = checkpoint["params"]
    encoder_sd, decoder_sd = _strip_prefix(checkpoint["encoder"]), _strip_prefix(checkpoint["decoder"])
    try:
        positions = encoder_sd["position_embeddings.weight"].shape[0]
        ffn_dims = (encoder_sd["layers.0.ffn.lin1.weight"].shape[0], decoder_sd["layers.0.ffn.lin1.weight"].shape[0])
    except KeyError as err:
        raise ValueError(f"reference checkpoint is missing weight {err.args[0]!r}") from None
    config = lawt_config_from_params(params, max_position_embeddings=positions, ffn_dims=ffn_dims)

    from .tokenization_matrix import MatrixTokenizer, lawt_vocabulary

    vocab = lawt_vocabulary(str(params["input_encoding"]), str(params["output_encoding"]))
    if len(vocab) != config.vocab_size:
        raise ValueError(
            f"the reference vocabulary for {params['input_encoding']!r} -> {params['output_encoding']!r} has "
            f"{len(vocab)} words, but the checkpoint's `n_words` is {config.vocab_size}"
        )

    model = MatrixSeq2SeqForConditionalGeneration(config)
    state_dict = convert_lawt_state_dicts(encoder_sd, decoder_sd, config)
    expected = model.state_dict()
    wrong_shape = [k for k, v in state_dict.items() if k in expected and v.shape != expected[k].shape]
    missing, unexpected = sorted(set(expected) - set(state_dict)), sorted(set(state_dict) - set(expected))
    if missing or unexpected or wrong_shape:
        raise ValueError(
            f"converted weights do not fit the configuration: missing {missing}, unexpected {unexpected}, "
            f"wrong shape {wrong_shape}"
        )
    model.load_state_dict(state_dict, strict=True)
    model.eval()
    if isinstance(params.get("max_output_len"), int):
        # The reference decodes at most max_output_len + 2 tokens including <s> at both ends (LAWT `src/evaluator.py`;
        # docs/reference-code.md#checkpoint-conversion); `max_new_tokens` excludes the start token.
        model.generation_config.max_new_tokens = params["max_output_len"] + 1

    if output_dir is not None:
        tokenizer = MatrixTokenizer(
            vocab=vocab,
            input_encoding=config.training_problem["input_encoding"],
            output_encoding=config.training_problem["output_encoding"],
            framing="lawt",
        )
        model.save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)
    return model
