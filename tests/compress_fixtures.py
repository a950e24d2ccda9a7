"""Shared helpers for the compression tests: a tiny random Llama with an offline tokenizer."""

from __future__ import annotations

import random
from dataclasses import dataclass
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
