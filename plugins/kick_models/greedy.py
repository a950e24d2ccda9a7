"""Greedy decoding with continuous batching: a finished row leaves the batch at once and the next
prompt takes its place, so a batch never idles waiting for its longest answer.

Each row keeps its own left padding, attention mask and explicit position ids, so every row sees
exactly what it would see decoded alone (the KV caches of newly admitted rows are left-padded and
merged into the running batch).

The leading tokens common to every prompt (a task's instruction, a chat template's system prompt)
are run once; each prompt's prefill then runs only its own tokens on a copy of those keys/values.
A row is laid out as `[shared prefix | padding | own tokens | generated]`; the mask hides the
padding and position ids count real tokens only, so the row is what it would be unpadded.

Used only for plain greedy decoding on models whose cache is a plain per-layer key/value cache;
everything else goes through `transformers`' `generate`.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from kick_models.prefix import _common_prefix_len

# generation-config fields that change greedy decoding; if any is set we defer to `generate`
_PROCESSORS = {
    "repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "encoder_repetition_penalty": 1.0,
    "bad_words_ids": None,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "sequence_bias": None,
    "min_length": 0,
    "min_new_tokens": None,
}


def supports_continuous(module: Any) -> bool:
    """True when greedy decoding here equals `generate`: a plain dynamic KV cache, no processors."""
    gen = getattr(module, "generation_config", None)
    for name, neutral in _PROCESSORS.items():
        value = getattr(gen, name, neutral) if gen is not None else neutral
        if value not in (neutral, None, [], 0) and not (name.endswith("penalty") and value == 1.0):
            return False
    import inspect

    if "position_ids" not in inspect.signature(module.forward).parameters:
        return False
    cfg = getattr(module, "config", None)
    if (
        getattr(cfg, "sliding_window", None)
        or getattr(cfg, "layer_types", None)
        and any(t != "full_attention" for t in cfg.layer_types)
    ):
        return False
    return True


def _cache_of(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _plain_layers(cache: Any) -> bool:
    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer).__name__ == "DynamicLayer" for layer in layers)


class ContinuousGreedy:
    def __init__(self, module: Any, pad_id: int, cache_arg: str) -> None:
        self.module = module
        self.pad_id = pad_id
        self.cache_arg = cache_arg

    def _shared_prefix(self, prompts: Sequence[Sequence[int]], device: torch.device) -> tuple[int, Any]:
        """Run the tokens every prompt starts with once: (their count, their cache) or (0, None)."""
        if len(prompts) < 2:
            return 0, None
        n = _common_prefix_len(prompts)
        if n < 1:
            return 0, None
        ids = torch.tensor([list(prompts[0][:n])], dtype=torch.long, device=device)
        out = self.module(input_ids=ids, use_cache=True, logits_to_keep=1)
        return n, _cache_of(out)

    def _prefill(
        self, prompts: Sequence[Sequence[int]], device: torch.device, shared: int = 0, base: Any = None
    ) -> tuple[Any, torch.Tensor, torch.Tensor]:
        """Prefill the prompts' own tokens (after the `shared` ones, whose cache is `base`)."""
        own = [list(p[shared:]) for p in prompts]
        width = max(len(p) for p in own)
        ids = torch.full((len(own), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(own), shared + width), dtype=torch.long)
        mask[:, :shared] = 1
        for i, p in enumerate(own):
            ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[i, shared + width - len(p) :] = 1
        ids, mask = ids.to(device), mask.to(device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)[:, shared:]
        kwargs: dict[str, Any] = {}
        if base is not None:
            cache = copy.deepcopy(base)
            if len(own) > 1:
                cache.batch_repeat_interleave(len(own))
            kwargs[self.cache_arg] = cache
        out = self.module(
            input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1, **kwargs
        )
        return _cache_of(out), mask, out.logits[:, -1, :].argmax(-1)

    @torch.inference_mode()
    def run(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        max_new_tokens: int,
        stop_ids: set[int],
        batch_size: int,
        finished: Callable[[int], None] | None = None,
    ) -> list[list[int]] | None:
        """Generated token ids per prompt (stop token included), or None if unsupported.

        The prompts' common leading tokens are run once. Prompts are prefilled `batch_size` at a
        time into a ready pool (one forward pass for many prompts), and a row from the pool joins
        the running batch as soon as a slot frees. Every free slot is filled before each step.
        `finished` is told how many prompts are done whenever some finish.
        """
        device = next(self.module.parameters()).device
        shared, base = self._shared_prefix(prompts, device)
        if base is not None and not _plain_layers(base):
            return None
        queue = deque(sorted(range(len(prompts)), key=lambda i: -len(prompts[i])))
        out: list[list[int]] = [[] for _ in prompts]
        running = _Rows.empty(device)
        pool = _Rows.empty(device)
        cache: Any = None  # the running batch's cache object (its tensors are running.kv)

        def record(rows: _Rows) -> _Rows:
            """Append each row's newest token to its output; keep only the rows still going."""
            alive = []
            for r, (i, tok) in enumerate(zip(rows.ids, rows.next.tolist(), strict=True)):
                out[i].append(tok)
                if tok not in stop_ids and len(out[i]) < max_new_tokens:
                    alive.append(r)
            if finished is not None and len(alive) < len(rows):
                finished(len(rows) - len(alive))
            return rows if len(alive) == len(rows) else rows.select(alive)

        while True:
            # fill every free slot before the step: from the pool, prefilling more when it is empty
            while len(running) < batch_size and (len(pool) or queue):
                if not len(pool):
                    new = [queue.popleft() for _ in range(min(batch_size, len(queue)))]
                    c, m, first = self._prefill([prompts[i] for i in new], device, shared, base)
                    if not _plain_layers(c):
                        return None
                    cache = cache if cache is not None else c
                    pool = record(_Rows([(layer.keys, layer.values) for layer in c.layers], m, first, new))
                    continue
                joining, pool = pool.split(min(batch_size - len(running), len(pool)))
                running = running.extend(joining)
            if not len(running):
                break
            # one decode step for every live row
            for layer, (k, v) in zip(cache.layers, running.kv, strict=True):
                layer.keys, layer.values = k, v
            pos = running.mask.sum(-1, keepdim=True)
            mask = torch.cat([running.mask, running.mask.new_ones((len(running), 1))], dim=1)
            logits = self.module(
                input_ids=running.next[:, None],
                attention_mask=mask,
                position_ids=pos,
                use_cache=True,
                **{self.cache_arg: cache},
            ).logits[:, -1, :]
            kv = [(layer.keys, layer.values) for layer in cache.layers]
            running = record(_Rows(kv, mask, logits.argmax(-1), running.ids))
        return out


class _Rows:
    """A set of decoding rows: per-layer keys/values [B, H, T, D], left-padded mask [B, T], the
    next token of each row, and which prompt each row is."""

    def __init__(
        self,
        kv: list[tuple[torch.Tensor, torch.Tensor]],
        mask: torch.Tensor,
        nxt: torch.Tensor,
        ids: list[int],
    ) -> None:
        self.kv, self.mask, self.next, self.ids = kv, mask, nxt, ids

    @classmethod
    def empty(cls, device: torch.device) -> _Rows:
        return cls(
            [],
            torch.zeros((0, 0), dtype=torch.long, device=device),
            torch.zeros((0,), dtype=torch.long, device=device),
            [],
        )

    def __len__(self) -> int:
        return len(self.ids)

    def select(self, rows: Sequence[int]) -> _Rows:
        """Keep `rows`, dropping time steps that are padding in every kept row."""
        if not rows:
            return _Rows.empty(self.mask.device)
        keep = torch.tensor(list(rows), device=self.mask.device)
        mask = self.mask[keep]
        start = int((mask.sum(0) > 0).nonzero()[0])
        kv = [(k[keep, :, start:], v[keep, :, start:]) for k, v in self.kv]
        return _Rows(kv, mask[:, start:], self.next[keep], [self.ids[r] for r in rows])

    def split(self, n: int) -> tuple[_Rows, _Rows]:
        return self.select(range(n)), self.select(range(n, len(self)))

    def extend(self, other: _Rows) -> _Rows:
        """Append `other`'s rows, left-padding the shorter side along time."""
        if not len(self):
            return other
        t = max(self.mask.shape[1], other.mask.shape[1])

        def pad(x: torch.Tensor, width: int) -> torch.Tensor:
            return F.pad(x, (0, 0, t - width, 0))

        ta, tb = self.mask.shape[1], other.mask.shape[1]
        kv = [
            (torch.cat([pad(ka, ta), pad(kb, tb)]), torch.cat([pad(va, ta), pad(vb, tb)]))
            for (ka, va), (kb, vb) in zip(self.kv, other.kv, strict=True)
        ]
        mask = torch.cat([F.pad(self.mask, (t - ta, 0)), F.pad(other.mask, (t - tb, 0))])
        return _Rows(kv, mask, torch.cat([self.next, other.next]), self.ids + other.ids)
