"""Continuation scoring with a shared prefix computed once (KV cache), then only each row's own tokens.

A request is a context's token ids and, per choice, its continuation ids. When every continuation
is one token (MMLU's " A" .. " D"), one row per context is run and each choice is read at its last
position; otherwise each choice gets its own row `context + continuation[:-1]`. The leading tokens
common to every row (an MMLU subject's k-shot header) are run once and their keys/values reused,
so each question costs only its own tokens. Every text is tokenized whole, exactly as without
the cache, so the result equals plain scoring even when a token straddles the prefix/prompt
boundary.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Row:
    """Tokens to run, and per choice the (position, target token) pairs whose log-probs it sums."""

    request: int
    tokens: list[int]
    reads: list[tuple[int, list[tuple[int, int]]]]  # (choice, [(position, target), ...])


def rows_for(requests: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]]) -> list[Row]:
    rows: list[Row] = []
    for r, (ctx, conts) in enumerate(requests):
        last = len(ctx) - 1
        if all(len(c) == 1 for c in conts):
            rows.append(Row(r, list(ctx), [(j, [(last, c[0])]) for j, c in enumerate(conts)]))
            continue
        for j, c in enumerate(conts):
            toks = list(ctx) + list(c[:-1])
            rows.append(Row(r, toks, [(j, [(last + t, c[t]) for t in range(len(c))])]))
    return rows


@torch.inference_mode()
def score_rows(
    model: Any,
    rows: Sequence[Row],
    n_requests: int,
    n_choices: int,
    *,
    batch_size: int,
    scored: Callable[[int], None] | None = None,
) -> list[list[float]]:
    """Summed log-probabilities, [request][choice]; `scored` is told how many rows each batch scored."""
    results = [[0.0] * n_choices for _ in range(n_requests)]
    if not rows:
        return results
    module, device = model.module, model.device
    first_read = min(pos for row in rows for _, reads in row.reads for pos, _ in reads)
    p = min(_common_prefix_len([row.tokens for row in rows]), first_read)
    base = None
    if p > 0:
        shared = torch.tensor([rows[0].tokens[:p]], device=device)
        # only the keys/values of the shared run are needed: skip its vocabulary projection
        # an explicit Cache object: transformers 4.x would otherwise return legacy tuples
        from transformers import DynamicCache

        kw = {_cache_arg(module): DynamicCache(), **_keep_last_logit(module)}
        out = module(input_ids=shared, use_cache=True, **kw)
        base = getattr(out, "cache", None) or out.past_key_values
    pad = model.tokenizer.pad_token_id
    keep_arg = _keep_arg(module)
    # longest rows first so each batch pads to similar lengths (results keep input order)
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i].tokens))
    for start in range(0, len(order), batch_size):
        batch = [rows[i] for i in order[start : start + batch_size]]
        width = max(len(r.tokens) for r in batch) - p
        # a row is [shared prefix | padding | own tokens]: every row ends at the last column, so the
        # positions read are the last few columns for all rows; explicit position ids count real
        # tokens only, so each row computes what it would unpadded
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        pos_ids = torch.full((len(batch), width), p, dtype=torch.long)
        mask = torch.zeros((len(batch), p + width), dtype=torch.long)
        mask[:, :p] = 1
        for b, r in enumerate(batch):
            own = r.tokens[p:]
            ids[b, width - len(own) :] = torch.tensor(own, dtype=torch.long)
            pos_ids[b, width - len(own) :] = torch.arange(p, p + len(own))
            mask[b, p + width - len(own) :] = 1
        kwargs: dict[str, Any] = {"position_ids": pos_ids.to(device)}
        if base is not None:
            cache = copy.deepcopy(base)
            if len(batch) > 1:
                cache.batch_repeat_interleave(len(batch))
            kwargs[_cache_arg(module)] = cache
        # project to the vocabulary only over the last `keep` columns, where every read lies
        back = [[(len(r.tokens) - 1 - pos, t) for pos, t in reads] for r in batch for _, reads in r.reads]
        keep = 1 + max(k for reads in back for k, _ in reads)
        if keep_arg:
            kwargs[keep_arg] = keep
        logits = module(input_ids=ids.to(device), attention_mask=mask.to(device), **kwargs).logits
        logits = logits[:, -keep:]
        for b, r in enumerate(batch):
            ends = sorted({len(r.tokens) - 1 - pos for _, reads in r.reads for pos, _ in reads})
            logp = torch.log_softmax(logits[b, [keep - 1 - k for k in ends]].float(), dim=-1)
            at = {k: i for i, k in enumerate(ends)}
            for j, reads in r.reads:
                results[r.request][j] = float(
                    sum(float(logp[at[len(r.tokens) - 1 - pos], t]) for pos, t in reads)
                )
        if scored is not None:
            scored(len(batch))
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
