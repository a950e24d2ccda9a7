"""Shared helpers for the compression tests: a tiny random Llama with an offline tokenizer, and
perplexity through the one implementation (the `perplexity` task scoring via `token_nll`)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tiny import llama, shared_data_dir

WORDS = [f"w{i}" for i in range(120)]


shared_data = shared_data_dir


def make_tokenizer() -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "[EOS]": 1, **{w: i + 2 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="[EOS]")


def random_text(n_words: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    # a little structure (repeated bigrams) so calibration statistics are not uniform
    out = []
    while len(out) < n_words:
        w = rng.choice(WORDS)
        out.extend([w, WORDS[(WORDS.index(w) * 7) % len(WORDS)]])
    return " ".join(out[:n_words])


def make_llama(seed: int = 0, **overrides: Any) -> Any:
    cfg: dict[str, Any] = dict(
        vocab_size=len(WORDS) + 2,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=False,
    )
    cfg.update(overrides)
    return llama(seed, **cfg)


@dataclass
class TinyModel:
    """Stands in for a CompressibleModel: what a compressor uses is `.module` and `.tokenizer`."""

    module: Any
    tokenizer: Any


def tiny_model(seed: int = 0, **overrides: Any) -> TinyModel:
    return TinyModel(make_llama(seed, **overrides), make_tokenizer())


def linear_weights(module: Any) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.named_parameters()}


CALIB = dict(calibration="text:" + random_text(3000), nsamples=8, seqlen=32)


def backend(module: Any, tokenizer: Any, name: str = "tiny-llama") -> Any:
    """The `hf` model backend around a transformers module and its tokenizer."""
    from kick_models.hf import HFModel

    return HFModel(module, tokenizer, name=name, provenance={})


def perplexity(
    module: Any, tokenizer: Any, data: str | Path, *, window: int, max_windows: int = 0, batch_size: int = 1
) -> tuple[Mapping[str, float], Any]:
    """The `perplexity` task on the raw text file `data`, created through the registry:
    (its scores, its Prediction with nll_sum, tokens, windows, window_nll in `extra`)."""
    from kick.plugins import load_plugins

    task = load_plugins().registry.create(
        "task", "perplexity", data=str(data), seqlen=window, max_windows=max_windows
    )
    (sample,) = task.samples()
    (pred,) = task.predict(backend(module, tokenizer), [sample], batch_size=batch_size)
    return ({} if pred.error else task.score(sample, pred)), pred
