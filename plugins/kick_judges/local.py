"""A judge model run in-process: any model kick can load (`kick.plugins.load_model`), no server.

Weak with a tiny model, but it keeps the whole judged pipeline runnable offline. The model is
loaded on the first request; requests are served one at a time (one model, one lock).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from kick_judges.transport import Completion, RequestBudget


def chat_turns(messages: Sequence[Mapping[str, str]]) -> list[str]:
    """OpenAI-style messages as alternating user/assistant turns (a system prompt is put in
    front of the first user turn, since kick backends take turns starting with a user turn)."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    turns: list[str] = []
    for m in messages:
        if m["role"] == "system":
            continue
        if not turns and system:
            turns.append(f"{system}\n\n{m['content']}")
        else:
            turns.append(m["content"])
    return turns


class LocalHFBackend:
    def __init__(self, *, model: str, device: str, dtype: str, budget: RequestBudget) -> None:
        self.model = model
        self.model_id = f"local-hf:{model}:{dtype}"
        self._device = device
        self._dtype = dtype
        self._budget = budget
        self._backend: Any = None
        self._lock = threading.Lock()

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "backend": "local-hf",
            "model": self.model,
            "device": self._device,
            "dtype": self._dtype,
        }
        if self._backend is not None:
            out["model_info"] = dict(self._backend.info())
        return out

    def _load(self) -> Any:
        if self._backend is None:
            from kick import ModelSpec, load_model, load_plugins

            spec = ModelSpec(name=self.model, dtype=self._dtype, device=self._device)
            self._backend = load_model(spec, load_plugins())
        return self._backend

    def complete(
        self, messages: Sequence[Mapping[str, str]], *, max_tokens: int, temperature: float
    ) -> Completion:
        self._budget.take()
        with self._lock:
            model = self._load()
            turns = chat_turns(messages)
            text = model.generate(
                [turns],
                max_new_tokens=max_tokens,
                chat=True,
                batch_size=1,
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else 1.0,
            )[0]
            prompt_tokens = sum(model.count_tokens(t) for t in turns)
            return Completion(
                text=text, prompt_tokens=prompt_tokens, completion_tokens=model.count_tokens(text)
            )
