"""The one tiny random Llama, built offline in milliseconds: a config, a seeded module, a tokenizer,
the `hf` backend around them, and a saved folder.

    tiny_llama()                        HFModel: 2 layers, hidden 64, byte-level BPE, ChatML template
    tiny_llama(seed=1, context=160)     another seed, a 160-token context (max_position_embeddings)
    tiny_llama(tokenizer="words")       a word-level tokenizer over w0..w119 (calibration text:
                                        `random_text`), vocab 122
    tiny_module(**config)               the bare LlamaForCausalLM (eval mode, seeded)
    hf_model(module, tokenizer)         the `hf` backend around any transformers module
    save_tiny_llama(folder)             a folder `kick run` / HFModel.load can read
    perplexity(model, file, window=64)  the `perplexity` task on a raw text file

The `tiny_llama` fixture (conftest) is `tiny_llama()`. Importing this module imports no torch.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CORPUS = [  # what the task prompts look like, so they tokenize into a few hundred tokens, not bytes
    "Please give answer to this question: What is the capital of France?\nThe answer is Paris.",
    "The following are multiple choice questions (with answers) about geography.\n\n",
    "The following are multiple choice questions (with answers) about elementary mathematics.",
    "A. Rome\nB. Paris\nC. Berlin\nD. Madrid\nAnswer: A\n\n",
    "Answer: A\n\nAnswer: B\n\nAnswer: C\n\nAnswer: D\n\n A. B. C. D.",
    "Summarize the given story in less than 150 words. The quick brown fox jumps over the lazy dog.",
    "Answer these questions:\n\nQ: who wrote hamlet\nA: William Shakespeare 0123456789",
    "Based on these texts, answer these questions. Summarize the given story in less than 150 words.",
    "the quick brown fox jumps over the lazy dog 0123456789 ,.;:!?'\"()-",
]
BPE_VOCAB = 400
WORDS = [f"w{i}" for i in range(120)]

# ---- tokenizers ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _bpe_object() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB,
        special_tokens=list(SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS * 20, trainer=trainer)
    return tok


def bpe_tokenizer() -> Any:
    """A byte-level BPE trained on CORPUS (cached), ChatML chat template, eos = pad = <|endoftext|>."""
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=_bpe_object(), eos_token=SPECIALS[0], pad_token=SPECIALS[0]
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def word_tokenizer() -> Any:
    """Whitespace words w0..w119 (ids 2..121), [UNK] = 0, [EOS] = 1: calibration text is exact."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "[EOS]": 1, **{w: i + 2 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="[EOS]")


def random_text(n_words: int, seed: int = 0) -> str:
    """`n_words` of w0..w119 with a little structure (repeated bigrams), so calibration
    statistics are not uniform."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n_words:
        w = rng.choice(WORDS)
        out.extend([w, WORDS[(WORDS.index(w) * 7) % len(WORDS)]])
    return " ".join(out[:n_words])


TOKENIZERS = {"bpe": bpe_tokenizer, "words": word_tokenizer}

# ---- model --------------------------------------------------------------------------------------


def tiny_config(**overrides: Any) -> dict[str, Any]:
    """LlamaConfig values of the tiny Llama (2 layers, hidden 64, 4 heads, 2 kv heads), `overrides` win."""
    cfg: dict[str, Any] = dict(
        vocab_size=BPE_VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        tie_word_embeddings=False,
    )
    cfg.update(overrides)
    return cfg


def tiny_module(seed: int = 0, **config: Any) -> Any:
    """A random LlamaForCausalLM of `tiny_config(**config)`, in eval mode, seeded."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(**tiny_config(**config))).eval()


def words_config(**overrides: Any) -> dict[str, Any]:
    """Config values for the word-level tokenizer: its vocab, no padding row, LlamaConfig's bos/eos."""
    return {"vocab_size": len(WORDS) + 2, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": None,
            "max_position_embeddings": 256, **overrides}  # fmt: skip


def hf_model(module: Any, tokenizer: Any, name: str = "tiny-llama") -> Any:
    """The `hf` model backend around a transformers module and its tokenizer."""
    from kick_models.hf import HFModel

    return HFModel(module, tokenizer, name=name, provenance={"id": name})


def tiny_llama(
    seed: int = 0, *, tokenizer: Literal["bpe", "words"] = "bpe", context: int | None = None, **config: Any
) -> Any:
    """The tiny Llama in the `hf` backend. `context` sets max_position_embeddings; `config`
    overrides any other LlamaConfig value."""
    if context is not None:
        config["max_position_embeddings"] = context
    if tokenizer == "words":
        config = words_config(**config)
    return hf_model(tiny_module(seed, **config), TOKENIZERS[tokenizer]())


def save_tiny_llama(path: str, seed: int = 0) -> str:
    """Save the tiny Llama (weights, config, tokenizer) to the folder `path`; returns it."""
    tiny_llama(seed).save(path)
    return path


def perplexity(
    model: Any, data: str | Path, *, window: int, max_windows: int = 0, batch_size: int = 1
) -> tuple[Mapping[str, float], Any]:
    """The `perplexity` task (created through the registry) on the raw text file `data` for an
    hf-backed `model`: (its scores, its Prediction with nll_sum, tokens, windows, window_nll in `extra`)."""
    from kick.plugins import load_plugins

    task = load_plugins().registry.create(
        "task", "perplexity", data=str(data), seqlen=window, max_windows=max_windows
    )
    (sample,) = task.samples()
    (pred,) = task.predict(model, [sample], batch_size=batch_size)
    return ({} if pred.error else task.score(sample, pred)), pred
