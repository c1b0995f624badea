"""Configuration of the matrix seq2seq transformer (linalg-transformers docs/model.md).

This file travels to the Hugging Face Hub as remote code next to `modeling_matrix_seq2seq.py`: it imports nothing but
the standard library and transformers.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from transformers import PretrainedConfig
from transformers.activations import ACT2FN

__all__ = ["MatrixSeq2SeqConfig"]

_POSITION_EMBEDDING_TYPES = ("learned", "sinusoidal")
_CROSS_ATTENTION_QUERIES = ("hidden", "input")


class MatrixSeq2SeqConfig(PretrainedConfig):
    r"""Configuration of a [`MatrixSeq2SeqModel`] / [`MatrixSeq2SeqForConditionalGeneration`].

    An encoder-decoder transformer in the BART/XLM family, as used by "Linear algebra with transformers" (Charton,
    TMLR 2022). The defaults give a small CPU-sized model (256-d, 4 encoder layers, 1 decoder layer, 8 heads, post-LN);
    [`MatrixSeq2SeqConfig.for_lawt`] gives the reference code's exact architecture.

    Args:
        vocab_size (`int`, *optional*, defaults to 1400):
            Number of token ids the encoder reads (the tokenizer's `len(tokenizer)`).
        decoder_vocab_size (`int`, *optional*):
            Number of token ids the decoder reads and the output layer scores: ids `0..decoder_vocab_size-1`. Our
            tokenizers put every output token first, so this can be the size of the output encoding's vocabulary
            (about 1.3k for P1000) instead of the whole vocabulary (about 30k with FP15 input): the output layer and
            the decoder embedding shrink accordingly. Defaults to `vocab_size`.
        d_model (`int`, *optional*, defaults to 256):
            Width of the encoder (embeddings and hidden states).
        decoder_d_model (`int`, *optional*):
            Width of the decoder. May differ from `d_model` (the reference inversion runs use 516/512): the
            cross-attention key/value projections map from the encoder width. Defaults to `d_model`.
        encoder_layers (`int`, *optional*, defaults to 4):
            Number of encoder layers.
        decoder_layers (`int`, *optional*, defaults to 1):
            Number of decoder layers.
        encoder_attention_heads (`int`, *optional*, defaults to 8):
            Attention heads in each encoder layer; must divide `d_model`.
        decoder_attention_heads (`int`, *optional*, defaults to 8):
            Attention heads in each decoder layer (self- and cross-attention); must divide `decoder_d_model`.
        encoder_ffn_dim (`int`, *optional*):
            Hidden size of the encoder feed-forward blocks. Defaults to `4 * d_model`.
        decoder_ffn_dim (`int`, *optional*):
            Hidden size of the decoder feed-forward blocks. Defaults to `4 * decoder_d_model`.
        activation_function (`str`, *optional*, defaults to `"relu"`):
            Feed-forward activation, any key of `transformers.activations.ACT2FN` (`"relu"`, `"gelu"`, `"silu"`, ...).
        dropout (`float`, *optional*, defaults to 0.0):
            Dropout on embeddings, residual branches and the feed-forward output. The reference runs use 0.
        attention_dropout (`float`, *optional*, defaults to 0.0):
            Dropout on attention probabilities.
        max_position_embeddings (`int`, *optional*, defaults to 1024):
            Longest sequence (encoder input or decoder output) the model accepts; the size of the learned position
            tables.
        position_embedding_type (`str`, *optional*, defaults to `"learned"`):
            `"learned"`: trained absolute position embeddings starting at position 0 (no BART offset).
            `"sinusoidal"`: fixed sine/cosine positions (XLM layout: sine on even, cosine on odd channels).
        normalize_before (`bool`, *optional*, defaults to `False`):
            `False`: post-LN, LayerNorm after each residual addition, as in the paper. `True`: pre-LN, LayerNorm at the
            start of each residual branch plus a final LayerNorm after the encoder and after the decoder.
        layernorm_embedding (`bool`, *optional*, defaults to `True`):
            Apply a LayerNorm to the sum of token and position embeddings.
        scale_embedding (`bool`, *optional*, defaults to `False`):
            Multiply token embeddings by `sqrt(width)`. The reference code does not.
        layer_norm_eps (`float`, *optional*, defaults to 1e-5):
            Epsilon of every LayerNorm (the reference code uses 1e-12).
        encoder_loops (`int`, *optional*, defaults to 1):
            Universal-transformer style recurrence: the encoder's layer stack is applied this many times with shared
            weights.
        decoder_loops (`int`, *optional*, defaults to 1):
            The same for the decoder.
        tie_encoder_decoder_embeddings (`bool`, *optional*, defaults to `False`):
            Share one token embedding table between encoder and decoder. The decoder uses its first
            `decoder_vocab_size` rows. Requires `d_model == decoder_d_model`.
        tie_word_embeddings (`bool`, *optional*, defaults to `True`):
            Tie the output projection to the decoder token embedding (the reference code does).
        lm_head_bias (`bool`, *optional*, defaults to `True`):
            Give the output projection a trained bias (the reference code does; BART's is a frozen buffer).
        cross_attention_query (`str`, *optional*, defaults to `"hidden"`):
            Where decoder cross-attention takes its queries from. `"hidden"`: the output of the self-attention block,
            as in BART and T5. `"input"`: the decoder layer's input, as in the reference code (linalg-transformers
            docs/model.md#the-reference-architecture).
        init_std (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initialization of linear and embedding weights.
        use_cache (`bool`, *optional*, defaults to `True`):
            Return and reuse decoder key/value caches during generation.
        bos_token_id (`int`, *optional*, defaults to 0):
            Id of `<s>`.
        eos_token_id (`int`, *optional*, defaults to 1):
            Id of `</s>`, which ends every sequence.
        pad_token_id (`int`, *optional*, defaults to 2):
            Id of `<pad>`.
        decoder_start_token_id (`int`, *optional*, defaults to 0):
            First decoder input token; labels are shifted right behind it.
        training_problem (`dict`, *optional*):
            Metadata, not architecture: the problem and options the model was trained on, e.g. `{"name":
            "eigenvalues", "dim": 5, "coeff_range": 10, "eigen_distribution": "semicircle", "input_encoding": "FP15",
            "output_encoding": "P1000"}`. Pipelines read it to warn on out-of-distribution input. Must be
            JSON-serialisable.

    Example:
    ```python
    >>> from linalg_transformers import MatrixSeq2SeqConfig, MatrixSeq2SeqForConditionalGeneration

    >>> config = MatrixSeq2SeqConfig(vocab_size=30_500, decoder_vocab_size=1_310, d_model=256)
    >>> model = MatrixSeq2SeqForConditionalGeneration(config)
    ```
    """

    model_type = "matrix_seq2seq"
    # Output keys `Trainer.prediction_step` drops: the cache, `past_key_values` until transformers 5.23, then `cache`.
    keys_to_ignore_at_inference = ["past_key_values", "cache"]
    attribute_map = {
        "hidden_size": "d_model",
        "num_attention_heads": "encoder_attention_heads",
        "num_hidden_layers": "encoder_layers",
    }

    def __init__(
        self,
        vocab_size: int = 1400,
        decoder_vocab_size: int | None = None,
        d_model: int = 256,
        decoder_d_model: int | None = None,
        encoder_layers: int = 4,
        decoder_layers: int = 1,
        encoder_attention_heads: int = 8,
        decoder_attention_heads: int = 8,
        encoder_ffn_dim: int | None = None,
        decoder_ffn_dim: int | None = None,
        activation_function: str = "relu",
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        max_position_embeddings: int = 1024,
        position_embedding_type: str = "learned",
        normalize_before: bool = False,
        layernorm_embedding: bool = True,
        scale_embedding: bool = False,
        layer_norm_eps: float = 1e-5,
        encoder_loops: int = 1,
        decoder_loops: int = 1,
        tie_encoder_decoder_embeddings: bool = False,
        tie_word_embeddings: bool = True,
        lm_head_bias: bool = True,
        cross_attention_query: str = "hidden",
        init_std: float = 0.02,
        use_cache: bool = True,
        bos_token_id: int = 0,
        eos_token_id: int = 1,
        pad_token_id: int = 2,
        decoder_start_token_id: int = 0,
        training_problem: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        _check_int("vocab_size", vocab_size, 1)
        decoder_vocab_size = vocab_size if decoder_vocab_size is None else decoder_vocab_size
        _check_int("decoder_vocab_size", decoder_vocab_size, 1)
        if decoder_vocab_size > vocab_size:
            raise ValueError(
                f"`decoder_vocab_size` ({decoder_vocab_size}) must be at most `vocab_size` ({vocab_size}): "
                "the decoder reads and emits the first `decoder_vocab_size` token ids"
            )
        _check_int("d_model", d_model, 1)
        decoder_d_model = d_model if decoder_d_model is None else decoder_d_model
        _check_int("decoder_d_model", decoder_d_model, 1)
        for name, value in (
            ("encoder_layers", encoder_layers),
            ("decoder_layers", decoder_layers),
            ("encoder_attention_heads", encoder_attention_heads),
            ("decoder_attention_heads", decoder_attention_heads),
            ("max_position_embeddings", max_position_embeddings),
            ("encoder_loops", encoder_loops),
            ("decoder_loops", decoder_loops),
        ):
            _check_int(name, value, 1)
        if d_model % encoder_attention_heads:
            raise ValueError(
                f"`encoder_attention_heads` ({encoder_attention_heads}) must divide `d_model` ({d_model})"
            )
        if decoder_d_model % decoder_attention_heads:
            raise ValueError(
                f"`decoder_attention_heads` ({decoder_attention_heads}) must divide `decoder_d_model` "
                f"({decoder_d_model})"
            )
        encoder_ffn_dim = 4 * d_model if encoder_ffn_dim is None else encoder_ffn_dim
        decoder_ffn_dim = 4 * decoder_d_model if decoder_ffn_dim is None else decoder_ffn_dim
        _check_int("encoder_ffn_dim", encoder_ffn_dim, 1)
        _check_int("decoder_ffn_dim", decoder_ffn_dim, 1)
        if activation_function not in ACT2FN:
            raise ValueError(f"`activation_function` must be one of {sorted(ACT2FN)}, got {activation_function!r}")
        for name, value in (("dropout", dropout), ("attention_dropout", attention_dropout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(f"`{name}` must be a float in [0, 1), got {value!r}")
        if position_embedding_type not in _POSITION_EMBEDDING_TYPES:
            raise ValueError(
                f"`position_embedding_type` must be one of {_POSITION_EMBEDDING_TYPES}, "
                f"got {position_embedding_type!r}"
            )
        if cross_attention_query not in _CROSS_ATTENTION_QUERIES:
            raise ValueError(
                f"`cross_attention_query` must be one of {_CROSS_ATTENTION_QUERIES}, got {cross_attention_query!r}"
            )
        for name, value in (("layer_norm_eps", layer_norm_eps), ("init_std", init_std)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"`{name}` must be a positive float, got {value!r}")
        if tie_encoder_decoder_embeddings and d_model != decoder_d_model:
            raise ValueError(
                "`tie_encoder_decoder_embeddings=True` needs equal encoder and decoder widths, got "
                f"`d_model`={d_model} and `decoder_d_model`={decoder_d_model}; allowed: equal widths, or "
                "`tie_encoder_decoder_embeddings=False`"
            )
        # The decoder reads decoder_start/eos/pad and emits eos/pad, so they must be decoder ids; bos is an encoder id.
        for name, value, limit in (
            ("bos_token_id", bos_token_id, vocab_size),
            ("eos_token_id", eos_token_id, decoder_vocab_size),
            ("pad_token_id", pad_token_id, decoder_vocab_size),
            ("decoder_start_token_id", decoder_start_token_id, decoder_vocab_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
                raise ValueError(f"`{name}` must be an int in [0, {limit}), got {value!r}")
        if training_problem is not None:
            if not isinstance(training_problem, dict) or not isinstance(training_problem.get("name"), str):
                raise ValueError(
                    "`training_problem` must be None or a dict with a string 'name', e.g. "
                    f"{{'name': 'eigenvalues', 'dim': 5}}, got {training_problem!r}"
                )
            try:
                json.dumps(training_problem)
            except TypeError as err:
                raise ValueError(f"`training_problem` must be JSON-serialisable: {err}") from None

        if not kwargs.pop("is_encoder_decoder", True):
            raise ValueError("`is_encoder_decoder` must be True: this is an encoder-decoder model")

        self.vocab_size = vocab_size
        self.decoder_vocab_size = decoder_vocab_size
        self.d_model = d_model
        self.decoder_d_model = decoder_d_model
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers
        self.encoder_attention_heads = encoder_attention_heads
        self.decoder_attention_heads = decoder_attention_heads
        self.encoder_ffn_dim = encoder_ffn_dim
        self.decoder_ffn_dim = decoder_ffn_dim
        self.activation_function = activation_function
        self.dropout = float(dropout)
        self.attention_dropout = float(attention_dropout)
        self.max_position_embeddings = max_position_embeddings
        self.position_embedding_type = position_embedding_type
        self.normalize_before = bool(normalize_before)
        self.layernorm_embedding = bool(layernorm_embedding)
        self.scale_embedding = bool(scale_embedding)
        self.layer_norm_eps = float(layer_norm_eps)
        self.encoder_loops = encoder_loops
        self.decoder_loops = decoder_loops
        self.tie_encoder_decoder_embeddings = bool(tie_encoder_decoder_embeddings)
        self.lm_head_bias = bool(lm_head_bias)
        self.cross_attention_query = cross_attention_query
        self.init_std = float(init_std)
        self.use_cache = use_cache
        self.training_problem = training_problem
        super().__init__(
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            pad_token_id=pad_token_id,
            decoder_start_token_id=decoder_start_token_id,
            is_encoder_decoder=True,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )

    @classmethod
    def for_lawt(
        cls,
        vocab_size: int,
        *,
        d_model: int = 512,
        decoder_d_model: int | None = None,
        encoder_layers: int = 6,
        decoder_layers: int = 1,
        encoder_attention_heads: int = 8,
        decoder_attention_heads: int = 8,
        position_embedding_type: str = "learned",
        tie_word_embeddings: bool = True,
        **kwargs: Any,
    ) -> MatrixSeq2SeqConfig:
        """The reference code's architecture (LAWT `src/model/transformer.py`).

        See linalg-transformers docs/model.md#the-reference-architecture.

        Post-LN with LayerNorm eps 1e-12 and an embedding LayerNorm; 4,096 learned positions starting at 0; separate
        encoder and decoder embedding tables over the whole vocabulary; output projection tied to the decoder
        embedding, with a trained bias; cross-attention queries from the decoder layer input; ReLU feed-forward of
        width 4*d; no sqrt(d) embedding scaling; `<s>` (id 0) starts and ends every sequence and `</s>` (id 1) pads.
        The defaults are the eigenvalue runs' sizes (512-d, 6/1 layers, 8 heads).

        Args:
            vocab_size (`int`): Size of the reference vocabulary (`n_words`); the decoder uses all of it.
            d_model (`int`, *optional*, defaults to 512): Encoder width (`enc_emb_dim`).
            decoder_d_model (`int`, *optional*): Decoder width (`dec_emb_dim`); defaults to `d_model`.
            encoder_layers (`int`, *optional*, defaults to 6): `n_enc_layers`.
            decoder_layers (`int`, *optional*, defaults to 1): `n_dec_layers`.
            encoder_attention_heads (`int`, *optional*, defaults to 8): `n_enc_heads`.
            decoder_attention_heads (`int`, *optional*, defaults to 8): `n_dec_heads`.
            position_embedding_type (`str`, *optional*, defaults to `"learned"`): `"sinusoidal"` when the run used
                `sinusoidal_embeddings`.
            tie_word_embeddings (`bool`, *optional*, defaults to `True`): `share_inout_emb`.
            **kwargs: Any other [`MatrixSeq2SeqConfig`] argument, e.g. `training_problem`.

        Returns:
            `MatrixSeq2SeqConfig`: the configuration.
        """
        lawt: dict[str, Any] = {
            "decoder_vocab_size": vocab_size,
            "activation_function": "relu",
            "dropout": 0.0,
            "attention_dropout": 0.0,
            "max_position_embeddings": 4096,
            "normalize_before": False,
            "layernorm_embedding": True,
            "scale_embedding": False,
            "layer_norm_eps": 1e-12,
            "tie_encoder_decoder_embeddings": False,
            "lm_head_bias": True,
            "cross_attention_query": "input",
            "bos_token_id": 0,
            "eos_token_id": 0,
            "pad_token_id": 1,
            "decoder_start_token_id": 0,
        }
        lawt.update(kwargs)
        return cls(
            vocab_size=vocab_size,
            d_model=d_model,
            decoder_d_model=decoder_d_model,
            encoder_layers=encoder_layers,
            decoder_layers=decoder_layers,
            encoder_attention_heads=encoder_attention_heads,
            decoder_attention_heads=decoder_attention_heads,
            position_embedding_type=position_embedding_type,
            tie_word_embeddings=tie_word_embeddings,
            **lawt,
        )

    def get_text_config(self, decoder: bool | None = None, encoder: bool | None = None) -> PretrainedConfig:
        """Same as the base method; the decoder view counts one cache layer per (loop, layer) pair.

        `generate()` sizes its `DynamicCache` from `get_text_config(decoder=True).num_hidden_layers`; with
        `decoder_loops > 1` every pass through a layer has its own keys and values.
        """
        text_config = super().get_text_config(decoder=decoder, encoder=encoder)
        # The base method renames `decoder_layers` to `num_hidden_layers` in a copy; a copy asked again has no
        # `decoder_layers` left and already counts the loops.
        decoder_layers = getattr(self, "decoder_layers", None)
        if decoder and not encoder and text_config is not self and decoder_layers is not None:
            text_config.num_hidden_layers = decoder_layers * self.decoder_loops
        return text_config

    @property
    def custom_pipelines(self) -> dict[str, Any]:
        """The pipelines this model ships as remote code (``custom_pipelines``), as ``pipeline()`` should see them.

        A published model lists its pipeline tasks so that ``pipeline(model=..., trust_remote_code=True)`` runs them
        where this package is not installed. transformers runs a listed task from the model's own copy, asking for
        ``trust_remote_code=True``, even where an installed package registered the task with the same class. Here a
        task registered by an installed package (not by remote code) with the class the entry names is not *in* the
        returned mapping (``task in config.custom_pipelines`` is False), so ``pipeline(task, model=...)`` takes the
        registered class, and so does ``pipeline(model=...)``, which still reads the task from the entries. The
        entries are kept: the config saves them unchanged.

        Raises:
            AttributeError: when the model lists no pipelines (as for any config attribute not set).
        """
        stored = self.__dict__.get("custom_pipelines")
        if stored is None:
            raise AttributeError("custom_pipelines")
        return _CustomPipelines(stored)

    @custom_pipelines.setter
    def custom_pipelines(self, value: dict[str, Any]) -> None:
        self.__dict__["custom_pipelines"] = value


class _CustomPipelines(dict):
    """A model's ``custom_pipelines`` in which the tasks an installed package serves with the same class are not."""

    def __contains__(self, task: object) -> bool:
        return dict.__contains__(self, task) and not _served_by_installed_package(str(task), self[task])


def _served_by_installed_package(task: str, entry: Any) -> bool:
    """Whether `task` is registered with transformers by an installed package, with the class `entry` names.

    ``entry["impl"]`` is ``"module.Class"`` (the copied module's file name and the class). A class loaded from a
    model's remote code (a module under ``transformers_modules``) does not count: only installed code is trusted.
    """
    pipelines = sys.modules.get("transformers.pipelines")  # nothing registered a task if it was never imported
    registry = getattr(pipelines, "PIPELINE_REGISTRY", None)
    registered = getattr(registry, "supported_tasks", {}).get(task)
    impl = registered.get("impl") if isinstance(registered, dict) else None
    if not isinstance(impl, type) or not isinstance(entry, dict):
        return False
    module = impl.__module__
    if module.split(".", 1)[0] == "transformers_modules":
        return False
    return entry.get("impl") == f"{module.rsplit('.', 1)[-1]}.{impl.__name__}"


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}, got {value!r}")
