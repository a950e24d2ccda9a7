"""A tiny random Llama with a small byte-level BPE tokenizer, built offline in milliseconds."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from dataset_builder.rows import shared_data_dir  # noqa: F401  (the one lookup; conftest and helpers use it)

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "Please give answer to this question: What is the capital of France?\nThe answer is Paris.",
    "The following are multiple choice questions (with answers) about geography.\n\n",
    "A. Rome\nB. Paris\nC. Berlin\nD. Madrid\nAnswer: A\n\n",
    "Summarize the given story in less than 150 words. The quick brown fox jumps over the lazy dog.",
    "Answer these questions:\n\nQ: who wrote hamlet\nA: William Shakespeare 0123456789",
]


def bpe_tokenizer_object(corpus: Sequence[str], *, vocab_size: int, specials: Sequence[str]) -> Any:
    """A byte-level BPE tokenizer trained on `corpus` (milliseconds, offline)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(list(corpus), trainer=trainer)
    return tok


def llama(seed: int = 0, **config: Any) -> Any:
    """A random LlamaForCausalLM from config values, in eval mode, seeded."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(**config)).eval()


@lru_cache(maxsize=1)
def tiny_tokenizer_object() -> Any:
    return bpe_tokenizer_object(
        CORPUS * 4, vocab_size=320, specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    )


def tiny_tokenizer() -> Any:
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=tiny_tokenizer_object(), eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def tiny_module(seed: int = 0, vocab_size: int = 320) -> Any:
    return llama(
        seed,
        vocab_size=vocab_size,
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


def tiny_model(seed: int = 0) -> Any:
    from kick_models.hf import HFModel

    return HFModel(tiny_module(seed), tiny_tokenizer(), name="tiny-llama", provenance={"id": "tiny-llama"})


def save_tiny(path: str, seed: int = 0) -> str:
    m = tiny_model(seed)
    m.save(path)
    return path
