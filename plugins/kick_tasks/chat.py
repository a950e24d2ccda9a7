"""Chat prompts for the tasks that answer in a conversation (summarization, instruction-following,
mt-bench), and how many tokens such a prompt takes, so a prompt that does not fit is never cut at
its start by the backend.

`chat_template` (a task parameter):
  - `model` (default): the model's own chat template (`generate(..., chat=True)`);
  - `vicuna_v1.1`: FastChat's Vicuna v1.1 conversation, built in (the paper's models):
    `{system} USER: {q1} ASSISTANT: {a1}</s>USER: {q2} ASSISTANT:`;
  - a path to a Jinja chat-template file in the Hugging Face format (rendered with `messages`,
    `add_generation_prompt=True`, `bos_token=""`: the backend adds BOS when it tokenizes; the
    model's `eos_token` when it has a tokenizer).
With a built-in or file template the conversation is rendered here and sent as a plain prompt,
so a model without a chat template of its own can run the judged tasks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kick import ProgressFn, SpecError, progress_kwargs
from kick_tasks.common import Decoding, prompt_tokens

VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
BUILTIN = ("vicuna_v1.1",)


def vicuna_v11(turns: Sequence[str]) -> str:
    """FastChat's `vicuna_v1.1` prompt (separators " " after a user turn, "</s>" after an
    assistant turn), ending with the assistant's role for the answer to come."""
    out = VICUNA_SYSTEM + " "
    for i, text in enumerate(turns):
        out += ("USER: " + text + " ") if i % 2 == 0 else ("ASSISTANT: " + text + "</s>")
    return out + "ASSISTANT:"


def messages(turns: Sequence[str]) -> list[dict[str, str]]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]


@dataclass(frozen=True)
class ChatFormat:
    """The `chat_template` parameter, resolved: `model`, a built-in name, or a template file."""

    name: str
    source: str | None = None  # the Jinja text of a file template

    @classmethod
    def parse(cls, value: str) -> ChatFormat:
        if value in ("model", *BUILTIN):
            return cls(value)
        path = Path(value).expanduser()
        if not path.is_file():
            raise SpecError(
                f"chat_template {value!r}: not 'model', a built-in ({', '.join(BUILTIN)}) or a template file"
            )
        try:
            return cls(str(path), path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            raise SpecError(f"chat_template {value!r}: cannot read it ({e})") from None

    @property
    def own(self) -> bool:
        """Whether the model's own template is used (the backend renders the conversation)."""
        return self.name == "model"

    def as_dict(self) -> dict[str, Any]:
        if self.source is not None:
            return {"file": self.name, "sha256": hashlib.sha256(self.source.encode()).hexdigest()}
        return {"name": self.name}

    def render(self, model: Any, turns: Sequence[str]) -> str:
        """The conversation as one plain prompt (not for `model`)."""
        if self.name == "vicuna_v1.1":
            return vicuna_v11(turns)
        if self.source is None:
            raise ValueError("the model's own template is rendered by the backend")
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        tok = getattr(model, "tokenizer", None)
        eos = str(getattr(tok, "eos_token", "") or "")

        def raise_exception(msg: str) -> None:
            raise SpecError(f"chat_template {self.name}: {msg}")

        env.globals["raise_exception"] = raise_exception
        try:
            tpl = env.from_string(self.source)
            return str(
                tpl.render(messages=messages(turns), add_generation_prompt=True, bos_token="", eos_token=eos)
            )
        except SpecError:
            raise
        except Exception as e:  # noqa: BLE001 - a broken user template is bad input
            raise SpecError(
                f"chat_template {self.name}: cannot render it ({type(e).__name__}: {e})"
            ) from None

    def tokens(self, model: Any, turns: Sequence[str]) -> int | None:
        """Tokens the prompt for `turns` takes, as the backend will feed it; None when it cannot
        be known (the model's own template on a backend without a tokenizer)."""
        if not self.own:
            return prompt_tokens(model, self.render(model, turns))
        tok = getattr(model, "tokenizer", None)
        if tok is None or getattr(tok, "chat_template", None) is None:
            return None
        out = tok.apply_chat_template(messages(turns), add_generation_prompt=True, tokenize=True)
        if isinstance(out, dict) or hasattr(out, "keys"):
            out = out["input_ids"]
        return len(out)

    def generate(
        self,
        model: Any,
        conversations: Sequence[Sequence[str]],
        decoding: Decoding,
        batch_size: int,
        progress: ProgressFn | None = None,
    ) -> list[str]:
        """The model's answers; `progress` is passed on when the backend reports progress."""
        kw = {"batch_size": batch_size, **decoding.kwargs(), **progress_kwargs(model, progress)}
        if self.own:
            prompts: list[Any] = [list(c) for c in conversations]
            return list(model.generate(prompts, chat=True, **kw))
        rendered = [self.render(model, c) for c in conversations]
        return list(model.generate(rendered, **kw))
