"""Perplexity over non-overlapping token windows (the WikiText-2 protocol of GPTQ/SparseGPT/Wanda).

The text is tokenized once (CRLF normalised to LF), cut into consecutive windows of `window`
tokens (the incomplete tail is dropped), and every token after the first of each window is scored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kick.errors import SpecError


@dataclass(frozen=True)
class PerplexityResult:
    ppl: float
    nll_sum: float
    tokens: int  # scored tokens: windows x (window - 1)
    windows: int
    window: int


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(
        tokenizer(text, add_special_tokens=False, return_attention_mask=False, verbose=False)["input_ids"]
    )


def _token_ids(tokenizer: Any, text: str, needed: int | None) -> list[int]:
    """Token ids of `text`; when only `needed` tokens are used, tokenize a generous prefix first.

    Cutting the text only changes the tokens at the cut, so the prefix is used only if it yields
    well over `needed` tokens (the possibly-changed tokens at the cut are never used).
    """
    if needed is not None:
        prefix = text[: needed * 16]
        if len(prefix) < len(text):
            ids = _encode(tokenizer, prefix)
            if len(ids) > needed + 256:
                return ids[:needed]
    return _encode(tokenizer, text)


def perplexity(
    model: Any,
    tokenizer: Any,
    text: str,
    *,
    window: int,
    max_windows: int | None = None,
    batch_size: int = 1,
) -> PerplexityResult:
    """exp(mean NLL) of `model` over non-overlapping `window`-token windows of `text`."""
    import torch
    import torch.nn.functional as F

    if window < 2:
        raise SpecError(f"perplexity: window must be at least 2 tokens, got {window}")
    ids = _token_ids(
        tokenizer, text.replace("\r\n", "\n"), None if max_windows is None else max_windows * window
    )
    n = len(ids) // window
    if max_windows is not None:
        n = min(n, max_windows)
    if n == 0:
        raise SpecError(f"perplexity: the text has {len(ids)} tokens, fewer than one window of {window}")
    windows = torch.tensor(ids[: n * window], dtype=torch.long).reshape(n, window)
    device = next(model.parameters()).device
    nll = 0.0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = windows[start : start + batch_size].to(device)
            logits = model(input_ids=batch, use_cache=False).logits[:, :-1].float()
            nll += float(
                F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1), reduction="sum"
                )
            )
    model.train(was_training)
    tokens = n * (window - 1)
    return PerplexityResult(math.exp(nll / tokens), nll, tokens, n, window)
