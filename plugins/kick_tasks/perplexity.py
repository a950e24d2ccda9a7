"""perplexity: WikiText-2-style perplexity through the ModelBackend protocol.

`protocol=kick` (default) makes its own choices, which are *not* the published protocol: the text
is the test file's lines as they are (CRLF -> LF), concatenated, tokenized once without special
tokens (`model.encode`: no BOS), cut into non-overlapping windows of `seqlen` = 512 tokens (capped
by the context; a final partial window is dropped) so that small models and CPUs can run it.

`protocol=paper` is the released `lib/eval.py` (Wanda/SparseGPT's evaluation): the HF
`wikitext-2-raw-v1` test rows (each line with its "\n", a blank line an empty row) joined with
"\n\n", tokenized once with the tokenizer's special tokens (BOS for Llama), windows of the
model's sequence length (`seqlen` unset: the model's context, 2,048 for the paper's models),
`nsamples = tokens // seqlen`, and the published rule exp(sum over windows of mean loss x seqlen /
(nsamples x seqlen)). The shared WikiText-2 copy has its blank lines removed, so there the empty
rows cannot be restored (the settings count them); from the original `wiki.test.raw` the rows are
exact.

Both score windows with `model.token_nll`; each window predicts its tokens 2..seqlen, and with
equal windows the paper's mean of window means equals exp(sum NLL / predicted tokens), which is
what is computed. The stream is one sample (window boundaries depend on the tokenizer); the
per-window NLLs are kept in the record. `max_windows` (or the run's `limit`) keeps the first
windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dataset_builder import rows
from kick import (
    ModelBackend,
    Prediction,
    ProgressFn,
    Record,
    Sample,
    SpecError,
    build_config,
    progress_kwargs,
    scaled,
)
from kick_tasks.common import PROTOCOL_NOTE, SMOKE_DIR, CachedSamples, Protocol
from kick_tasks.metrics import perplexity_from_nll

KICK_SEQLEN = 512


@dataclass(frozen=True)
class PerplexityConfig:
    data: str = "smoke"
    protocol: Protocol = "kick"
    seqlen: int | None = None  # None: kick 512; paper the model's context length
    max_windows: int = 0  # 0: every full window (or `limit` windows when a limit is given)
    limit: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.seqlen is not None and self.seqlen < 2:
            raise SpecError(f"perplexity: seqlen must be at least 2, got {self.seqlen}")
        if self.max_windows < 0 or (self.limit is not None and self.limit < 1):
            raise SpecError("perplexity: max_windows must be >= 0 and limit >= 1")

    @property
    def window_cap(self) -> int | None:
        return self.max_windows or self.limit or None


def windows(ids: Sequence[int], seqlen: int, cap: int | None = None) -> list[list[int]]:
    """Non-overlapping full windows of `seqlen` tokens, at most `cap` of them."""
    n = len(ids) // seqlen
    if cap is not None:
        n = min(n, cap)
    return [list(ids[i * seqlen : (i + 1) * seqlen]) for i in range(n)]


def paper_text(lines: Sequence[str]) -> str:
    """The HF WikiText rows (a blank line is an empty row) joined with "\\n\\n", as released."""
    return "\n\n".join(line if line.strip() else "" for line in lines)


class Perplexity(CachedSamples):
    reports_progress = True  # predict takes progress= (kick.batch_progress)
    name = "perplexity"
    judge_kind: str | None = None
    primary_metric = "perplexity"
    lower_is_better = frozenset({"perplexity", "nll_per_token"})

    def __init__(self, config: PerplexityConfig) -> None:
        self.config = config
        self.paper = config.protocol == "paper"
        self.source = rows.resolve("wikitext2", config.data, smoke=SMOKE_DIR / "perplexity.txt")
        self.empty_rows = 0

    def text(self) -> str:
        got = rows.read("wikitext2", self.source, "test")
        self.source = got.source
        lines = [str(r["text"]) for r in got.rows]  # each row is one line with its "\n"
        if self.paper:
            self.empty_rows = sum(1 for line in lines if not line.strip())
            return paper_text(lines)
        return "".join(lines)

    def samples(self) -> list[Sample]:
        # an empty text has no sample (kick refuses the task), not a perplexity over nothing
        return self._cached(
            lambda: (
                [Sample("stream", "", None, meta={"chars": len(self.text())})] if self.text().strip() else []
            )
        )

    def settings(self) -> Mapping[str, Any]:
        self.samples()
        paper = {
            "text": 'HF rows (line + "\\n", blank line -> "") joined with "\\n\\n"',
            "empty_rows": self.empty_rows,
            "tokens": "the tokenizer's special tokens included (BOS for Llama)",
            "formula": "exp(sum_windows mean_loss x seqlen / (nsamples x seqlen)), nsamples = tokens // seqlen",
        }
        kick = {
            "windows": "non-overlapping full windows of the whole text (CRLF -> LF), no special tokens",
            "formula": "exp(sum NLL / predicted tokens); a window predicts tokens 2..seqlen",
        }
        return {
            "protocol": self.config.protocol,
            "protocol_note": PROTOCOL_NOTE[self.config.protocol],
            "source": self.source.as_dict(),
            "seqlen": self.config.seqlen or ("model context length" if self.paper else KICK_SEQLEN),
            "max_windows": self.config.window_cap,
            **(paper if self.paper else kick),
        }

    def seqlen(self, model: ModelBackend) -> int:
        if self.config.seqlen is not None:
            return min(self.config.seqlen, model.context_length)
        return model.context_length if self.paper else min(KICK_SEQLEN, model.context_length)

    def tokens(self, model: ModelBackend, text: str) -> list[int]:
        """kick: `model.encode` (no special tokens); paper: the tokenizer's default call."""
        tok = getattr(model, "tokenizer", None)
        if self.paper and tok is not None and callable(tok):
            return list(tok(text)["input_ids"])
        return list(model.encode(text))

    def predict(
        self,
        model: ModelBackend,
        samples: Sequence[Sample],
        *,
        batch_size: int,
        progress: ProgressFn | None = None,
    ) -> list[Prediction]:
        out = []
        for s in samples:
            seqlen = self.seqlen(model)
            wins = windows(self.tokens(model, self.text()), seqlen, self.config.window_cap)
            if not wins:
                out.append(Prediction(s.id, "", error=f"text shorter than one window of {seqlen} tokens"))
                continue
            # one sample is many windows: progress moves by a fraction of it per batch of windows
            res = model.token_nll(
                wins, batch_size=batch_size, **progress_kwargs(model, scaled(progress, 1 / len(wins)))
            )
            nll, n = sum(r[0] for r in res), sum(r[1] for r in res)
            out.append(
                Prediction(
                    s.id,
                    f"{perplexity_from_nll(nll, n):.4f}",
                    {
                        "nll_sum": nll,
                        "tokens": n,
                        "windows": len(wins),
                        "seqlen": seqlen,
                        "window_nll": [r[0] for r in res],
                    },
                )
            )
        return out

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        nll, n = float(prediction.extra["nll_sum"]), int(prediction.extra["tokens"])
        return {"perplexity": perplexity_from_nll(nll, n), "nll_per_token": nll / n}

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        nll = sum(float(r.extra.get("nll_sum", 0.0)) for r in records)
        n = sum(int(r.extra.get("tokens", 0)) for r in records)
        if n == 0:
            return {}
        return {
            "perplexity": perplexity_from_nll(nll, n),
            "nll_per_token": nll / n,
            "tokens": n,
            "windows": sum(int(r.extra.get("windows", 0)) for r in records),
        }


def make_perplexity(**params: Any) -> Perplexity:
    return Perplexity(build_config(PerplexityConfig, params, owner="task perplexity"))
