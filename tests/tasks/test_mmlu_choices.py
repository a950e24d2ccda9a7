"""MMLU choices are scored as continuations (lm-evaluation-harness's split) and never fail silently."""

from __future__ import annotations

import string

import pytest
import torch
from support.tiny import hf_model, tiny_llama, tiny_module

from kick import SpecError
from kick.plugins import load_plugins

pytestmark = pytest.mark.torch

CHOICES = (" A", " B", " C", " D")


def legacy_sentencepiece(letters: str = "ABCD") -> object:
    """A Unigram tokenizer that normalizes like a legacy SentencePiece Llama (prepend '▁', spaces
    to '▁'): alone, ' A' is ['▁', '▁A'], so every letter's first token is the same '▁'. Letters
    not in `letters` have no token (they become <unk>)."""
    from tokenizers import Tokenizer, decoders, models, normalizers
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set(string.printable) - set(" \t\r\x0b\x0c") - (set("ABCD") - set(letters)))
    vocab = [("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0), ("▁", -2.0)]
    vocab += [(c, -5.0) for c in chars] + [("▁" + x, -1.0) for x in letters]
    tok = Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Metaspace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")


def legacy_model(letters: str = "ABCD"):  # type: ignore[no-untyped-def]
    tok = legacy_sentencepiece(letters)
    module = tiny_module(3, vocab_size=len(tok), bos_token_id=1, eos_token_id=2, pad_token_id=None)
    return hf_model(module, tok, name="legacy-sp")


def mmlu(**params):  # type: ignore[no-untyped-def]
    return load_plugins().registry.create("task", "mmlu", **params)


def last_logprobs(model, text: str) -> torch.Tensor:  # type: ignore[no-untyped-def]
    ids = torch.tensor([model.tokenizer(text, add_special_tokens=True)["input_ids"]])
    with torch.no_grad():
        return torch.log_softmax(model.module(input_ids=ids).logits[0, -1].float(), -1)


def test_letters_sharing_a_first_token_are_scored_by_their_own_tokens() -> None:
    model = legacy_model()
    tok = model.tokenizer
    firsts = {tok(c, add_special_tokens=False)["input_ids"][0] for c in CHOICES}
    assert firsts == {tok.convert_tokens_to_ids("▁")}  # the first-token rule would see one choice
    letter_ids = [tok.convert_tokens_to_ids("▁" + x) for x in "ABCD"]
    task = mmlu(subjects="world_religions", shots=2, limit=4)
    samples = task.samples()
    preds = task.predict(model, samples, batch_size=3)
    for s, p in zip(samples, preds, strict=True):
        logp = last_logprobs(model, task.header("world_religions", 2) + s.prompt)[letter_ids]
        assert p.extra["logprobs"] == pytest.approx(logp.tolist(), abs=1e-4)
        assert p.output == "ABCD"[int(logp.argmax())]
        assert len(set(p.extra["logprobs"])) == 4


def test_choices_that_tokenize_alike_are_refused_with_one_clear_error() -> None:
    model = legacy_model(letters="AD")  # no token for B or C: both become '<unk>'
    task = mmlu(subjects="world_religions", shots=1, limit=2)
    with pytest.raises(SpecError, match=r"choices ' B' and ' C' both tokenize to .* cannot tell them apart"):
        task.predict(model, task.samples(), batch_size=2)


def test_multi_token_choices_sum_their_tokens_with_and_without_the_prefix_cache() -> None:
    model = tiny_llama()
    tok = model.tokenizer
    prefix = "Please give answer to this question: "
    prompts = ["What is the capital of France?\nThe answer is", "who wrote hamlet\nA:"]
    choices = [" Paris", " William Shakespeare", " Rome"]
    cached = model.choice_logprobs(prompts, choices, prefix=prefix, batch_size=2)
    plain = model.choice_logprobs([prefix + p for p in prompts], choices, batch_size=1)
    for p, got, again in zip(prompts, cached, plain, strict=True):
        ctx = tok(prefix + p)["input_ids"]
        for c, lp, lp2 in zip(choices, got, again, strict=True):
            cont = tok(prefix + p + c)["input_ids"][len(ctx) :]
            assert len(cont) >= 1
            ids = torch.tensor([ctx + cont])
            with torch.no_grad():
                logp = torch.log_softmax(model.module(input_ids=ids).logits[0].float(), -1)
            manual = sum(float(logp[len(ctx) - 1 + t, cont[t]]) for t in range(len(cont)))
            assert lp == pytest.approx(manual, abs=1e-4)
            assert lp2 == pytest.approx(manual, abs=1e-4)
    assert len(tok(" William Shakespeare", add_special_tokens=False)["input_ids"]) > 1  # the general path ran


def test_trailing_context_whitespace_moves_into_the_continuation() -> None:
    model = tiny_llama()
    a = model.choice_logprobs(["Answer: "], ["A", "B"], batch_size=1)
    b = model.choice_logprobs(["Answer:"], [" A", " B"], batch_size=1)
    assert a[0] == pytest.approx(b[0], abs=1e-6)


def test_kick_eval_stops_with_one_line_when_the_letters_collide(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "legacy"
    legacy_model(letters="AD").save(str(folder))
    args = ("eval", folder, "-t", "mmlu", "--task-param", "mmlu.shots=1", "--limit", "2", "--out", tmp_path / "o")
    res = cli(*args, plugins=load_plugins())
    assert res.exit_code == 2, res.output
    assert "cannot tell them apart" in res.output and "Traceback" not in res.output
