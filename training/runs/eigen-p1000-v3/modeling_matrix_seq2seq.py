"""PyTorch matrix seq2seq transformer: an encoder-decoder that reads and writes matrices as number tokens.

The architecture is the one of "Linear algebra with transformers" (Charton, TMLR 2022; linalg-transformers
docs/model.md#the-reference-architecture): a BART/XLM-style encoder-decoder with absolute positions, post-LN blocks
(pre-LN optional), separate or shared embeddings, an output projection tied to the decoder embedding with a trained
bias, and the reference code's cross-attention quirk as an option. Extras over the reference: a decoder vocabulary
smaller than the encoder's (output tokens come first in our vocabularies), different encoder/decoder widths,
universal-transformer loops, and Hugging Face generation with a key/value cache.

Reading order: helpers, attention, layers, the encoder and decoder stacks, then the `PreTrainedModel` classes.
Shapes: B batch, S source (encoder) length, T target (decoder) length, D width, H heads, Dh = D / H.

This file travels to the Hugging Face Hub as remote code: it imports only torch, transformers and its sibling
`configuration_matrix_seq2seq.py` (relatively).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.modeling_outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
)
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from .configuration_matrix_seq2seq import MatrixSeq2SeqConfig

__all__ = [
    "MatrixSeq2SeqPreTrainedModel",
    "MatrixSeq2SeqModel",
    "MatrixSeq2SeqForConditionalGeneration",
    "shift_tokens_right",
]


# ----------------------------------------------------------------------------------------------------------- helpers
# The name under which the installed transformers passes and returns the key/value cache. transformers 5.24 renamed
# `past_key_values` to `cache`: `generate()` calls `forward(cache=...)` and reads `outputs.cache`, and the output
# classes declare a `cache` field (with a deprecated `past_key_values` alias); 5.23 and earlier use `past_key_values`
# throughout. The models accept both argument names and return the cache under this one.
CACHE_NAME = "cache" if "cache" in {f.name for f in dataclasses.fields(Seq2SeqLMOutput)} else "past_key_values"


def _resolve_cache(cache: Cache | None, past_key_values: Cache | None) -> Cache | None:
    """The cache given as `cache` (transformers >= 5.24) or `past_key_values` (earlier versions), or None."""
    if cache is not None and past_key_values is not None and cache is not past_key_values:
        raise ValueError("pass the cache as `cache` or as `past_key_values`, not both")
    return cache if cache is not None else past_key_values


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Build decoder inputs from labels: prepend the start token, drop the last label, turn -100 into padding.

    Args:
        labels (`torch.LongTensor` of shape `(B, T)`): Target ids, -100 where ignored.
        pad_token_id (`int`): Id written where a label was -100.
        decoder_start_token_id (`int`): First decoder input.

    Returns:
        `torch.LongTensor` of shape `(B, T)`.
    """
    shifted = labels.new_empty(labels.shape)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill_(shifted == -100, pad_token_id)


def sinusoidal_positions(start: int, length: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """Fixed sine/cosine position embeddings for positions `start..start+length-1`, shape `(length, dim)`.

    Channel j has frequency 1 / 10000^(2*(j//2)/dim), with sine on even and cosine on odd channels: the XLM layout of
    the reference code's `sinusoidal_embeddings` option. Computed in float64 like the reference table, then cast to
    float32; computing on the fly costs nothing next to a layer and leaves no buffer to save or restore.
    """
    positions = torch.arange(start, start + length, dtype=torch.float64, device=device)[:, None]
    channels = torch.arange(dim, device=device)
    angles = positions / torch.pow(10000.0, (2 * (channels // 2)).to(torch.float64) / dim)
    return torch.where(channels % 2 == 0, torch.sin(angles), torch.cos(angles)).to(torch.float32)


def _dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    # Dropout is 0 in every reference run; skipping the call avoids a full copy per residual branch when training.
    return F.dropout(x, p=p, training=training) if p > 0.0 and training else x


def _check_ids(ids: torch.Tensor | None, limit: int, name: str, allow_ignore: bool = False) -> None:
    """Raise `ValueError` if `ids` has an id outside `[0, limit)` (-100 is allowed when `allow_ignore`).

    An embedding lookup out of range fails with an opaque IndexError; a wrong `decoder_vocab_size` is the usual cause.
    Skipped under `torch.compile`, where reading the values back would break the graph at every call.
    """
    if ids is None or torch.compiler.is_compiling():
        return
    values = ids[ids != -100] if allow_ignore else ids
    if values.numel() and (int(values.min()) < 0 or int(values.max()) >= limit):
        raise ValueError(
            f"`{name}` must hold ids in [0, {limit}){' or -100' if allow_ignore else ''}, found ids in "
            f"[{int(values.min())}, {int(values.max())}]"
        )


def _padding_keep(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """`(B, S)` 1/0 mask -> bool keep mask, or None when nothing is padded (so no mask needs building)."""
    if attention_mask is None:
        return None
    keep = attention_mask.bool()
    return None if bool(keep.all()) else keep


def _as_attention_mask(keep: torch.Tensor | None, attn_implementation: str) -> torch.Tensor | None:
    """Boolean keep mask broadcastable to `(B, H, T, S)` -> what the attention kernel expects.

    sdpa takes the boolean mask as is; eager (and any other kernel) takes a float32 additive mask.
    """
    if keep is None or attn_implementation == "sdpa":
        return keep
    return torch.zeros(keep.shape, dtype=torch.float32, device=keep.device).masked_fill_(
        ~keep, torch.finfo(torch.float32).min
    )


def _self_attention_mask(
    query_length: int,
    past_length: int,
    padding_keep: torch.Tensor | None,
    attn_implementation: str,
    device: torch.device,
) -> tuple[torch.Tensor | None, bool]:
    """Causal (and padding) mask of the decoder self-attention, and whether the kernel should apply causality itself.

    Without padding, sdpa gets no mask and `is_causal=True` when the queries start at position 0, and no mask at
    all for single-token decoding steps; only other cases build a `(1 or B, 1, T, past + T)` mask.
    """
    if padding_keep is None and (query_length == 1 or (past_length == 0 and attn_implementation == "sdpa")):
        return None, query_length > 1
    key_positions = torch.arange(past_length + query_length, device=device)
    query_positions = torch.arange(past_length, past_length + query_length, device=device)
    keep = (key_positions[None, :] <= query_positions[:, None])[None, None]
    if padding_keep is not None:
        keep = keep & padding_keep[:, None, None, :]
    return _as_attention_mask(keep, attn_implementation), False


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain attention, the reference for the fused kernels.

    Args:
        module (`nn.Module`): The calling attention module (for `training`).
        query (`torch.Tensor` of shape `(B, H, T, Dh)`): Queries.
        key (`torch.Tensor` of shape `(B, H, S, Dh)`): Keys.
        value (`torch.Tensor` of shape `(B, H, S, Dh)`): Values.
        attention_mask (`torch.Tensor`, *optional*): Float32 additive mask broadcastable to `(B, H, T, S)`.
        scaling (`float`): Score scale, 1/sqrt(Dh).
        dropout (`float`, *optional*, defaults to 0.0): Dropout on the attention probabilities.
        **kwargs: Ignored (`is_causal`: causality is already in the mask).

    Returns:
        `tuple`: the output `(B, T, H, Dh)` and the probabilities `(B, H, T, S)`.
    """
    # Scores and softmax in float32 whatever the compute dtype, as the reference code does (LAWT
    # `src/model/transformer.py`; linalg-transformers docs/model.md#attention).
    scores = torch.matmul(query, key.transpose(2, 3)).float() * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    probs = scores.softmax(dim=-1).to(value.dtype)
    probs = _dropout(probs, dropout, module.training)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), probs


# --------------------------------------------------------------------------------------------------------- attention
class MatrixSeq2SeqAttention(nn.Module):
    """Multi-head attention with biased projections; self-attention uses one fused q/k/v projection.

    Self-attention computes q, k and v with a single `(D, 3D)` matmul, which is faster on CPU than three `(D, D)` ones.
    Cross-attention projects queries from the decoder and keys/values (fused, `(D_enc, 2D)`) from the encoder output,
    whose width may differ from the decoder's.
    """

    def __init__(
        self,
        config: MatrixSeq2SeqConfig,
        embed_dim: int,
        num_heads: int,
        kv_input_dim: int | None = None,
        is_causal: bool = False,
        layer_idx: int | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.scaling = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.is_causal = is_causal
        self.is_cross_attention = kv_input_dim is not None
        self.layer_idx = layer_idx
        if self.is_cross_attention:
            self.q_proj = nn.Linear(embed_dim, embed_dim)
            self.kv_proj = nn.Linear(kv_input_dim, 2 * embed_dim)
        else:
            self.qkv_proj = nn.Linear(embed_dim, 3 * embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(
        self,
        hidden_states: torch.Tensor,
        key_value_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        past_key_values: EncoderDecoderCache | None = None,
        cache_index: int = 0,
    ) -> torch.Tensor:
        """Attend from `hidden_states` to itself, or to `key_value_states` for cross-attention.

        Args:
            hidden_states (`torch.Tensor` of shape `(B, T, D)`): Query input (and key/value input for self-attention).
            key_value_states (`torch.Tensor` of shape `(B, S, D_enc)`, *optional*): Encoder output (cross-attention).
            attention_mask (`torch.Tensor`, *optional*): Mask broadcastable to `(B, H, T, S)`, in the kernel's format.
            is_causal (`bool`, *optional*, defaults to `False`): Let the kernel apply causality (no mask given).
            past_key_values (`EncoderDecoderCache`, *optional*): Cache updated in place.
            cache_index (`int`, *optional*, defaults to 0): Cache layer of this call (a layer applied in several
                loops has one self-attention cache layer per loop).

        Returns:
            `torch.Tensor` of shape `(B, T, D)`.
        """
        batch_size, length, _ = hidden_states.shape
        if self.is_cross_attention:
            query = self.q_proj(hidden_states).view(batch_size, length, self.num_heads, self.head_dim).transpose(1, 2)
            cross_cache = past_key_values.cross_attention_cache if past_key_values is not None else None
            if cross_cache is not None and past_key_values.is_updated.get(cache_index, False):
                # Encoder keys/values were projected at the first decoding step; reuse them.
                key, value = cross_cache.layers[cache_index].keys, cross_cache.layers[cache_index].values
            else:
                source_length = key_value_states.shape[1]
                kv = self.kv_proj(key_value_states).view(batch_size, source_length, 2, self.num_heads, self.head_dim)
                key, value = kv.permute(2, 0, 3, 1, 4).unbind(0)  # 2 x (B, H, S, Dh)
                if cross_cache is not None:
                    key, value = cross_cache.update(key, value, cache_index)
                    past_key_values.is_updated[cache_index] = True
        else:
            qkv = self.qkv_proj(hidden_states).view(batch_size, length, 3, self.num_heads, self.head_dim)
            query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, H, T, Dh)
            if past_key_values is not None:
                key, value = past_key_values.self_attention_cache.update(key, value, cache_index)

        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        output, _ = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.dropout if self.training else 0.0,
            scaling=self.scaling,
            is_causal=is_causal,
        )
        return self.out_proj(output.reshape(batch_size, length, self.embed_dim))


class MatrixSeq2SeqFeedForward(nn.Module):
    """Position-wise feed-forward block: Linear(D, F) -> activation -> Linear(F, D)."""

    def __init__(self, config: MatrixSeq2SeqConfig, embed_dim: int, ffn_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(embed_dim, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, embed_dim)
        self.activation_fn = ACT2FN[config.activation_function]
        # ReLU (the paper's) can overwrite fc1's output: its backward needs only its own output, not its input.
        self.relu = config.activation_function == "relu"

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """`(B, T, D)` -> `(B, T, D)`."""
        hidden = self.fc1(hidden_states)
        hidden = F.relu(hidden, inplace=True) if self.relu else self.activation_fn(hidden)
        return self.fc2(hidden)


# ------------------------------------------------------------------------------------------------------------ layers
class MatrixSeq2SeqEncoderLayer(nn.Module):
    """Self-attention and feed-forward blocks with residuals.

    Post-LN (the paper): h = LN1(x + SelfAttn(x)); out = LN2(h + FFN(h)).
    Pre-LN: h = x + SelfAttn(LN1(x)); out = h + FFN(LN2(h)).
    """

    def __init__(self, config: MatrixSeq2SeqConfig, layer_idx: int) -> None:
        super().__init__()
        dim = config.d_model
        self.normalize_before = config.normalize_before
        self.dropout = config.dropout
        self.self_attn = MatrixSeq2SeqAttention(config, dim, config.encoder_attention_heads, layer_idx=layer_idx)
        self.self_attn_layer_norm = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.ffn = MatrixSeq2SeqFeedForward(config, dim, config.encoder_ffn_dim)
        self.final_layer_norm = nn.LayerNorm(dim, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """`(B, S, D)` -> `(B, S, D)`; `attention_mask` masks padded keys (None: no padding)."""
        x = hidden_states
        if self.normalize_before:
            x = x + _dropout(
                self.self_attn(self.self_attn_layer_norm(x), attention_mask=attention_mask),
                self.dropout,
                self.training,
            )
            return x + _dropout(self.ffn(self.final_layer_norm(x)), self.dropout, self.training)
        x = self.self_attn_layer_norm(
            x + _dropout(self.self_attn(x, attention_mask=attention_mask), self.dropout, self.training)
        )
        return self.final_layer_norm(x + _dropout(self.ffn(x), self.dropout, self.training))


class MatrixSeq2SeqDecoderLayer(nn.Module):
    """Causal self-attention, cross-attention to the encoder output, and feed-forward blocks.

    Post-LN (the paper), with q the cross-attention query stream:
        h1 = LN1(x + SelfAttn(x)); h2 = LN2(h1 + CrossAttn(q, encoder)); out = LN3(h2 + FFN(h2)).
    `cross_attention_query="hidden"` uses q = h1 (BART, T5); `"input"` uses q = x, the layer input, as the reference
    code does (LAWT `src/model/transformer.py`; linalg-transformers docs/model.md#the-reference-architecture). Pre-LN
    moves each LayerNorm to the start of its branch (applied to q for the cross-attention).
    """

    def __init__(self, config: MatrixSeq2SeqConfig, layer_idx: int) -> None:
        super().__init__()
        dim = config.decoder_d_model
        heads = config.decoder_attention_heads
        self.normalize_before = config.normalize_before
        self.query_from_input = config.cross_attention_query == "input"
        self.dropout = config.dropout
        self.self_attn = MatrixSeq2SeqAttention(config, dim, heads, is_causal=True, layer_idx=layer_idx)
        self.self_attn_layer_norm = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.encoder_attn = MatrixSeq2SeqAttention(
            config, dim, heads, kv_input_dim=config.d_model, layer_idx=layer_idx
        )
        self.encoder_attn_layer_norm = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.ffn = MatrixSeq2SeqFeedForward(config, dim, config.decoder_ffn_dim)
        self.final_layer_norm = nn.LayerNorm(dim, eps=config.layer_norm_eps)

    def forward(
        self,
        hidden_states: torch.Tensor,
        self_attention_mask: torch.Tensor | None,
        self_attention_is_causal: bool,
        encoder_hidden_states: torch.Tensor,
        cross_attention_mask: torch.Tensor | None,
        past_key_values: EncoderDecoderCache | None,
        self_cache_index: int,
        cross_cache_index: int,
    ) -> torch.Tensor:
        """`(B, T, D)` -> `(B, T, D)`, attending to `encoder_hidden_states` `(B, S, D_enc)`.

        Args:
            hidden_states (`torch.Tensor` of shape `(B, T, D)`): Layer input.
            self_attention_mask (`torch.Tensor`, *optional*): Causal/padding mask, or None.
            self_attention_is_causal (`bool`): Let the kernel apply causality (when no mask is given).
            encoder_hidden_states (`torch.Tensor` of shape `(B, S, D_enc)`): Encoder output.
            cross_attention_mask (`torch.Tensor`, *optional*): Mask of padded encoder positions, or None.
            past_key_values (`EncoderDecoderCache`, *optional*): Cache updated in place.
            self_cache_index (`int`): Self-attention cache layer of this call.
            cross_cache_index (`int`): Cross-attention cache layer of this call.
        """
        x = hidden_states
        p, training = self.dropout, self.training
        cross_kwargs = {
            "key_value_states": encoder_hidden_states,
            "attention_mask": cross_attention_mask,
            "past_key_values": past_key_values,
            "cache_index": cross_cache_index,
        }
        self_kwargs = {
            "attention_mask": self_attention_mask,
            "is_causal": self_attention_is_causal,
            "past_key_values": past_key_values,
            "cache_index": self_cache_index,
        }
        if self.normalize_before:
            h = x + _dropout(self.self_attn(self.self_attn_layer_norm(x), **self_kwargs), p, training)
            query = x if self.query_from_input else h
            h = h + _dropout(self.encoder_attn(self.encoder_attn_layer_norm(query), **cross_kwargs), p, training)
            return h + _dropout(self.ffn(self.final_layer_norm(h)), p, training)
        h = self.self_attn_layer_norm(x + _dropout(self.self_attn(x, **self_kwargs), p, training))
        query = x if self.query_from_input else h
        h = self.encoder_attn_layer_norm(h + _dropout(self.encoder_attn(query, **cross_kwargs), p, training))
        return self.final_layer_norm(h + _dropout(self.ffn(h), p, training))


# ------------------------------------------------------------------------------------------------------------ stacks
class MatrixSeq2SeqSharedTokenEmbedding(nn.Module):
    """The encoder's token table when it is shared with the decoder (`tie_encoder_decoder_embeddings=True`).

    Output tokens come first in our vocabularies, so the shared table is the decoder's table (ids `0..K-1`, tied to
    `decoder.embed_tokens.weight`) followed by `extra_weight`, the rows of input-only tokens (ids `K..V-1`). Keeping
    the decoder's rows as the tied parameter lets the output projection tie to the decoder table with equal shapes.
    """

    def __init__(self, decoder_rows: int, extra_rows: int, embedding_dim: int, padding_idx: int) -> None:
        super().__init__()
        self.padding_idx = padding_idx
        self.weight = nn.Parameter(torch.empty(decoder_rows, embedding_dim))
        self.extra_weight = nn.Parameter(torch.empty(extra_rows, embedding_dim)) if extra_rows else None

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """`(B, S)` ids -> `(B, S, D)` embeddings."""
        if self.extra_weight is None:
            return F.embedding(input_ids, self.weight, padding_idx=self.padding_idx)
        # Two small gathers and a select: cheaper than concatenating the (V, D) table on every forward.
        decoder_rows = self.weight.shape[0]
        shared = F.embedding(input_ids.clamp(max=decoder_rows - 1), self.weight, padding_idx=self.padding_idx)
        extra = F.embedding((input_ids - decoder_rows).clamp(min=0), self.extra_weight)
        return torch.where((input_ids < decoder_rows).unsqueeze(-1), shared, extra)


class MatrixSeq2SeqStack(nn.Module):
    """What the encoder and the decoder share: embeddings (token + position, LayerNorm, dropout) and layer loops."""

    def __init__(self, config: MatrixSeq2SeqConfig, embed_dim: int, loops: int) -> None:
        super().__init__()
        self.config = config
        self.embed_dim = embed_dim
        self.loops = loops
        self.dropout = config.dropout
        self.embed_scale = math.sqrt(embed_dim) if config.scale_embedding else 1.0
        self.max_positions = config.max_position_embeddings
        self.embed_positions = (
            nn.Embedding(config.max_position_embeddings, embed_dim)
            if config.position_embedding_type == "learned"
            else None
        )
        self.layernorm_embedding = (
            nn.LayerNorm(embed_dim, eps=config.layer_norm_eps) if config.layernorm_embedding else None
        )
        # Pre-LN leaves the residual stream un-normalized: close it with a final LayerNorm.
        self.layer_norm = nn.LayerNorm(embed_dim, eps=config.layer_norm_eps) if config.normalize_before else None

    def embed(self, inputs_embeds: torch.Tensor, start: int) -> torch.Tensor:
        """Token embeddings `(B, L, D)` of positions `start..start+L-1` -> layer input `(B, L, D)`.

        Positions start at 0 with no offset and embeddings are not scaled by sqrt(D) unless `scale_embedding`, as
        in the reference code (LAWT `src/model/transformer.py`; linalg-transformers
        docs/model.md#the-reference-architecture).
        """
        length = inputs_embeds.shape[1]
        if start + length > self.max_positions:
            raise ValueError(
                f"sequence of {start + length} positions is longer than `max_position_embeddings` "
                f"({self.max_positions})"
            )
        if self.embed_positions is not None:
            # A slice of the table: positions are contiguous, no gather needed.
            positions = self.embed_positions.weight[start : start + length]
        else:
            positions = sinusoidal_positions(start, length, self.embed_dim, inputs_embeds.device)
        if self.embed_scale != 1.0:
            inputs_embeds = inputs_embeds * self.embed_scale
        hidden_states = inputs_embeds + positions.to(inputs_embeds.dtype)
        if self.layernorm_embedding is not None:
            hidden_states = self.layernorm_embedding(hidden_states)
        return _dropout(hidden_states, self.dropout, self.training)


class MatrixSeq2SeqEncoder(MatrixSeq2SeqStack):
    """Encoder: embeddings, then `encoder_layers` layers applied `encoder_loops` times."""

    def __init__(self, config: MatrixSeq2SeqConfig) -> None:
        super().__init__(config, config.d_model, config.encoder_loops)
        if config.tie_encoder_decoder_embeddings:
            self.embed_tokens: nn.Module = MatrixSeq2SeqSharedTokenEmbedding(
                config.decoder_vocab_size,
                config.vocab_size - config.decoder_vocab_size,
                config.d_model,
                config.pad_token_id,
            )
        else:
            self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model, padding_idx=config.pad_token_id)
        self.layers = nn.ModuleList(MatrixSeq2SeqEncoderLayer(config, i) for i in range(config.encoder_layers))

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> BaseModelOutput | tuple:
        """Encode a batch of token sequences.

        Args:
            input_ids (`torch.LongTensor` of shape `(B, S)`, *optional*): Token ids in `[0, vocab_size)`.
            attention_mask (`torch.Tensor` of shape `(B, S)`, *optional*): 1 for tokens, 0 for padding.
            inputs_embeds (`torch.Tensor` of shape `(B, S, D)`, *optional*): Token embeddings instead of ids.
            output_attentions (`bool`, *optional*): Not supported; must not be True.
            output_hidden_states (`bool`, *optional*): Also return the embeddings and every layer's output.
            return_dict (`bool`, *optional*): Return a tuple when False.
            **kwargs: Ignored (accepted because `generate()` passes its model kwargs through).

        Returns:
            `BaseModelOutput` with `last_hidden_state` `(B, S, D)`.
        """
        if output_attentions:
            raise ValueError("`output_attentions=True` is not supported by MatrixSeq2Seq models")
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of `input_ids` and `inputs_embeds`")
        if inputs_embeds is None:
            _check_ids(input_ids, self.config.vocab_size, "input_ids")
            inputs_embeds = self.embed_tokens(input_ids)
        hidden_states = self.embed(inputs_embeds, start=0)
        mask = _as_attention_mask(self._key_keep(attention_mask), self.config._attn_implementation)
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        for _ in range(self.loops):
            for layer in self.layers:
                hidden_states = layer(hidden_states, mask)
                if all_hidden_states is not None:
                    all_hidden_states += (hidden_states,)
        if self.layer_norm is not None:
            hidden_states = self.layer_norm(hidden_states)
        output = BaseModelOutput(last_hidden_state=hidden_states, hidden_states=all_hidden_states)
        return output if return_dict is not False else output.to_tuple()

    @staticmethod
    def _key_keep(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
        keep = _padding_keep(attention_mask)
        return keep[:, None, None, :] if keep is not None else None  # (B, 1, 1, S)


class MatrixSeq2SeqDecoder(MatrixSeq2SeqStack):
    """Decoder: embeddings, then `decoder_layers` layers applied `decoder_loops` times, with a key/value cache.

    The decoder reads ids `0..decoder_vocab_size-1` only. With `tie_encoder_decoder_embeddings`, `embed_tokens.weight`
    is also the first `decoder_vocab_size` rows of the encoder's table.
    """

    def __init__(self, config: MatrixSeq2SeqConfig) -> None:
        super().__init__(config, config.decoder_d_model, config.decoder_loops)
        self.embed_tokens = nn.Embedding(
            config.decoder_vocab_size, config.decoder_d_model, padding_idx=config.pad_token_id
        )
        self.layers = nn.ModuleList(MatrixSeq2SeqDecoderLayer(config, i) for i in range(config.decoder_layers))

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        cache: Cache | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPastAndCrossAttentions | tuple:
        """Decode `T` new target positions, after the cached ones if any.

        Args:
            input_ids (`torch.LongTensor` of shape `(B, T)`, *optional*): Decoder ids in `[0, decoder_vocab_size)`.
            attention_mask (`torch.Tensor` of shape `(B, past + T)`, *optional*): 1 for tokens, 0 for padding. Not
                needed for right padding (causality already hides later positions).
            encoder_hidden_states (`torch.Tensor` of shape `(B, S, D_enc)`): Encoder output.
            encoder_attention_mask (`torch.Tensor` of shape `(B, S)`, *optional*): Encoder padding mask.
            past_key_values (`EncoderDecoderCache`, *optional*): Cache of earlier positions, updated in place.
            inputs_embeds (`torch.Tensor` of shape `(B, T, D)`, *optional*): Token embeddings instead of ids.
            use_cache (`bool`, *optional*): Create a cache when none is given. Defaults to `config.use_cache`.
            output_hidden_states (`bool`, *optional*): Also return the embeddings and every layer's output.
            return_dict (`bool`, *optional*): Return a tuple when False.
            cache (`EncoderDecoderCache`, *optional*): `past_key_values` under its transformers >= 5.24 name.
            **kwargs: Ignored.

        Returns:
            `BaseModelOutputWithPastAndCrossAttentions` with `last_hidden_state` `(B, T, D)` and the cache (field
            `cache` under transformers >= 5.24, `past_key_values` before).
        """
        past_key_values = _resolve_cache(cache, past_key_values)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of `decoder_input_ids` and `decoder_inputs_embeds`")
        if encoder_hidden_states is None:
            raise ValueError("the decoder needs `encoder_hidden_states`")
        if past_key_values is not None and not isinstance(past_key_values, EncoderDecoderCache):
            raise ValueError(
                f"`past_key_values` must be an `EncoderDecoderCache` (or None), got {type(past_key_values).__name__}"
            )
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if use_cache and past_key_values is None:
            past_key_values = EncoderDecoderCache(DynamicCache(config=self.config), DynamicCache(config=self.config))
        if inputs_embeds is None:
            _check_ids(input_ids, self.config.decoder_vocab_size, "decoder_input_ids")
            inputs_embeds = self.embed_tokens(input_ids)
        query_length = inputs_embeds.shape[1]
        past_length = past_key_values.get_seq_length() if past_key_values is not None else 0
        hidden_states = self.embed(inputs_embeds, start=past_length)

        attn_implementation = self.config._attn_implementation
        self_mask, is_causal = _self_attention_mask(
            query_length, past_length, _padding_keep(attention_mask), attn_implementation, inputs_embeds.device
        )
        cross_mask = _as_attention_mask(MatrixSeq2SeqEncoder._key_keep(encoder_attention_mask), attn_implementation)

        all_hidden_states = (hidden_states,) if output_hidden_states else None
        num_layers = len(self.layers)
        for loop in range(self.loops):
            for i, layer in enumerate(self.layers):
                hidden_states = layer(
                    hidden_states,
                    self_mask,
                    is_causal,
                    encoder_hidden_states,
                    cross_mask,
                    past_key_values,
                    # Each pass through a layer sees different inputs, so it has its own self-attention cache;
                    # cross-attention keys/values depend only on the encoder output and are shared by all loops.
                    self_cache_index=loop * num_layers + i,
                    cross_cache_index=i,
                )
                if all_hidden_states is not None:
                    all_hidden_states += (hidden_states,)
        if self.layer_norm is not None:
            hidden_states = self.layer_norm(hidden_states)
        output = BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=hidden_states,
            hidden_states=all_hidden_states,
            **{CACHE_NAME: past_key_values if use_cache else None},
        )
        return output if return_dict is not False else output.to_tuple()


# ------------------------------------------------------------------------------------------------- pretrained models
class MatrixSeq2SeqPreTrainedModel(PreTrainedModel):
    """Base class: configuration class, weight initialization and tying rules."""

    config_class = MatrixSeq2SeqConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    _no_split_modules = ["MatrixSeq2SeqEncoderLayer", "MatrixSeq2SeqDecoderLayer"]
    # The cache argument's names under transformers 5.23 and >= 5.24 (see `CACHE_NAME`).
    _skip_keys_device_placement = ["past_key_values", "cache"]
    _supports_sdpa = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, `init_std`) for linear and embedding weights (pad row zeroed), zero biases, unit LayerNorms."""
        super()._init_weights(module)
        if isinstance(module, MatrixSeq2SeqSharedTokenEmbedding):
            init.normal_(module.weight, mean=0.0, std=self.config.init_std)
            if module.extra_weight is not None:
                init.normal_(module.extra_weight, mean=0.0, std=self.config.init_std)

    def get_position_embeddings(self) -> tuple[nn.Embedding | None, nn.Embedding | None]:
        """The encoder's and the decoder's learned position tables (None for sinusoidal positions)."""
        return self.base_model.encoder.embed_positions, self.base_model.decoder.embed_positions

    @torch.no_grad()
    def resize_position_embeddings(self, new_num_position_embeddings: int) -> None:
        """Change `max_position_embeddings`, e.g. to fine-tune on longer sequences (larger matrices).

        Learned tables keep their first rows; new rows are initialized like at creation (normal, `init_std`).

        Args:
            new_num_position_embeddings (`int`): The new number of positions.
        """
        if isinstance(new_num_position_embeddings, bool) or not isinstance(new_num_position_embeddings, int):
            raise ValueError(f"`new_num_position_embeddings` must be an int, got {new_num_position_embeddings!r}")
        if new_num_position_embeddings < 1:
            raise ValueError(f"`new_num_position_embeddings` must be >= 1, got {new_num_position_embeddings}")
        for stack in (self.base_model.encoder, self.base_model.decoder):
            stack.max_positions = new_num_position_embeddings
            old = stack.embed_positions
            if old is None:
                continue
            new = nn.Embedding(new_num_position_embeddings, old.embedding_dim, device=old.weight.device)
            new.to(old.weight.dtype)
            nn.init.normal_(new.weight, mean=0.0, std=self.config.init_std)
            kept = min(new_num_position_embeddings, old.num_embeddings)
            new.weight[:kept] = old.weight[:kept]
            stack.embed_positions = new
        self.config.max_position_embeddings = new_num_position_embeddings

    def get_expanded_tied_weights_keys(self, all_submodels: bool = False) -> dict[str, str]:
        """The `{target: source}` ties of this model, as set from the config in `__init__`.

        The base implementation ties nothing unless `config.tie_word_embeddings`; encoder/decoder sharing has its own
        switch (`tie_encoder_decoder_embeddings`), so each class lists exactly the ties its config asks for.
        """
        if all_submodels:
            return super().get_expanded_tied_weights_keys(all_submodels=True)
        return dict(self._tied_weights_keys or {})


class MatrixSeq2SeqModel(MatrixSeq2SeqPreTrainedModel):
    """The bare encoder-decoder, returning the decoder's last hidden states (no output projection)."""

    def __init__(self, config: MatrixSeq2SeqConfig) -> None:
        super().__init__(config)
        self.encoder = MatrixSeq2SeqEncoder(config)
        self.decoder = MatrixSeq2SeqDecoder(config)
        self._tied_weights_keys = (
            {"encoder.embed_tokens.weight": "decoder.embed_tokens.weight"}
            if config.tie_encoder_decoder_embeddings
            else {}
        )
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        """The encoder's token embedding."""
        return self.encoder.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        """Replace the encoder's token embedding."""
        self.encoder.embed_tokens = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        cache: Cache | None = None,
        **kwargs: Any,
    ) -> Seq2SeqModelOutput | tuple:
        """Encode (unless `encoder_outputs` is given) and decode.

        Args:
            input_ids (`torch.LongTensor` of shape `(B, S)`, *optional*): Encoder ids.
            attention_mask (`torch.Tensor` of shape `(B, S)`, *optional*): Encoder padding mask (1 = token).
            decoder_input_ids (`torch.LongTensor` of shape `(B, T)`, *optional*): Decoder ids (required unless
                `decoder_inputs_embeds`); with a cache, only the new positions.
            decoder_attention_mask (`torch.Tensor` of shape `(B, past + T)`, *optional*): Decoder padding mask.
            encoder_outputs (`BaseModelOutput` or `tuple`, *optional*): Precomputed encoder output.
            past_key_values (`EncoderDecoderCache`, *optional*): Decoder cache.
            inputs_embeds (`torch.Tensor` of shape `(B, S, D_enc)`, *optional*): Encoder token embeddings.
            decoder_inputs_embeds (`torch.Tensor` of shape `(B, T, D)`, *optional*): Decoder token embeddings.
            use_cache (`bool`, *optional*): Return a cache. Defaults to `config.use_cache`.
            output_attentions (`bool`, *optional*): Not supported; must not be True.
            output_hidden_states (`bool`, *optional*): Return every layer's hidden states.
            return_dict (`bool`, *optional*): Return a tuple when False.
            cache (`EncoderDecoderCache`, *optional*): `past_key_values` under its transformers >= 5.24 name.
            **kwargs: Ignored.

        Returns:
            `Seq2SeqModelOutput` with `last_hidden_state` `(B, T, D)`.
        """
        past_key_values = _resolve_cache(cache, past_key_values)
        if output_attentions:
            raise ValueError("`output_attentions=True` is not supported by MatrixSeq2Seq models")
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                inputs_embeds=inputs_embeds,
                output_hidden_states=output_hidden_states,
            )
        elif not isinstance(encoder_outputs, BaseModelOutput):
            encoder_outputs = BaseModelOutput(
                last_hidden_state=encoder_outputs[0],
                hidden_states=encoder_outputs[1] if len(encoder_outputs) > 1 else None,
            )
        decoder_outputs = self.decoder(
            input_ids=decoder_input_ids,
            attention_mask=decoder_attention_mask,
            encoder_hidden_states=encoder_outputs.last_hidden_state,
            encoder_attention_mask=attention_mask,
            past_key_values=past_key_values,
            inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_hidden_states=output_hidden_states,
        )
        output = Seq2SeqModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state,
            decoder_hidden_states=decoder_outputs.hidden_states,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            **{CACHE_NAME: getattr(decoder_outputs, CACHE_NAME)},
        )
        return output if return_dict is not False else output.to_tuple()


class MatrixSeq2SeqForConditionalGeneration(MatrixSeq2SeqPreTrainedModel, GenerationMixin):
    """The encoder-decoder with its output projection: training loss from `labels`, and `generate()`.

    The output layer scores the `decoder_vocab_size` decoder tokens only. `AutoModel` and `AutoModelForSeq2SeqLM`
    both load this class, so `AutoModel.from_pretrained(...)` returns a model that can `generate()`.

    Example:
    ```python
    >>> import torch
    >>> from linalg_transformers import MatrixSeq2SeqConfig, MatrixSeq2SeqForConditionalGeneration

    >>> model = MatrixSeq2SeqForConditionalGeneration(MatrixSeq2SeqConfig(vocab_size=50, d_model=32))
    >>> input_ids = torch.randint(3, 50, (2, 9))
    >>> labels = torch.randint(3, 50, (2, 5))
    >>> model(input_ids=input_ids, labels=labels).loss.shape
    torch.Size([])
    >>> model.generate(input_ids, max_new_tokens=6).shape[0]
    2
    ```
    """

    def __init__(self, config: MatrixSeq2SeqConfig) -> None:
        super().__init__(config)
        self.model = MatrixSeq2SeqModel(config)
        self.lm_head = nn.Linear(config.decoder_d_model, config.decoder_vocab_size, bias=config.lm_head_bias)
        self._tied_weights_keys = (
            {"lm_head.weight": "model.decoder.embed_tokens.weight"} if config.tie_word_embeddings else {}
        )
        self.post_init()
        # Generation defaults from the config; the caller sets max_new_tokens (it follows the problem's output size).
        if self.generation_config is not None:
            self.generation_config.decoder_start_token_id = config.decoder_start_token_id
            self.generation_config.bos_token_id = config.bos_token_id
            self.generation_config.eos_token_id = config.eos_token_id
            self.generation_config.pad_token_id = config.pad_token_id
            self.generation_config.num_beams = 1
            self.generation_config.do_sample = False

    def get_input_embeddings(self) -> nn.Module:
        """The encoder's token embedding."""
        return self.model.encoder.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        """Replace the encoder's token embedding."""
        self.model.encoder.embed_tokens = value

    def get_output_embeddings(self) -> nn.Module:
        """The output projection."""
        return self.lm_head

    def set_output_embeddings(self, value: nn.Module) -> None:
        """Replace the output projection."""
        self.lm_head = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        logits_to_keep: int = 0,
        cache: Cache | None = None,
        **kwargs: Any,
    ) -> Seq2SeqLMOutput | tuple:
        """Compute decoder logits, and the loss when `labels` are given.

        Args:
            input_ids (`torch.LongTensor` of shape `(B, S)`, *optional*): Encoder ids.
            attention_mask (`torch.Tensor` of shape `(B, S)`, *optional*): Encoder padding mask (1 = token).
            decoder_input_ids (`torch.LongTensor` of shape `(B, T)`, *optional*): Decoder ids; built from `labels`
                (shifted right behind `decoder_start_token_id`) when omitted.
            decoder_attention_mask (`torch.Tensor` of shape `(B, past + T)`, *optional*): Decoder padding mask.
            encoder_outputs (`BaseModelOutput` or `tuple`, *optional*): Precomputed encoder output.
            past_key_values (`EncoderDecoderCache`, *optional*): Decoder cache.
            inputs_embeds (`torch.Tensor` of shape `(B, S, D_enc)`, *optional*): Encoder token embeddings.
            decoder_inputs_embeds (`torch.Tensor` of shape `(B, T, D)`, *optional*): Decoder token embeddings.
            labels (`torch.LongTensor` of shape `(B, T)`, *optional*): Target ids in `[0, decoder_vocab_size)`, -100
                where ignored. Disables the cache.
            use_cache (`bool`, *optional*): Return a cache. Defaults to `config.use_cache`.
            output_attentions (`bool`, *optional*): Not supported; must not be True.
            output_hidden_states (`bool`, *optional*): Return every layer's hidden states.
            return_dict (`bool`, *optional*): Return a tuple when False.
            logits_to_keep (`int`, *optional*, defaults to 0): Compute logits for the last `logits_to_keep`
                positions only (0: all). `generate()` sets 1.
            cache (`EncoderDecoderCache`, *optional*): `past_key_values` under its transformers >= 5.24 name (the one
                `generate()` passes there).
            **kwargs: `num_items_in_batch` (`int` or `torch.Tensor`), passed by `Trainer`: the loss is then the sum
                over this batch divided by it (the number of target tokens in the whole, possibly accumulated or
                distributed, batch) instead of this batch's mean. Other keys are ignored.

        Returns:
            `Seq2SeqLMOutput` with `loss` (scalar, when `labels`), `logits` `(B, T, decoder_vocab_size)` and the
            cache (field `cache` under transformers >= 5.24, `past_key_values` before).
        """
        past_key_values = _resolve_cache(cache, past_key_values)
        if labels is not None:
            if logits_to_keep:
                raise ValueError("`logits_to_keep` cannot be combined with `labels`: the loss needs every position")
            _check_ids(labels, self.config.decoder_vocab_size, "labels", allow_ignore=True)
            use_cache = False
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = shift_tokens_right(
                    labels, self.config.pad_token_id, self.config.decoder_start_token_id
                )
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        hidden_states = outputs.last_hidden_state
        if logits_to_keep:
            hidden_states = hidden_states[:, -logits_to_keep:]
        logits = self.lm_head(hidden_states)

        loss = None
        if labels is not None:
            loss = self.loss_from_logits(logits, labels, kwargs.get("num_items_in_batch"))
        output = Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            decoder_hidden_states=outputs.decoder_hidden_states,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
            **{CACHE_NAME: getattr(outputs, CACHE_NAME)},
        )
        return output if return_dict is not False else output.to_tuple()

    @staticmethod
    def loss_from_logits(
        logits: torch.Tensor, labels: torch.Tensor, num_items_in_batch: int | torch.Tensor | None = None
    ) -> torch.Tensor:
        """Token-level cross-entropy, computed in float32 (also under bf16 autocast).

        Args:
            logits (`torch.Tensor` of shape `(B, T, K)`): Decoder logits.
            labels (`torch.LongTensor` of shape `(B, T)`): Targets, -100 where ignored.
            num_items_in_batch (`int` or `torch.Tensor`, *optional*): When given, return sum / num_items_in_batch
                (what `Trainer` needs for gradient accumulation and DDP: a plain mean would be scaled by the process
                count under DDP; linalg-transformers docs/model.md#loss); else the mean over the non-ignored targets
                of this batch.

        Returns:
            `torch.Tensor`: the scalar loss.
        """
        flat_logits = logits.float().reshape(-1, logits.shape[-1])
        flat_labels = labels.reshape(-1).to(flat_logits.device)
        if num_items_in_batch is None:
            return F.cross_entropy(flat_logits, flat_labels, ignore_index=-100)
        loss = F.cross_entropy(flat_logits, flat_labels, ignore_index=-100, reduction="sum")
        if isinstance(num_items_in_batch, torch.Tensor):
            num_items_in_batch = num_items_in_batch.to(loss.device)
        return loss / num_items_in_batch

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """Decoder inputs for `labels` (used by `DataCollatorForSeq2Seq`)."""
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    def save_pretrained(self, save_directory: str | Any, **kwargs: Any) -> None:
        """`PreTrainedModel.save_pretrained`, recording this class under `AutoModel` too when saving remote code.

        `register_for_auto_class` records only the class being saved (`AutoModelForSeq2SeqLM`); users also load
        checkpoints with `AutoModel.from_pretrained(..., trust_remote_code=True)` and expect `generate()` to work.
        """
        if self._auto_class is not None:
            module = type(self).__module__.rsplit(".", 1)[-1]
            auto_map = dict(getattr(self.config, "auto_map", None) or {})
            auto_map.setdefault("AutoModel", f"{module}.{type(self).__name__}")
            self.config.auto_map = auto_map
        super().save_pretrained(save_directory, **kwargs)
