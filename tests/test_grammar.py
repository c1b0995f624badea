"""The output grammar: the number automata, the `generate()` logits processor, and ``decoding="grammar"``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_model
from transformers import LogitsProcessorList

from linalg_transformers import MatrixTokenizer
from linalg_transformers.encodings import PositionalEncoding, get_encoding
from linalg_transformers.evaluation import evaluate_model, generate_matrices
from linalg_transformers.grammar import NUMBER_GRAMMARS, MatrixGrammarLogitsProcessor, number_grammar
from linalg_transformers.problems import get_problem

ENCODINGS = tuple(NUMBER_GRAMMARS)


class _Renamed(PositionalEncoding):
    name = "P1000-renamed"

    def __init__(self, base: int) -> None:
        super().__init__(base)
        self.name = "P1000-renamed"


def _tokenizer(name: str) -> MatrixTokenizer:
    return MatrixTokenizer(input_encoding=name, output_encoding=name)


def _sequences(tokenizer: MatrixTokenizer, rng: np.random.Generator, count: int) -> list[list[int]]:
    """Answers as generated ids (decoder start first, EOS last): well formed, then with one token changed,
    removed or added."""
    out = []
    start = tokenizer.bos_token_id
    output_ids = tokenizer._side("output")[1]
    for i in range(count):
        rows, cols = rng.integers(1, 4, size=2)
        m = rng.uniform(-50, 50, (rows, cols)) * (rng.random((rows, cols)) < 0.7)  # zeros too (P10's short one)
        ids = [start, *tokenizer(tokenizer.matrix_to_text(m, side="output"))["input_ids"]]  # ends with EOS
        kind = i % 4
        if kind:
            at = int(rng.integers(1, len(ids)))
            token = int(rng.choice(output_ids)) if rng.random() < 0.9 else tokenizer.eos_token_id
            if kind == 1:
                ids[at] = token
            elif kind == 2:
                del ids[at]
            else:
                ids.insert(at, token)
        out.append(ids)
    return out


def _phases(processor: MatrixGrammarLogitsProcessor, ids: list[list[int]]) -> np.ndarray:
    width = max(map(len, ids))
    batch = torch.full((len(ids), width + 1), processor.pad, dtype=torch.long)
    for row, seq in enumerate(ids):
        batch[row, : len(seq)] = torch.tensor(seq)
    return processor._states(batch, processor._problems(len(batch)))[0]


@pytest.mark.parametrize("name", ENCODINGS)
def test_the_automaton_accepts_exactly_what_decodes(name):
    """After an answer and one padding token, the processor's automaton has finished exactly the sequences that
    `decode_matrices` reads as a matrix (well-formed answers and corrupted ones)."""
    tokenizer = _tokenizer(name)
    processor = MatrixGrammarLogitsProcessor(tokenizer)
    ids = _sequences(tokenizer, np.random.default_rng(0), 400)
    finished = _phases(processor, ids) == -5  # the automaton's phase after the end of an answer
    width = max(map(len, ids))
    padded = [seq + [tokenizer.pad_token_id] * (width - len(seq)) for seq in ids]
    valid = tokenizer.decode_matrices(padded).valid
    assert 100 < valid.sum() < len(ids)  # both kinds are there
    np.testing.assert_array_equal(finished, valid)


@pytest.mark.parametrize("name", ENCODINGS)
def test_the_number_automaton_reads_what_the_encoding_writes(name):
    encoding = get_encoding(name)
    grammar = number_grammar(encoding)
    values = np.array([0.0, 3.14159, -2.5e-3, 999.6, -7.0, 1e-120])
    symbols = encoding._encode_numbers(values)  # (n, tokens_per_number), P10's zero padded with -1
    assert grammar.accepts(symbols).all()
    assert grammar.num_states == encoding.tokens_per_number
    if encoding.tokens_per_number > 1:  # a number cut short (the zeros, P10 writing them short, left out)
        assert not grammar.accepts(symbols[1:-1, :-1]).any()  # 1e-120 is written as zero too
    spaced = np.concatenate([symbols[1:2], [[-1]], symbols[2:3]], axis=1)  # padding ends the row: no number after
    assert grammar.accepts(np.concatenate([symbols[1:2], symbols[2:3]], axis=1)).all()
    assert not grammar.accepts(spaced).any()


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize("shapes", [None, [(2, 3), (1, 4)]])
def test_every_allowed_continuation_ends_in_a_well_formed_answer(name, shapes):
    """Random walks over the allowed tokens (as sampling within the grammar does) always write a matrix, of the given
    shape when there is one; and the next token of a well-formed answer is always allowed."""
    tokenizer = _tokenizer(name)
    rng = np.random.default_rng(1)
    rows = 8
    processor = MatrixGrammarLogitsProcessor(tokenizer, shapes=shapes)
    ids = torch.full((rows, 1), tokenizer.bos_token_id, dtype=torch.long)
    for _ in range(64):  # 3 x 3 in P10 is at most 49 tokens
        scores = processor(ids, torch.zeros(rows, tokenizer.vocab_size))
        allowed = torch.isfinite(scores)
        assert allowed.any(dim=1).all()
        choice = []
        for a in allowed:
            options = np.flatnonzero(a.numpy())
            if len(options) == 100:  # any header: all of V1..V100, of which the walk takes a small one
                options = options[:3]
            choice.append(int(rng.choice(options)))
        ids = torch.cat([ids, torch.tensor(choice)[:, None]], dim=1)
    decoded = tokenizer.decode_matrices(ids)
    assert decoded.valid.all()
    if shapes is not None:
        problems = np.arange(rows) // (rows // len(shapes))
        assert [m.shape for m in decoded.matrices] == [shapes[p] for p in problems]
    for seq in _sequences(tokenizer, rng, 40)[::4]:  # the well-formed ones
        fresh = MatrixGrammarLogitsProcessor(tokenizer)
        for t in range(1, len(seq)):
            scores = fresh(torch.tensor([seq[:t]]), torch.zeros(1, tokenizer.vocab_size))
            assert torch.isfinite(scores[0, seq[t]])


@pytest.mark.parametrize("shuffle", [False, True])
def test_the_incremental_path_agrees_with_replaying_the_prefix(p1000_tokenizer, shuffle):
    """Carrying each row's state from the previous step (the rows of each problem swapped between steps, as beam
    search reorders them, or not) gives the masks of reading every prefix afresh; two problems with one prefix keep
    their own shapes."""
    tokenizer = p1000_tokenizer
    rng = np.random.default_rng(2)
    seqs = _sequences(tokenizer, rng, 12)
    width = max(map(len, seqs))
    ids = torch.tensor([s + [tokenizer.pad_token_id] * (width - len(s)) for s in seqs])
    ids[2] = ids[0]  # rows 0-1 are problem 0's, rows 2-3 problem 1's: one prefix under two shapes
    shapes = [(2, 2), (3, 1), (1, 3), (2, 1), (1, 1), (3, 3)]
    swap = torch.arange(len(seqs)).reshape(-1, 2)[:, [1, 0]].reshape(-1)
    incremental = MatrixGrammarLogitsProcessor(tokenizer, shapes=shapes)
    for t in range(1, width + 1):
        rows = ids[swap] if shuffle and t % 2 else ids
        scores = torch.randn(len(seqs), tokenizer.vocab_size)
        step = incremental(rows[:, :t], scores)
        replay = MatrixGrammarLogitsProcessor(tokenizer, shapes=shapes)(rows[:, :t], scores)
        torch.testing.assert_close(step, replay)


def test_the_lawt_framing_has_the_same_grammar():
    tokenizer = MatrixTokenizer(input_encoding="P1000", output_encoding="P1000", framing="lawt")
    processor = MatrixGrammarLogitsProcessor(tokenizer, shapes=[(2, 2)])
    ids = torch.full((1, 1), tokenizer.bos_token_id, dtype=torch.long)
    for _ in range(16):  # the header, four numbers of three tokens, the end
        scores = processor(ids, torch.zeros(1, tokenizer.vocab_size))
        ids = torch.cat([ids, scores.argmax(-1, keepdim=True)], dim=1)
    assert tokenizer.decode_matrices(ids).valid.all()


def test_co_training_answers_carry_the_task_asked_and_its_shape():
    tokenizer = MatrixTokenizer(input_encoding="P1000", output_encoding="P1000")
    torch.manual_seed(0)
    model = tiny_model(tokenizer).eval()
    problem = get_problem({"name": "cotraining", "tasks": ["transpose", "eigenvalues"], "dim": 3})
    batch = problem.generate(10, seed=0)
    candidates = generate_matrices(
        model,
        tokenizer,
        batch.inputs,
        tasks=batch.tasks,
        max_new_tokens=30,
        decoding="grammar",
        output_shapes=[problem.problems[t].output_shape(np.shape(x)) for x, t in zip(batch.inputs, batch.tasks)],
    )
    shapes = [c[0].shape for c in candidates]
    assert shapes == [(3, 3) if t == "T" else (3, 1) for t in batch.tasks]
    result = evaluate_model(model, tokenizer, problem, batch.inputs, tasks=batch.tasks, decoding="grammar")
    assert result.score.well_formed.all()


def test_an_earlier_processor_cannot_leave_a_row_with_no_token(p1000_tokenizer):
    processor = MatrixGrammarLogitsProcessor(p1000_tokenizer, shapes=[(1, 1)])
    prefix = torch.tensor([[p1000_tokenizer.bos_token_id, *p1000_tokenizer("V1 V1 + 314 E-2")["input_ids"][:-1]]])
    scores = torch.zeros(1, p1000_tokenizer.vocab_size)
    scores[0, p1000_tokenizer.eos_token_id] = float("-inf")  # as min_new_tokens would at the end of the answer
    out = processor(prefix, scores)
    assert torch.isfinite(out[0]).nonzero().flatten().tolist() == [p1000_tokenizer.eos_token_id]


def test_a_task_token_comes_first_with_with_task(p1000_tokenizer):
    tokenizer = p1000_tokenizer
    processor = MatrixGrammarLogitsProcessor(tokenizer, with_task=True)
    scores = processor(torch.tensor([[tokenizer.bos_token_id]]), torch.zeros(1, tokenizer.vocab_size))
    allowed = set(torch.isfinite(scores[0]).nonzero().flatten().tolist())
    assert allowed == set(tokenizer._task_ids.values())


def test_bad_arguments_raise_value_errors(p1000_tokenizer):
    with pytest.raises(ValueError, match="shapes must be"):
        MatrixGrammarLogitsProcessor(p1000_tokenizer, shapes=[(0, 3)])
    with pytest.raises(ValueError, match="shapes must be"):
        MatrixGrammarLogitsProcessor(p1000_tokenizer, shapes=[])
    processor = MatrixGrammarLogitsProcessor(p1000_tokenizer, shapes=[(2, 2), (2, 2)])
    with pytest.raises(ValueError, match="not a multiple"):
        processor(torch.zeros(3, 1, dtype=torch.long), torch.zeros(3, p1000_tokenizer.vocab_size))
    with pytest.raises(ValueError, match="tasks must be task tokens"):
        MatrixGrammarLogitsProcessor(p1000_tokenizer, tasks=["Q"])
    with pytest.raises(ValueError, match="2 shapes and 1 tasks"):
        MatrixGrammarLogitsProcessor(p1000_tokenizer, shapes=[(2, 2), (2, 2)], tasks=["T"])
    with pytest.raises(ValueError, match="no output grammar"):
        number_grammar(_Renamed(1000))  # a user's encoding without a grammar


def test_grammar_greedy_is_greedy_where_greedy_is_well_formed_and_always_well_formed(p1000_tokenizer):
    """On a tiny random model: answers that plain greedy writes well formed (and of the right shape) are unchanged
    within the grammar; all others become well formed. Beams and several sequences too."""
    torch.manual_seed(0)
    model = tiny_model(p1000_tokenizer).eval()
    problem = get_problem({"name": "transpose", "dim": 3})
    inputs = np.random.default_rng(3).uniform(-10, 10, (16, 3, 3))
    shapes = [problem.output_shape(x.shape) for x in inputs]
    greedy = generate_matrices(model, p1000_tokenizer, inputs, max_new_tokens=30)
    within = generate_matrices(
        model, p1000_tokenizer, inputs, max_new_tokens=30, decoding="grammar", output_shapes=shapes
    )
    assert any(g[0] is None or g[0].shape != (3, 3) for g in greedy)  # the random model writes malformed answers
    assert all(c[0] is not None and c[0].shape == (3, 3) for c in within)
    for g, w in zip(greedy, within):
        if g[0] is not None and g[0].shape == (3, 3):
            np.testing.assert_array_equal(g[0], w[0])
    beams = generate_matrices(
        model,
        p1000_tokenizer,
        inputs[:4],
        max_new_tokens=30,
        decoding="grammar",
        num_beams=3,
        num_return_sequences=3,
        output_shapes=shapes[:4],
    )
    assert all(m is not None for c in beams for m in c)


def test_evaluate_model_with_grammar_writes_every_answer_well_formed(p1000_tokenizer):
    torch.manual_seed(0)
    model = tiny_model(p1000_tokenizer).eval()
    problem = get_problem({"name": "transpose", "dim": 3})
    inputs = np.random.default_rng(4).uniform(-10, 10, (12, 3, 3))
    result = evaluate_model(model, p1000_tokenizer, problem, inputs, decoding="grammar")
    assert result.score.well_formed.all()
    with pytest.raises(ValueError, match="output_shapes has 2 shapes for 12 problems"):
        generate_matrices(model, p1000_tokenizer, inputs, decoding="grammar", output_shapes=[(3, 3)] * 2)


def test_user_logits_processors_compose_with_the_grammar(p1000_tokenizer):
    torch.manual_seed(0)
    model = tiny_model(p1000_tokenizer).eval()
    enc = p1000_tokenizer.prepare_batch(np.ones((2, 2, 2)), return_tensors="pt")
    grammar = MatrixGrammarLogitsProcessor(p1000_tokenizer, shapes=[(2, 2)] * 2)
    out = model.generate(**enc, logits_processor=LogitsProcessorList([grammar]), do_sample=True, max_length=20)
    assert p1000_tokenizer.decode_matrices(out).valid.all()
