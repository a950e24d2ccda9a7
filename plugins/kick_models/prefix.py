"""Choice scoring with a shared prefix computed once (KV cache), then only each prompt's tokens.

The k-shot prefix of an MMLU subject is identical for every question; running it once and
reusing its keys/values makes each question cost only its own tokens.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch


class PrefixScorer:
    """Scores `prefix + prompt` for many prompts, running their shared leading tokens once.

    Every text is tokenized whole (exactly as without the cache); the longest run of leading
    tokens common to all of them is computed once and its keys/values reused, so the result
    equals plain scoring even when a token straddles the prefix/prompt boundary.
    """

    def __init__(self, model: Any, prefix: str) -> None:
        self._model = model
        self._prefix = prefix

    @torch.inference_mode()
    def choice_logprobs(
        self, prompts: Sequence[str], choice_ids: Sequence[int], *, batch_size: int
    ) -> list[list[float]]:
        tok = self._model.tokenizer
        module = self._model.module
        device = self._model.device
        full = [list(tok(self._prefix + x, add_special_tokens=True)["input_ids"]) for x in prompts]
        if not full:
            return []
        p = _common_prefix_len(full)
        shared = torch.tensor([full[0][:p]], device=device)
        # only the keys/values of the shared run are needed: skip its vocabulary projection
        out = module(input_ids=shared, use_cache=True, **_keep_last_logit(module))
        base = getattr(out, "cache", None) or out.past_key_values
        suffixes = [ids[p:] for ids in full]
        cids = list(choice_ids)
        results: list[list[float]] = [[] for _ in prompts]
        # longest suffixes first so each batch pads to similar lengths (results keep input order)
        order = sorted(range(len(suffixes)), key=lambda i: -len(suffixes[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(suffixes[i]) for i in idx)
            ids = torch.full((len(idx), width), tok.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(idx), p + width), dtype=torch.long)
            mask[:, :p] = 1
            for row, i in enumerate(idx):
                s = suffixes[i]
                ids[row, : len(s)] = torch.tensor(s, dtype=torch.long)
                mask[row, p : p + len(s)] = 1
            cache = copy.deepcopy(base)
            if len(idx) > 1:
                cache.batch_repeat_interleave(len(idx))
            # project to the vocabulary only at each row's last real token
            last = [len(suffixes[i]) - 1 for i in idx]
            keep = sorted(set(last))
            kwargs: dict[str, Any] = {_cache_arg(module): cache}
            keep_arg = _keep_arg(module)
            if keep_arg:
                kwargs[keep_arg] = torch.tensor(keep, device=device)
            logits = module(input_ids=ids.to(device), attention_mask=mask.to(device), **kwargs).logits.float()
            for row, i in enumerate(idx):
                col = keep.index(last[row]) if keep_arg else last[row]
                lp = torch.log_softmax(logits[row, col], dim=-1)[cids]
                results[i] = [float(x) for x in lp]
        return results


def _common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest common leading run, leaving every sequence at least one token."""
    limit = min(len(s) for s in seqs) - 1
    n = 0
    first = seqs[0]
    while n < limit and all(s[n] == first[n] for s in seqs):
        n += 1
    return n


def _cache_arg(module: Any) -> str:
    """transformers 5 names the cache argument `cache`; 4.x calls it `past_key_values`."""
    import inspect

    params = inspect.signature(module.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _keep_arg(module: Any) -> str | None:
    """The name of the "compute logits only at these positions" argument, when supported
    (`logits_to_keep` in transformers >= 4.50, `num_logits_to_keep` before)."""
    import inspect

    params = inspect.signature(module.forward).parameters
    for name in ("logits_to_keep", "num_logits_to_keep"):
        if name in params:
            return name
    return None


def _keep_last_logit(module: Any) -> dict[str, int]:
    name = _keep_arg(module)
    return {name: 1} if name else {}
