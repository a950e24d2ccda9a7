from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from kick.errors import ModelLoadError, SpecError
from kick.types import ModelSpec

pytestmark = pytest.mark.torch

PROMPTS = [
    "Please give answer to this question: What is the capital of France?\nThe answer is",
    "Q: who wrote hamlet\nA:",
    "The quick brown fox",
    "A. Rome\nB. Paris\nC. Berlin\nD. Madrid\nAnswer:",
    "Summarize the given story",
    "0123",
    "The answer is Paris. The answer is",
    "geography",
    "x",
]


def test_batch_of_8_gives_the_same_greedy_outputs_as_batch_1(tiny_llama) -> None:
    one = tiny_llama.generate(PROMPTS, max_new_tokens=12, batch_size=1)
    eight = tiny_llama.generate(PROMPTS, max_new_tokens=12, batch_size=8)
    assert one == eight
    assert len(set(one)) > 1  # a real model output, not a constant


def test_generation_matches_a_manual_greedy_loop(tiny_llama) -> None:
    tok, module = tiny_llama.tokenizer, tiny_llama.module
    ids = tok(PROMPTS[0])["input_ids"]
    seq = list(ids)
    with torch.no_grad():
        for _ in range(6):
            logits = module(input_ids=torch.tensor([seq])).logits[0, -1]
            seq.append(int(logits.argmax()))
    expected = tok.decode(seq[len(ids) :], skip_special_tokens=True)
    got = tiny_llama.generate([PROMPTS[0]], max_new_tokens=6)[0]
    assert got == expected


def test_stop_at_newline_cuts_the_answer_at_the_first_newline(tiny_llama) -> None:
    newline = tiny_llama.tokenizer("\n", add_special_tokens=False)["input_ids"][0]
    with torch.no_grad():  # make the random model emit newlines after a few tokens
        tiny_llama.module.lm_head.weight[newline] *= 2.0
    long = tiny_llama.generate(PROMPTS, max_new_tokens=24)
    cut = tiny_llama.generate(PROMPTS, max_new_tokens=24, stop_at_newline=True)
    for full, short in zip(long, cut, strict=True):
        assert "\n" not in short
        assert full.startswith(short)
    assert any("\n" in x and not x.startswith("\n") for x in long)  # else the check is vacuous
    assert any(short and len(short) < len(full) for short, full in zip(cut, long, strict=True))


def test_chat_prompts_use_the_chat_template(tiny_llama) -> None:
    ids = tiny_llama._prompt_ids(["hi", "hello", "again"], chat=True)
    text = tiny_llama.tokenizer.decode(ids)
    assert (
        text
        == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\n"
    )


def test_choice_logprobs_match_a_manual_forward_pass(tiny_llama) -> None:
    prompt = PROMPTS[3]
    got = tiny_llama.choice_logprobs([prompt, PROMPTS[0]], [" A", " B", " C", " D"], batch_size=2)
    tok = tiny_llama.tokenizer
    with torch.no_grad():
        logits = tiny_llama.module(input_ids=torch.tensor([tok(prompt)["input_ids"]])).logits[0, -1]
    logp = torch.log_softmax(logits, -1)
    ids = [tok(c, add_special_tokens=False)["input_ids"][0] for c in (" A", " B", " C", " D")]
    assert got[0] == pytest.approx([float(logp[i]) for i in ids], abs=1e-5)


def test_prefix_cache_scoring_equals_plain_scoring(tiny_llama) -> None:
    prefix = "The following are multiple choice questions (with answers) about geography.\n\n"
    questions = [p + "\nAnswer:" for p in PROMPTS]
    plain = tiny_llama.choice_logprobs(
        [prefix + q for q in questions], [" A", " B", " C", " D"], batch_size=3
    )
    cached = tiny_llama.choice_logprobs(questions, [" A", " B", " C", " D"], prefix=prefix, batch_size=3)
    for a, b in zip(plain, cached, strict=True):
        assert a == pytest.approx(b, abs=1e-4)


def test_loglikelihood_and_token_nll_agree_with_a_manual_sum(tiny_llama) -> None:
    tok = tiny_llama.tokenizer
    ctx, cont = "The answer is", " Paris."
    whole = tok(ctx + cont)["input_ids"]
    n_ctx = len(tok(ctx)["input_ids"])
    with torch.no_grad():
        logp = torch.log_softmax(tiny_llama.module(input_ids=torch.tensor([whole])).logits[0], -1)
    manual = sum(float(logp[t - 1, whole[t]]) for t in range(n_ctx, len(whole)))
    (lp, n), _ = tiny_llama.loglikelihood([(ctx, cont), ("x", " y")], batch_size=2)
    assert n == len(whole) - n_ctx and lp == pytest.approx(manual, abs=1e-4)
    ((nll, m),) = tiny_llama.token_nll([whole])
    assert m == len(whole) - 1
    assert nll == pytest.approx(-sum(float(logp[t - 1, whole[t]]) for t in range(1, len(whole))), abs=1e-4)


def test_scoring_passes_hold_at_most_the_logits_budget(tiny_llama, monkeypatch) -> None:
    import kick_models.hf as hf

    windows = [list(range(5, 5 + 24)), list(range(40, 64)), list(range(7, 31))]
    full = tiny_llama.token_nll(windows, batch_size=8)
    rows: list[int] = []
    forward = tiny_llama.module.forward

    def counting(*a, **kw):  # type: ignore[no-untyped-def]
        rows.append(int(kw["input_ids"].shape[0]))
        return forward(*a, **kw)

    vocab = tiny_llama.module.config.vocab_size
    monkeypatch.setattr(hf, "LOGITS_BUDGET", 2 * 4 * 24 * vocab)  # one window of logits + log-probs
    monkeypatch.setattr(tiny_llama.module, "forward", counting)
    capped = tiny_llama.token_nll(windows, batch_size=8)
    assert rows == [1, 1, 1]
    for (a, n), (b, m) in zip(full, capped, strict=True):
        assert n == m and a == pytest.approx(b, abs=1e-4)


def test_truncate_keeps_the_first_tokens(tiny_llama) -> None:
    text = PROMPTS[0]
    assert tiny_llama.count_tokens(tiny_llama.truncate(text, 5)) <= 5
    assert tiny_llama.truncate(text, 10_000) == text


def test_saved_model_loads_back_through_the_hf_backend(tmp_path: Path, tiny_llama) -> None:
    from kick_models.hf import HFModel

    tiny_llama.save(str(tmp_path / "m"))
    again = HFModel.load(ModelSpec(str(tmp_path / "m")))
    assert again.generate(PROMPTS[:3], max_new_tokens=5) == tiny_llama.generate(PROMPTS[:3], max_new_tokens=5)
    assert again.info()["architecture"] == "LlamaForCausalLM"
    assert again.info()["parameters"] == sum(p.numel() for p in tiny_llama.module.parameters())


def test_missing_folder_and_non_causal_lm_give_clear_errors(tmp_path: Path) -> None:
    from kick_models.hf import HFModel

    with pytest.raises(ModelLoadError, match="does not exist"):
        HFModel.load(ModelSpec(str(tmp_path / "nope")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        HFModel.load(ModelSpec(str(tmp_path / "empty")))
    bert = tmp_path / "t5"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "t5", "vocab_size": 10, "d_model": 8}))
    with pytest.raises(ModelLoadError, match="not a causal language model"):
        HFModel.load(ModelSpec(str(bert)))
    with pytest.raises(SpecError, match="dtype"):
        HFModel.load(ModelSpec(str(bert), dtype="int3"))


def test_continuous_batching_gives_what_transformers_generate_gives(tiny_llama, monkeypatch) -> None:
    newline = tiny_llama.tokenizer("\n", add_special_tokens=False)["input_ids"][0]
    with torch.no_grad():  # answers of different lengths, so rows leave and join mid-batch
        tiny_llama.module.lm_head.weight[newline] *= 2.0
    ours = tiny_llama.generate(PROMPTS, max_new_tokens=16, stop_at_newline=True, batch_size=3)
    assert len({len(x) for x in ours}) > 2
    monkeypatch.setenv("KICK_GENERATE", "hf")
    theirs = tiny_llama.generate(PROMPTS, max_new_tokens=16, stop_at_newline=True, batch_size=3)
    assert ours == theirs
    assert tiny_llama.generate(PROMPTS, max_new_tokens=10, batch_size=4) == [
        tiny_llama.generate([p], max_new_tokens=10, batch_size=1)[0] for p in PROMPTS
    ]


@contextlib.contextmanager
def fed_shapes(module) -> Iterator[list[tuple[int, int]]]:
    """The shape of `input_ids` of every forward call made inside the block."""
    fed: list[tuple[int, int]] = []
    hook = module.register_forward_pre_hook(
        lambda _m, _a, kw: fed.append(tuple(kw["input_ids"].shape)), with_kwargs=True
    )
    try:
        yield fed
    finally:
        hook.remove()


def continuous_decoding(model) -> bool:  # type: ignore[no-untyped-def]
    """kick's own greedy loop needs `logits_to_keep` (transformers >= 4.50); before, `generate` runs."""
    from kick_models.prefix import _keep_arg

    return _keep_arg(model.module) == "logits_to_keep"


def test_prompts_sharing_an_instruction_run_it_once_and_decode_as_without(tiny_llama, monkeypatch) -> None:
    if not continuous_decoding(tiny_llama):
        pytest.skip("no continuous decoding on this transformers: outputs come from generate itself")
    newline = tiny_llama.tokenizer("\n", add_special_tokens=False)["input_ids"][0]
    with torch.no_grad():  # answers of different lengths, so rows leave and join mid-batch
        tiny_llama.module.lm_head.weight[newline] *= 2.0
    head = "Please give answer to this question, in a few words and nothing else: "
    prompts = [
        head + q for q in ("capital of France?", "who wrote Hamlet", "2+2", "largest ocean on earth?", "x")
    ]
    with fed_shapes(tiny_llama.module) as fed:
        ours = tiny_llama.generate(prompts, max_new_tokens=12, stop_at_newline=True, batch_size=2)
    shared = len(tiny_llama.tokenizer(head)["input_ids"]) - 2  # the last tokens may merge with the question
    whole = sum(len(tiny_llama.tokenizer(p)["input_ids"]) for p in prompts)
    prefill = sum(b * t for b, t in fed if t > 1)  # decode steps feed one token per row
    assert prefill < whole - shared  # the instruction was not run once per prompt
    monkeypatch.setenv("KICK_GENERATE", "hf")
    assert ours == tiny_llama.generate(prompts, max_new_tokens=12, stop_at_newline=True, batch_size=2)
    assert ours == [tiny_llama.generate([p], max_new_tokens=12, stop_at_newline=True)[0] for p in prompts]


def test_continuous_batching_fills_every_free_slot_before_each_step(tiny_llama) -> None:
    newline = tiny_llama.tokenizer("\n", add_special_tokens=False)["input_ids"][0]
    with torch.no_grad():  # answers of different lengths, so rows leave at different steps
        tiny_llama.module.lm_head.weight[newline] *= 3.0
    prompts = [f"{p} ({k})" for k in range(3) for p in PROMPTS]
    with fed_shapes(tiny_llama.module) as fed:
        outs = tiny_llama.generate(prompts, max_new_tokens=16, stop_at_newline=True, batch_size=3)
    assert len({len(x) for x in outs}) > 2
    last_prefill = max(i for i, (_, t) in enumerate(fed) if t > 1)
    steps = [b for b, t in fed[:last_prefill] if t == 1]
    assert steps and all(b == 3 for b in steps), steps  # no step ran with a free slot while prompts waited


@pytest.mark.parametrize("bias", [False, True])
def test_blockwise_projection_is_bit_identical_to_linear(bias) -> None:
    from kick_models.blockhead import blockwise_linear

    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(9001, 64, generator=gen)  # 2 blocks of 8192 rows and a ragged one
    b = torch.randn(9001, generator=gen) if bias else None
    for rows in (4, 8, 15):  # the row counts it is used for (one row takes another kernel)
        x = torch.randn(rows, 1, 64, generator=gen)
        assert torch.equal(blockwise_linear(x, weight, b), torch.nn.functional.linear(x, weight, b))


def test_blockwise_head_is_used_for_a_few_rows_only_and_removed_after(tiny_llama, monkeypatch) -> None:
    import kick_models.blockhead as bh

    if not continuous_decoding(tiny_llama):
        pytest.skip("the blocked head serves kick's own greedy loop, absent on this transformers")

    monkeypatch.setattr(bh, "MIN_WIDTH", 1)  # the tiny_llama model's head is narrow; make it qualify
    monkeypatch.setattr(torch.backends.mkl, "is_available", lambda: True)
    rows_seen: list[int] = []
    real = bh.blockwise_linear

    def counting(x, weight, bias):
        rows_seen.append(x.numel() // x.shape[-1])
        return real(x, weight, bias)

    monkeypatch.setattr(bh, "blockwise_linear", counting)
    ours = tiny_llama.generate(PROMPTS, max_new_tokens=8, batch_size=8)
    assert rows_seen and all(bh.MIN_ROWS <= n < bh.MAX_ROWS for n in rows_seen)
    head = tiny_llama.module.get_output_embeddings()
    assert "forward" not in head.__dict__  # the plain projection is back
    monkeypatch.setenv("KICK_GENERATE", "hf")
    assert ours == tiny_llama.generate(PROMPTS, max_new_tokens=8, batch_size=8)
