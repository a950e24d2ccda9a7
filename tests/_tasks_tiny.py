"""Shared helpers for the task tests: a tiny random Llama with a byte-level BPE tokenizer
trained offline in milliseconds, wrapped in the real `HFModel` backend; the shared data folder."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from tiny import bpe_tokenizer_object, llama, shared_data_dir

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


shared_data = shared_data_dir


@lru_cache(maxsize=1)
def tiny_tokenizer() -> Any:
    from transformers import PreTrainedTokenizerFast

    tok = bpe_tokenizer_object(CORPUS * 20, vocab_size=400, specials=["<s>", "</s>", "<pad>"])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_model(context: int = 1024, seed: int = 0) -> Any:
    from kick_models.hf import HFModel

    tok = tiny_tokenizer()
    module = llama(
        seed,
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
    return HFModel(module, tok, name="tiny-llama", provenance={})
