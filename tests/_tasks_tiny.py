"""Shared helpers for the task tests: a tiny random Llama with a byte-level BPE tokenizer
trained offline in milliseconds, wrapped in the real `HFModel` backend; the shared data folder."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
CORPUS = [
    "The following are multiple choice questions (with answers) about elementary mathematics.",
    "Answer: A\n\nAnswer: B\n\nAnswer: C\n\nAnswer: D\n\n A. B. C. D.",
    "Please give answer to this question: What is the capital of France?\nThe answer is Paris.",
    "Answer these questions:\n\nQ: who wrote hamlet\nA: William Shakespeare",
    "Based on these texts, answer these questions. Summarize the given story in less than 150 words.",
    "the quick brown fox jumps over the lazy dog 0123456789 ,.;:!?'\"()-",
]


def shared_data() -> Path | None:
    cand = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if cand.is_dir():
        return cand
    env = os.environ.get("KICK_SHARED_DATA")
    return Path(env) if env and Path(env).is_dir() else None


@lru_cache(maxsize=1)
def tiny_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS * 20, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_model(context: int = 1024, seed: int = 0) -> Any:
    import torch
    from kick_models.hf import HFModel
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer()
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    module = LlamaForCausalLM(cfg).eval()
    return HFModel(module, tok, name="tiny-llama", provenance={})
