"""The `hf` backend: any transformers causal LM, batched generation and scoring."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch

from kick import ModelLoadError, ModelSpec, ProgressFn, SpecError, Ticker

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def _dtype_arg() -> str:
    """`from_pretrained` takes `dtype` from transformers 4.56 on, `torch_dtype` before."""
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


# the most bytes of float32 logits (and their log-softmax) one scoring pass may hold: 8 perplexity
# windows of 512 tokens over a 49,152-token vocabulary are 0.8 GB of logits and 0.8 GB more of
# log-probabilities (a 3.4 GB peak for a 135M model); passes take fewer rows instead
LOGITS_BUDGET = 512 * 2**20


def _chunks(n: int, size: int) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def resolve(spec: ModelSpec) -> tuple[str, Any, dict[str, Any]]:
    """The folder or Hub id `spec` names, its config, and the loading keywords (checked)."""
    from transformers import AutoConfig

    if spec.dtype not in _DTYPES:
        raise SpecError(f"model dtype {spec.dtype!r} is not one of {', '.join(_DTYPES)}")
    path = spec.name
    looks_local = (
        path.startswith((".", "/", "~")) or os.path.sep in path and os.path.exists(path.split(os.path.sep)[0])
    )
    if looks_local or os.path.isdir(path):
        path = os.path.expanduser(path)
        if not os.path.isdir(path):
            raise ModelLoadError(f"model folder {spec.name!r} does not exist")
        if not os.path.isfile(os.path.join(path, "config.json")):
            raise ModelLoadError(f"model folder {spec.name!r} has no config.json: not a transformers model")
    if os.path.isdir(path) and not getattr(spec, "allow_pickle", False):
        names = os.listdir(path)
        if not any(n.endswith(".safetensors") for n in names) and any(n.endswith(".bin") for n in names):
            raise ModelLoadError(
                f"model folder {spec.name!r} holds a pickle checkpoint (.bin), which can run code when "
                "loaded: pass --allow-pickle if you trust it (or convert it to safetensors)"
            )
    kw: dict[str, Any] = {"revision": spec.revision, "trust_remote_code": spec.trust_remote_code}
    try:
        config = AutoConfig.from_pretrained(path, **kw)
    except OSError as e:
        raise ModelLoadError(f"cannot load model {spec.name!r}: {str(e).splitlines()[0]}") from None
    except ValueError as e:
        raise ModelLoadError(f"cannot load model {spec.name!r}: {str(e).splitlines()[0]}") from None
    return path, config, kw


def provenance(
    spec: ModelSpec, config: Any, module: Any, source: Mapping[str, Any] | None, **extra: Any
) -> dict[str, Any]:
    """What a summary records of a loaded transformers model (`source`: where its weights came from)."""
    prov = {
        "id": spec.name,
        "revision": spec.revision or getattr(config, "_commit_hash", None),
        "architecture": (config.architectures or [type(module).__name__])[0],
        "dtype": spec.dtype,
        "device": spec.device,
        "parameters": sum(p.numel() for p in module.parameters()),
        **extra,
    }
    if source:
        prov["source"] = dict(source)
    return prov


class HFModel:
    """A transformers causal LM with a tokenizer; implements `CompressibleModel`, and tells
    `progress` per batch of generation and scoring (`kick.batch_progress`)."""

    reports_progress = True

    def __init__(self, module: Any, tokenizer: Any, *, name: str, provenance: Mapping[str, Any]) -> None:
        self._module = module
        self._tok = tokenizer
        self.name = name
        self._provenance = dict(provenance)
        if self._tok.pad_token_id is None:
            self._tok.pad_token = self._tok.eos_token
        self._tok.padding_side = "left"
        self._eos_ids = self._collect_eos_ids()
        self._newline_ids: set[int] | None = None

    # ---- loading -------------------------------------------------------------------------
    @classmethod
    def load(cls, spec: ModelSpec, *, source: Mapping[str, Any] | None = None) -> HFModel:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path, config, kw = resolve(spec)
        args = dict(getattr(spec, "args", None) or {})  # --model-arg: the user's keywords win
        try:
            module = AutoModelForCausalLM.from_pretrained(
                path, **{"config": config, _dtype_arg(): _DTYPES[spec.dtype], **kw,
                         "use_safetensors": None if getattr(spec, "allow_pickle", False) else True, **args},
            )  # fmt: skip
            tokenizer = AutoTokenizer.from_pretrained(path, **kw)
        except ValueError as e:
            raise ModelLoadError(
                f"{spec.name!r} is not a causal language model: {str(e).splitlines()[0]}"
            ) from None
        except OSError as e:
            raise ModelLoadError(f"cannot load model {spec.name!r}: {str(e).splitlines()[0]}") from None
        except TypeError as e:  # a --model-arg this model's class does not take
            raise ModelLoadError(f"cannot load model {spec.name!r} with --model-arg {args}: {e}") from None
        try:
            if "device_map" not in args:  # with a device_map, accelerate has placed the weights
                module.to(spec.device)
        except (RuntimeError, AssertionError) as e:
            raise ModelLoadError(f"cannot move model to device {spec.device!r}: {e}") from None
        module.eval()
        return cls(module, tokenizer, name=spec.name, provenance=provenance(spec, config, module, source))

    # ---- properties ----------------------------------------------------------------------
    @property
    def module(self) -> Any:
        return self._module

    @property
    def tokenizer(self) -> Any:
        return self._tok

    @property
    def device(self) -> torch.device:
        return next(self._module.parameters()).device

    @property
    def context_length(self) -> int:
        cfg = self._module.config
        for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            val = getattr(cfg, attr, None)
            if isinstance(val, int) and val > 0:
                return val
        return int(min(self._tok.model_max_length, 2048))

    def info(self) -> Mapping[str, Any]:
        return dict(self._provenance)

    def weight_bytes(self) -> int:
        """Bytes of the module's parameters and buffers in memory (quantized storage as stored)."""
        return weight_bytes(self._module)

    def adopt(self, other: HFModel) -> None:
        """Take `other`'s module and tokenizer in place of this model's (the `checkpoint`
        compressor: the compressed checkpoint replaces its dense reference); name and
        provenance stay this model's."""
        self._module, self._tok = other._module, other._tok
        self._eos_ids, self._newline_ids = other._eos_ids, None

    def _collect_eos_ids(self) -> list[int]:
        ids: set[int] = set()
        gen = getattr(self._module, "generation_config", None)
        for src in (getattr(gen, "eos_token_id", None), self._tok.eos_token_id):
            if isinstance(src, int):
                ids.add(src)
            elif isinstance(src, (list, tuple)):
                ids.update(int(i) for i in src)
        return sorted(ids)

    # ---- tokens --------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return list(self._tok(text, add_special_tokens=False)["input_ids"])

    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))

    def truncate(self, text: str, max_tokens: int) -> str:
        ids = self.encode(text)
        if len(ids) <= max_tokens:
            return text
        return str(self._tok.decode(ids[: max(0, max_tokens)]))

    def _prompt_ids(self, prompt: str | Sequence[str], chat: bool) -> list[int]:
        if chat:
            turns = [prompt] if isinstance(prompt, str) else list(prompt)
            messages = [
                {"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)
            ]
            if self._tok.chat_template is None:
                raise SpecError(f"model {self.name!r} has no chat template, but the task asks for one")
            out = self._tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
            if isinstance(out, Mapping):
                out = out["input_ids"]
            return list(out)
        if not isinstance(prompt, str):
            raise SpecError("a multi-turn prompt needs chat=True")
        ids = self._tok(prompt, add_special_tokens=True)["input_ids"]
        return list(ids)

    def _left_pad(self, seqs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(s) for s in seqs)
        pad = self._tok.pad_token_id
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            if s:
                ids[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
                mask[i, width - len(s) :] = 1
        return ids.to(self.device), mask.to(self.device)

    # ---- generation ----------------------------------------------------------------------
    @torch.inference_mode()
    def generate(
        self,
        prompts: Sequence[str | Sequence[str]],
        *,
        max_new_tokens: int,
        stop_at_newline: bool = False,
        chat: bool = False,
        batch_size: int = 8,
        do_sample: bool = False,
        temperature: float = 1.0,
        seed: int = 0,
        progress: ProgressFn | None = None,
    ) -> list[str]:
        if batch_size < 1:
            raise SpecError(f"batch size must be at least 1, got {batch_size}")
        encoded = [self._prompt_ids(p, chat) for p in prompts]
        limit = self.context_length - max_new_tokens
        if limit <= 0:
            raise SpecError(
                f"max_new_tokens {max_new_tokens} leaves no room in context {self.context_length}"
            )
        encoded = [self._fit(ids, limit) for ids in encoded]
        # sort by length so batches hold similar lengths (less padding); restore order after
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        outputs: list[str] = [""] * len(encoded)
        newline_ids = self._newline_token_ids() if stop_at_newline else set()
        if not do_sample:
            # rows finish one at a time: progress is told once per batch_size of them
            ticker = Ticker(progress, len(encoded), every=batch_size)
            done = self._continuous_greedy(encoded, max_new_tokens, newline_ids, batch_size, ticker.add)
            if done is not None:
                return [self._finish(ids, stop_at_newline) for ids in done]
        ticker = Ticker(progress, len(encoded))
        for chunk in _chunks(len(order), batch_size):
            idx = [order[i] for i in chunk]
            ids, mask = self._left_pad([encoded[i] for i in idx])
            gen_kwargs: dict[str, Any] = {
                "max_new_tokens": max_new_tokens,
                "do_sample": do_sample,
                "pad_token_id": self._tok.pad_token_id,
                "eos_token_id": self._eos_ids or None,
            }
            if do_sample:
                torch.manual_seed(seed)
                gen_kwargs["temperature"] = temperature
            else:
                gen_kwargs.update({"temperature": None, "top_p": None, "top_k": None})
            if newline_ids:
                gen_kwargs["stopping_criteria"] = _newline_stopper(newline_ids, ids.shape[1])
            out = self._module.generate(input_ids=ids, attention_mask=mask, **gen_kwargs)
            new = out[:, ids.shape[1] :]
            for row, i in enumerate(idx):
                outputs[i] = self._finish(new[row].tolist(), stop_at_newline)
            ticker.add(len(idx))
        return outputs

    def _fit(self, ids: list[int], limit: int) -> list[int]:
        """A prompt longer than the context loses its middle (the content), never its start (the
        template and the instruction) nor its end (the question); each cut is counted
        (`clipped_prompts`, `clipped_tokens`: the runner reports them)."""
        if len(ids) <= limit:
            return ids
        head = min(limit // 4, 1024)
        self.clipped_prompts = getattr(self, "clipped_prompts", 0) + 1
        self.clipped_tokens = getattr(self, "clipped_tokens", 0) + len(ids) - limit
        return ids[:head] + ids[len(ids) - (limit - head) :]

    def _finish(self, ids: Sequence[int], stop_at_newline: bool) -> str:
        text = str(self._tok.decode(ids, skip_special_tokens=True))
        return text.split("\n", 1)[0] if stop_at_newline else text

    def _continuous_greedy(
        self,
        encoded: Sequence[Sequence[int]],
        max_new_tokens: int,
        newline_ids: set[int],
        batch_size: int,
        finished: Callable[[int], None],
    ) -> list[list[int]] | None:
        """Greedy decoding with continuous batching (see kick_models.greedy), or None where the
        model needs `generate` (sampling-free processors, sliding-window or non-dynamic caches)."""
        from kick_models.blockhead import blockwise_head
        from kick_models.greedy import ContinuousGreedy, supports_continuous
        from kick_models.prefix import _cache_arg, _keep_arg

        if os.environ.get("KICK_GENERATE") == "hf" or not supports_continuous(self._module):
            return None
        if _keep_arg(self._module) != "logits_to_keep":
            return None
        decoder = ContinuousGreedy(self._module, self._tok.pad_token_id, _cache_arg(self._module))
        stop = set(self._eos_ids) | newline_ids
        # the few-row vocabulary projections of batched decoding, in blocks where that is faster
        with blockwise_head(self._module):
            return decoder.run(
                encoded,
                max_new_tokens=max_new_tokens,
                stop_ids=stop,
                batch_size=batch_size,
                finished=finished,
            )

    def _newline_token_ids(self) -> set[int]:
        """Every token whose text contains a newline (computed once per model)."""
        if self._newline_ids is None:
            ids = set()
            for tok, i in self._tok.get_vocab().items():
                if "\n" in self._tok.convert_tokens_to_string([tok]):
                    ids.add(int(i))
            self._newline_ids = ids
        return self._newline_ids

    # ---- scoring -------------------------------------------------------------------------
    def continuation_request(self, context: str, choices: Sequence[str]) -> tuple[list[int], list[list[int]]]:
        """lm-evaluation-harness's split: trailing whitespace of the context moves to the
        continuations, and a choice's tokens are those of `context + choice` after those of
        `context`. Refuses choices that would be scored as the same tokens (for example " A" and
        " B" both starting with a lone "▁" under a legacy SentencePiece tokenizer)."""
        n = len(context) - len(context.rstrip())
        if n:
            context, choices = context[:-n], [context[-n:] + c for c in choices]
        ctx = list(self._tok(context, add_special_tokens=True)["input_ids"])
        conts = []
        for c in choices:
            whole = list(self._tok(context + c, add_special_tokens=True)["input_ids"])
            conts.append(whole[len(ctx) :])
            if not conts[-1]:
                raise SpecError(f"choice {c!r} adds no tokens after its context with this tokenizer")
        seen: dict[tuple[int, ...], str] = {}
        for c, ids in zip(choices, conts, strict=True):
            if tuple(ids) in seen:
                raise SpecError(
                    f"choices {seen[tuple(ids)]!r} and {c!r} both tokenize to {ids} after the context: "
                    f"model {self.name!r}'s tokenizer cannot tell them apart"
                )
            seen[tuple(ids)] = c
        return ctx, conts

    def choice_logprobs(
        self,
        prompts: Sequence[str],
        choices: Sequence[str],
        *,
        prefix: str = "",
        batch_size: int = 8,
        progress: ProgressFn | None = None,
    ) -> list[list[float]]:
        from kick_models.prefix import rows_for, score_rows

        if batch_size < 1:
            raise SpecError(f"batch size must be at least 1, got {batch_size}")
        requests = [self.continuation_request(prefix + p, choices) for p in prompts]
        rows = rows_for(requests)
        ticker = Ticker(progress, len(rows), len(prompts))
        return score_rows(self, rows, len(prompts), len(choices), batch_size=batch_size, scored=ticker.add)

    def _right_pad(self, seqs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self._tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
            mask[i, : len(s)] = 1
        return ids.to(self.device), mask.to(self.device)

    @torch.inference_mode()
    def _sum_logprobs(
        self,
        seqs: Sequence[Sequence[int]],
        starts: Sequence[int],
        batch_size: int,
        progress: ProgressFn | None = None,
    ) -> list[tuple[float, int]]:
        """Sum of log p(token_t | tokens_<t) for t in [start, len) of each sequence."""
        out: list[tuple[float, int]] = [(0.0, 0)] * len(seqs)
        if not seqs:
            return out
        ticker = Ticker(progress, len(seqs))
        vocab = int(getattr(self._module.config, "vocab_size", 0) or 0)
        per_row = 2 * 4 * max(len(s) for s in seqs) * max(vocab, 1)
        rows = max(1, min(batch_size, LOGITS_BUDGET // per_row))
        for chunk in _chunks(len(seqs), rows):
            ids, mask = self._right_pad([seqs[i] for i in chunk])
            logits = self._module(input_ids=ids, attention_mask=mask).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1)
            target = ids[:, 1:]
            tok_lp = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            for row, i in enumerate(chunk):
                n, s = len(seqs[i]), max(1, starts[i])
                out[i] = (float(tok_lp[row, s - 1 : n - 1].sum()), n - s)
            ticker.add(len(chunk))
        return out

    def loglikelihood(
        self, requests: Sequence[tuple[str, str]], *, batch_size: int = 8, progress: ProgressFn | None = None
    ) -> list[tuple[float, int]]:
        seqs, starts = [], []
        for context, continuation in requests:
            whole = self._tok(context + continuation, add_special_tokens=True)["input_ids"]
            ctx = self._tok(context, add_special_tokens=True)["input_ids"]
            start = len(ctx)
            if whole[:start] != ctx:  # the boundary merged into one token: score from there
                start = max(1, min(start, len(whole) - 1))
            seqs.append(whole[-self.context_length :])
            starts.append(max(1, start - (len(whole) - len(seqs[-1]))))
        return self._sum_logprobs(seqs, starts, batch_size, progress)

    def token_nll(
        self, windows: Sequence[Sequence[int]], *, batch_size: int = 8, progress: ProgressFn | None = None
    ) -> list[tuple[float, int]]:
        res = self._sum_logprobs(windows, [1] * len(windows), batch_size, progress)
        return [(-lp, n) for lp, n in res]

    # ---- saving --------------------------------------------------------------------------
    def save(self, path: str, *, dtype: str | None = None) -> None:
        """`save_pretrained`; with `dtype`, the model is converted to that dtype first (in
        memory too: saving is the last thing `kick compress` does with it)."""
        if dtype is not None:
            if dtype not in _DTYPES:
                raise SpecError(f"save dtype {dtype!r} is not one of {', '.join(_DTYPES)}")
            self._module.to(_DTYPES[dtype])
        self._module.save_pretrained(path)
        self._tok.save_pretrained(path)


def weight_bytes(module: Any) -> int:
    """Bytes of every parameter and buffer of `module` in memory (quantized storage as stored)."""
    tensors = {id(t): t for t in [*module.parameters(), *module.buffers()]}
    return int(sum(t.numel() * t.element_size() for t in tensors.values()))


def _newline_stopper(newline_ids: set[int], prompt_len: int) -> Any:
    from transformers import StoppingCriteria, StoppingCriteriaList

    nl = torch.tensor(sorted(newline_ids))

    class StopAtNewline(StoppingCriteria):
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
            gen = input_ids[:, prompt_len:]
            return torch.isin(gen, nl.to(gen.device)).any(dim=1)

    return StoppingCriteriaList([StopAtNewline()])
