"""Regression-aware decoding: write each number as a statistic of the model's distribution over its value.

Greedy decoding writes the most likely token at each step. For an answer scored by its distance to the truth, the
best single answer is a statistic of the predicted distribution over the *value* instead: under an L1 error, its
median (Lukasik et al., "Regression Aware Inference with LLMs", EMNLP Findings 2024). `regression_generate` decodes
number by number:

1. the header ``V{rows} V{cols}``: the most likely dimension tokens;
2. for each number, the candidates: a beam search over the number's own tokens (the slots of a full-length number
   in the encoding's grammar, `grammar.NumberGrammar.full_length_slots`: sign, mantissa, exponent for P1000),
   keeping the `num_candidates` most likely *complete* numbers, each read as a value with the encoding's own
   decoder, weighted by its probability (renormalized over the candidates);
3. the statistic of those values (`STATISTICS`: ``"median"``, the weighted median, or ``"mean"``), rounded and
   re-encoded in the output encoding, is written and fed to the model, so the next number conditions on it;
4. the end of sequence after the last number.

The statistic is taken over values, not over one token: near a power of ten, 9.9 is ``+ 990 E-2`` and 10.1 is
``+ 101 E-1`` in P1000, so the distribution of the mantissa token alone (given the greedy sign and before the
exponent) is bimodal, and its median is a wrong number. Taking the median over the mantissa token alone measurably
lowered the accuracy of the released eigenvalue model; over complete numbers it does not mix decades.

Only the grammar's tokens are proposed at each slot, so the answer is always a well-formed matrix of the header's
shape (P10's zero, ``+ 0 E0``, three tokens instead of five, is never proposed; if a mean rounds to zero, the most
likely candidate is written instead). With a peaked distribution (one candidate above half the mass at every number)
the median is that candidate, which is what greedy decoding writes. ``num_candidates=1`` is greedy decoding within
the grammar.

Cost: for each number, one decoder step per token on ``batch x num_candidates`` rows (the committed prefix's
self-attention cache is copied for them; the encoder output and its cross-attention cache are expanded once per
batch), then one step on the batch to commit the chosen tokens: about `num_candidates` times the decoder work of
greedy decoding, and no extra encoder work.

This module travels with a model as Hub remote code (beside the pipelines): it imports only torch, numpy,
transformers and its flat siblings `encodings.py` and `grammar.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from transformers.cache_utils import DynamicCache, EncoderDecoderCache
from transformers.modeling_outputs import BaseModelOutput

from .encodings import MAX_DIMENSION, get_encoding
from .grammar import number_grammar

__all__ = [
    "DECODINGS",
    "DEFAULT_NUM_CANDIDATES",
    "GENERATE_DECODINGS",
    "STATISTICS",
    "check_decoding",
    "regression_generate",
    "weighted_mean",
    "weighted_median",
]

DEFAULT_NUM_CANDIDATES = 16
"""Complete numbers whose values form the distribution of each number."""


# -------------------------------------------------------------------------------------------------- statistics
def weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted (lower) median of each row: the smallest value whose cumulative weight reaches half the total.

    Args:
        values (`np.ndarray` of shape `(N, W)`): Candidate values.
        weights (`np.ndarray` of shape `(N, W)`): Their non-negative weights (rows need not sum to 1).

    Returns:
        `np.ndarray` of shape `(N,)`: one of each row's values (a value above half the weight is the median).
    """
    order = np.argsort(values, axis=1, kind="stable")
    v = np.take_along_axis(values, order, axis=1)
    w = np.take_along_axis(weights, order, axis=1)
    cumulative = np.cumsum(w, axis=1)
    first = (cumulative >= 0.5 * cumulative[:, -1:]).argmax(axis=1)
    return v[np.arange(len(v)), first]


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted mean of each row.

    Args:
        values (`np.ndarray` of shape `(N, W)`): Candidate values.
        weights (`np.ndarray` of shape `(N, W)`): Their non-negative weights, each row with a positive sum.

    Returns:
        `np.ndarray` of shape `(N,)`.
    """
    return (values * weights).sum(axis=1) / weights.sum(axis=1)


STATISTICS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "median": weighted_median,
    "mean": weighted_mean,
}
"""Statistic name -> function of (values `(N, W)`, weights `(N, W)`) giving `(N,)`. ``"median"`` suits the paper's L1
(relative d1) tolerance check."""

DECODINGS = ("greedy", "grammar", *STATISTICS)
"""The decoding options of the pipelines and ``linalg-transformers evaluate``: ``"greedy"`` (`generate`),
``"grammar"`` (`generate` within the output grammar, `grammar.MatrixGrammarLogitsProcessor`: with beams, sampling
and the other `generate()` options as ``"greedy"``), or a statistic of `STATISTICS` (regression-aware decoding)."""

GENERATE_DECODINGS = ("greedy", "grammar")
"""The decodings that run `generate()` (and take its options: beams, returned sequences, sampling)."""


def check_decoding(
    decoding: str | None,
    num_beams: int | None = None,
    num_return_sequences: int | None = None,
    verify_rerank: bool | None = None,
    generate_kwargs: dict[str, Any] | None = None,
    task: str = "",
) -> None:
    """Check a ``decoding`` option and the `generate()` options given with it (the pipelines and the evaluation).

    Regression-aware decoding writes one answer number by number, without `generate()`: it takes no beams, no
    further sequences, no rerank and no `generate()` options.

    Args:
        decoding (`str`, *optional*): One of `DECODINGS`; `None` is greedy.
        num_beams (`int`, *optional*): Beam size asked for (1 and `None` are greedy).
        num_return_sequences (`int`, *optional*): Sequences asked for per problem.
        verify_rerank (`bool`, *optional*): Rerank asked for (the pipelines).
        generate_kwargs (`dict`, *optional*): Further `generate()` options (the pipelines).
        task (`str`, *optional*): Prefix of the messages, e.g. the pipeline task ``"matrix-eigen"``.

    Raises:
        ValueError: for an unknown decoding, or regression-aware decoding with any of those options.
    """
    prefix = f"{task}: " if task else ""
    if decoding is None:
        return
    if decoding not in DECODINGS:
        raise ValueError(f"{prefix}unknown decoding {decoding!r}; valid: {', '.join(DECODINGS)}")
    if decoding in GENERATE_DECODINGS:
        return
    options = {
        "num_beams": (num_beams, num_beams not in (None, 1)),
        "num_return_sequences": (num_return_sequences, num_return_sequences not in (None, 1)),
        "verify_rerank": (verify_rerank, bool(verify_rerank)),
        "generate_kwargs": (generate_kwargs, bool(generate_kwargs)),
    }
    clashes = [f"{name}={value!r}" for name, (value, given) in options.items() if given]
    if clashes:
        raise ValueError(
            f"{prefix}decoding={decoding!r} writes one answer number by number, not with generate(); it does not "
            f"combine with {', '.join(clashes)}"
        )


def _mask(encoding: Any, local: np.ndarray) -> np.ndarray:
    mask = np.zeros(encoding.num_symbols, dtype=bool)
    mask[local] = True
    return mask


# ---------------------------------------------------------------------------------------------------- decoding
class _Decoder:
    """One batch's encoder output and the decoder steps on it (a model of the `MatrixSeq2Seq` interface).

    `cache` holds the committed prefix, one row per problem. Candidate rows come in blocks: problem ``b`` owns rows
    ``b * width`` to ``b * width + width - 1``. The encoder output, its mask and the cross-attention cache of such
    rows are the same for every number and every slot, so they are expanded once per width; only the
    self-attention cache is copied for each number.
    """

    def __init__(self, model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> None:
        self.model = model
        self.hidden = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        self.mask = attention_mask
        self.cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        self._expanded: dict[int, tuple[torch.Tensor, torch.Tensor | None, DynamicCache]] = {}

    def step(
        self, tokens: torch.Tensor, cache: EncoderDecoderCache | None = None, width: int | None = None
    ) -> torch.Tensor:
        """Feed `tokens` `(R, t)` after the cached prefix; the float32 logits of the last position `(R, K)`.

        Args:
            tokens (`torch.LongTensor` of shape `(R, t)`): One row per problem, or `width` rows per problem.
            cache (`EncoderDecoderCache`, *optional*): The rows' cache, updated in place (default: the committed
                prefix's, `cache`).
            width (`int`, *optional*): Candidate rows per problem (`None`: one row per problem).
        """
        cache = self.cache if cache is None else cache
        hidden, mask = (self.hidden, self.mask) if width is None else self._expanded[width][:2]
        out = self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
            attention_mask=mask,
            decoder_input_ids=tokens,
            past_key_values=cache,
            use_cache=True,
        )
        return out.logits[:, -1].float()

    def candidate_cache(self, cache: EncoderDecoderCache, rows: torch.Tensor, width: int) -> EncoderDecoderCache:
        """A new cache for `width` candidate rows per problem.

        Args:
            cache (`EncoderDecoderCache`): The committed cache, or a candidate cache (left unchanged).
            rows (`torch.LongTensor` of shape `(B * width,)`): The rows of `cache` whose self-attention to copy.
            width (`int`): Candidate rows per problem; the cross-attention cache is the committed one's, expanded.
        """
        if width not in self._expanded:
            problems = torch.arange(self.hidden.shape[0], device=self.hidden.device).repeat_interleave(width)
            mask = None if self.mask is None else self.mask[problems]
            cross = _select_layers(self.cache.cross_attention_cache, problems)
            self._expanded[width] = (self.hidden[problems], mask, cross)
        return EncoderDecoderCache(_select_layers(cache.self_attention_cache, rows), self._expanded[width][2])


def _select_layers(cache: DynamicCache, rows: torch.Tensor) -> DynamicCache:
    """A new `DynamicCache` holding the rows `rows` `(R,)` of every layer of `cache`."""
    selected = DynamicCache()
    for layer_idx, layer in enumerate(cache.layers):
        selected.update(layer.keys[rows], layer.values[rows], layer_idx)
    return selected


def _log_probs(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Log-probabilities `(R, K)` renormalized over the `allowed` ids `(K,)` (-inf elsewhere)."""
    return torch.log_softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)


def _number_candidates(
    decoder: _Decoder, logits: torch.Tensor, slots: list[torch.Tensor], width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The most likely complete numbers after the committed prefix: a beam search over one number's slots.

    Args:
        decoder (`_Decoder`): The batch's decoder.
        logits (`torch.Tensor` of shape `(B, K)`): Logits of the number's first token.
        slots (`list[torch.Tensor]`): Allowed ids `(K,)` at each slot of the number.
        width (`int`): Candidates to keep.

    Returns:
        `(tokens, scores)`: ids `(B, W, slots)` and joint log-probabilities `(B, W)`, best first (`W <= width`).
    """
    batch = logits.shape[0]
    scores, tokens = _log_probs(logits, slots[0]).topk(min(width, int(slots[0].sum())), dim=-1)  # (B, W)
    sequences = tokens[:, :, None]
    if len(slots) == 1:
        return sequences, scores
    problem = torch.arange(batch, device=logits.device)
    beam = decoder.candidate_cache(decoder.cache, problem.repeat_interleave(scores.shape[1]), scores.shape[1])
    for slot, allowed in enumerate(slots[1:], start=1):
        current = scores.shape[1]
        step_logits = decoder.step(tokens.reshape(-1, 1), beam, current)  # (B * current, K)
        total = scores[:, :, None] + _log_probs(step_logits, allowed).view(batch, current, -1)
        keep = min(width, current * int(allowed.sum()))
        scores, flat = total.view(batch, -1).topk(keep, dim=-1)
        parent, tokens = flat // total.shape[-1], flat % total.shape[-1]
        sequences = torch.cat([sequences.gather(1, parent[:, :, None].expand(-1, -1, slot)), tokens[:, :, None]], 2)
        if slot < len(slots) - 1:  # the kept candidates' rows, `keep` per problem
            beam = decoder.candidate_cache(beam, (problem[:, None] * current + parent).reshape(-1), keep)
    return sequences, scores


@torch.inference_mode()
def regression_generate(
    model: Any,
    tokenizer: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    statistic: str = "median",
    num_candidates: int = DEFAULT_NUM_CANDIDATES,
    max_new_tokens: int | None = None,
) -> torch.LongTensor:
    """Decode answers number by number, writing for each number a statistic of its predicted value distribution.

    A drop-in for greedy ``model.generate(input_ids, attention_mask=...)``: the same inputs, the same output layout
    (the decoder start token, the answer, end of sequence, then padding), for `MatrixTokenizer.decode_matrices`.

    Args:
        model: A `MatrixSeq2SeqForConditionalGeneration` (any encoder-decoder with `get_encoder()` and a forward
            taking `encoder_outputs`, `decoder_input_ids` and an `EncoderDecoderCache` as `past_key_values`).
        tokenizer (`MatrixTokenizer`): The model's tokenizer (its output encoding says how numbers are written).
        input_ids (`torch.LongTensor` of shape `(B, S)`): Encoder inputs, as for `generate`.
        attention_mask (`torch.Tensor` of shape `(B, S)`, *optional*): Encoder padding mask.
        statistic (`str`, *optional*, defaults to `"median"`): A key of `STATISTICS`: ``"median"`` or ``"mean"``.
        num_candidates (`int`, *optional*, defaults to `DEFAULT_NUM_CANDIDATES`): Complete numbers whose values
            form each number's distribution (1: greedy within the grammar).
        max_new_tokens (`int`, *optional*): At most this many tokens after the decoder start (end of sequence
            included); numbers past it are not written, as when `generate` runs out. Default: the model's positions.

    Returns:
        `torch.LongTensor` of shape `(B, L)`: the decoded ids.

    Raises:
        ValueError: for an unknown statistic, `num_candidates < 1`, or an output encoding without a grammar
            (`grammar.NUMBER_GRAMMARS`).
    """
    if statistic not in STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}; valid: {', '.join(STATISTICS)}")
    if isinstance(num_candidates, bool) or not isinstance(num_candidates, int) or num_candidates < 1:
        raise ValueError(f"num_candidates must be a positive int; got {num_candidates!r}")
    encoding = get_encoding(tokenizer.output_encoding)
    grammar = number_grammar(encoding)
    config = model.config
    budget = config.max_position_embeddings - 1 if max_new_tokens is None else int(max_new_tokens)
    device = input_ids.device
    _, out_to_id = tokenizer._side("output")
    id_to_local = torch.full((config.decoder_vocab_size,), -1, dtype=torch.long)
    id_to_local[torch.from_numpy(out_to_id)] = torch.arange(len(out_to_id))
    vocab = config.decoder_vocab_size

    def allowed(local_mask: np.ndarray) -> torch.Tensor:
        ids = torch.zeros(vocab, dtype=torch.bool)
        ids[torch.from_numpy(out_to_id[local_mask])] = True
        return ids.to(device)

    dimensions = allowed(_mask(encoding, np.arange(MAX_DIMENSION)))
    slots = [allowed(m) for m in grammar.full_length_slots()]
    per_number = len(slots)
    batch = input_ids.shape[0]
    start = torch.full((batch, 1), config.decoder_start_token_id, dtype=torch.long, device=device)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id

    decoder = _Decoder(model, input_ids, attention_mask)
    logits = decoder.step(start)
    written = [start]
    for _ in range(min(2, budget)):  # the header V{rows} V{cols}
        token = logits.masked_fill(~dimensions, float("-inf")).argmax(-1, keepdim=True)
        written.append(token)
        logits = decoder.step(token)
    if budget < 3:
        return torch.cat(written, dim=1)
    shape = id_to_local[torch.cat(written[1:3], dim=1).cpu()] + 1  # (B, 2) rows and columns
    numbers = shape[:, 0] * shape[:, 1]
    numbers = torch.minimum(numbers, torch.tensor((budget - 3) // per_number))  # room for the end of sequence
    chosen_numbers: list[torch.Tensor] = []
    symbols = np.full((batch * num_candidates, per_number + per_number + 2), -1, dtype=np.int64)
    for index in range(int(numbers.max())):
        candidates, scores = _number_candidates(decoder, logits, slots, num_candidates)
        width = candidates.shape[1]
        local = id_to_local[candidates.reshape(-1, per_number).cpu()].numpy()
        symbols[: len(local), :per_number] = local
        values, ok, _ = encoding._read_number(symbols[: len(local)], np.zeros(len(local), dtype=np.int64))
        weights = torch.softmax(scores.float(), dim=-1).cpu().double().numpy()  # (B, W)
        weights = np.where(ok.reshape(batch, width), weights, 0.0)
        values = np.where(ok, values, 0.0).reshape(batch, width)
        best = candidates[:, 0]  # the most likely complete number
        chosen = best.clone()
        usable = weights.sum(axis=1) > 0
        if usable.any():
            stat = STATISTICS[statistic](values[usable], weights[usable])
            encoded = encoding._encode_numbers(stat)  # (n, per_number) local symbols, -1 in unused slots
            whole = (encoded >= 0).all(axis=1)
            rewritten = torch.from_numpy(out_to_id[np.maximum(encoded, 0)]).to(device)
            rows = torch.from_numpy(np.flatnonzero(usable)[whole]).to(device)
            chosen[rows] = rewritten[torch.from_numpy(whole).to(device)]
        active = (index < numbers).to(device)
        filler = torch.full_like(chosen, pad)
        filler[:, 0] = torch.where((index == numbers).to(device), eos, pad)
        chosen = torch.where(active[:, None], chosen, filler)
        chosen_numbers.append(chosen)
        logits = decoder.step(chosen)
    body = torch.cat([*written, *chosen_numbers], dim=1)
    ends = torch.full((batch, 1), pad, dtype=torch.long, device=device)
    ends[numbers.to(device) == len(chosen_numbers)] = eos
    return torch.cat([body, ends], dim=1)
