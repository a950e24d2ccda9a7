"""Greedy decoding with continuous batching: a finished row leaves the batch at once and the next
prompt takes its place, so a batch never idles waiting for its longest answer.

Each row keeps its own left padding, attention mask and explicit position ids, so every row sees
exactly what it would see decoded alone (the KV caches of newly admitted rows are left-padded and
merged into the running batch). Used only for plain greedy decoding on models whose cache is a
plain per-layer key/value cache; everything else goes through `transformers`' `generate`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

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


def _merge(into: Any, new: Any) -> None:
    """Append the rows of cache `new` to cache `into`, left-padding the shorter along time."""
    for a, b in zip(into.layers, new.layers, strict=True):
        t = max(a.keys.shape[-2], b.keys.shape[-2])
        pads = []
        for x in (a, b):
            extra = t - x.keys.shape[-2]
            pads.append((F.pad(x.keys, (0, 0, extra, 0)), F.pad(x.values, (0, 0, extra, 0))))
        a.keys = torch.cat([pads[0][0], pads[1][0]], dim=0)
        a.values = torch.cat([pads[0][1], pads[1][1]], dim=0)


def _select(cache: Any, keep: torch.Tensor, start: int) -> None:
    """Keep rows `keep` and drop the first `start` time steps (padding in every kept row)."""
    for layer in cache.layers:
        layer.keys = layer.keys[keep, :, start:, :]
        layer.values = layer.values[keep, :, start:, :]


class ContinuousGreedy:
    def __init__(self, module: Any, pad_id: int, cache_arg: str) -> None:
        self.module = module
        self.pad_id = pad_id
        self.cache_arg = cache_arg

    def _prefill(
        self, prompts: Sequence[Sequence[int]], device: torch.device
    ) -> tuple[Any, torch.Tensor, torch.Tensor]:
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, p in enumerate(prompts):
            ids[i, width - len(p) :] = torch.tensor(list(p), dtype=torch.long)
            mask[i, width - len(p) :] = 1
        ids, mask = ids.to(device), mask.to(device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.module(
            input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1
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
    ) -> list[list[int]] | None:
        """Generated token ids per prompt (stop token included), or None if unsupported."""
        device = next(self.module.parameters()).device
        queue = deque(sorted(range(len(prompts)), key=lambda i: -len(prompts[i])))
        out: list[list[int]] = [[] for _ in prompts]
        rows: list[int] = []  # prompt index of each batch row
        cache: Any = None
        mask = torch.zeros((0, 0), dtype=torch.long, device=device)
        nxt = torch.zeros((0,), dtype=torch.long, device=device)
        while queue or rows:
            free = batch_size - len(rows)
            if queue and (free >= max(1, (3 * batch_size) // 4) or not rows):
                new = [queue.popleft() for _ in range(min(free, len(queue)))]
                c, m, first = self._prefill([prompts[i] for i in new], device)
                if not _plain_layers(c):
                    return None
                if cache is None:
                    cache, mask, nxt = c, m, first
                else:
                    _merge(cache, c)
                    t = max(mask.shape[1], m.shape[1])
                    mask = torch.cat([F.pad(mask, (t - mask.shape[1], 0)), F.pad(m, (t - m.shape[1], 0))])
                    nxt = torch.cat([nxt, first])
                rows += new
            # record this step's tokens; drop finished rows
            toks = nxt.tolist()
            alive = []
            for r, (i, tok) in enumerate(zip(rows, toks, strict=True)):
                out[i].append(tok)
                if tok not in stop_ids and len(out[i]) < max_new_tokens:
                    alive.append(r)
            if len(alive) < len(rows):
                if not alive:
                    rows, cache = [], None
                    mask = torch.zeros((0, 0), dtype=torch.long, device=device)
                    continue
                keep = torch.tensor(alive, device=device)
                kept_mask = mask[keep]
                start = int((kept_mask.sum(0) > 0).nonzero()[0])
                _select(cache, keep, start)
                mask, nxt = kept_mask[:, start:], nxt[keep]
                rows = [rows[r] for r in alive]
            # one decode step for every live row
            pos = mask.sum(-1, keepdim=True)
            mask = torch.cat([mask, torch.ones((len(rows), 1), dtype=torch.long, device=device)], dim=1)
            logits = self.module(
                input_ids=nxt[:, None],
                attention_mask=mask,
                position_ids=pos,
                use_cache=True,
                **{self.cache_arg: cache},
            ).logits[:, -1, :]
            nxt = logits.argmax(-1)
        return out
