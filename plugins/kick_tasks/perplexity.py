"""perplexity: WikiText-2-style perplexity through the ModelBackend protocol.

The whole text is tokenized once (`model.encode`, no special tokens), cut into non-overlapping
windows of `seqlen` tokens (a final partial window is dropped, as in the SparseGPT/Wanda
evaluation), and scored with `model.token_nll`; perplexity = exp(sum NLL / predicted tokens),
where each window predicts its tokens 2..seqlen. The stream is one sample (window boundaries
depend on the tokenizer, so they cannot be samples fixed before a model is known); the
per-window NLLs are kept in the record. `max_windows` (or the run's `limit`) caps the windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dataset_builder import rows
from kick import ModelBackend, Prediction, Record, Sample, SpecError, build_config
from kick_tasks.common import SMOKE_DIR, CachedSamples
from kick_tasks.metrics import perplexity_from_nll


@dataclass(frozen=True)
class PerplexityConfig:
    data: str = "smoke"
    seqlen: int = 512
    max_windows: int = 0  # 0: every full window (or `limit` windows when a limit is given)
    limit: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.seqlen < 2:
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


class Perplexity(CachedSamples):
    name = "perplexity"
    judge_kind: str | None = None
    primary_metric = "perplexity"
    lower_is_better = frozenset({"perplexity", "nll_per_token"})

    def __init__(self, config: PerplexityConfig) -> None:
        self.config = config
        self.source = rows.resolve("wikitext2", config.data, smoke=SMOKE_DIR / "perplexity.txt")

    def text(self) -> str:
        got = rows.read("wikitext2", self.source, "test")
        self.source = got.source
        return "".join(str(r["text"]) for r in got.rows)  # each row is one line with its "\n"

    def samples(self) -> list[Sample]:
        # an empty text has no sample (kick refuses the task), not a perplexity over nothing
        return self._cached(
            lambda: (
                [Sample("stream", "", None, meta={"chars": len(self.text())})] if self.text().strip() else []
            )
        )

    def settings(self) -> Mapping[str, Any]:
        self.samples()
        return {
            "source": self.source.as_dict(),
            "seqlen": self.config.seqlen,
            "max_windows": self.config.window_cap,
            "windows": "non-overlapping full windows of the whole text (CRLF -> LF), no special tokens",
            "formula": "exp(sum NLL / predicted tokens); a window predicts tokens 2..seqlen",
        }

    def predict(self, model: ModelBackend, samples: Sequence[Sample], *, batch_size: int) -> list[Prediction]:
        out = []
        for s in samples:
            seqlen = min(self.config.seqlen, model.context_length)
            wins = windows(model.encode(self.text()), seqlen, self.config.window_cap)
            if not wins:
                out.append(Prediction(s.id, "", error=f"text shorter than one window of {seqlen} tokens"))
                continue
            res = model.token_nll(wins, batch_size=batch_size)
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
