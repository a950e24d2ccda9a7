"""mmlu: the 57 MMLU subjects, k-shot from each subject's dev split.

Protocols (task parameter `protocol`):
  - `kick` (default): lm-evaluation-harness's MMLU prompt,
    `The following are multiple choice questions (with answers) about {subject}.\n\n`, then k dev
    shots `{q}\nA. ..\nB. ..\nC. ..\nD. ..\nAnswer: {X}` joined by `\n\n`, then `\n\n` and the
    test question ending in `Answer:`; every question (shots too) stripped of outer whitespace,
    as lm-eval's `question.strip()` does. Scored by log-probabilities (`mode = "logits"`).
  - `paper`: the released code's prompt (Hendrycks' `format_subject` leaves two spaces:
    `about  {subject}.`), questions as they are in the CSV, one greedy token and the last
    character of the text as the prediction (`mode = "generate"`).
Shots are dropped (per question) while the prompt does not fit the model's context.

Modes (default: the protocol's):
  - `logits`: argmax of the log-probabilities of the continuations " A"/" B"/" C"/" D" (the
    tokens of `context + " A"` after those of `context`, as lm-eval splits them; choices that
    tokenize alike are refused), one forward per question; the k-shot header of a subject is
    the backend's shared `prefix`, computed once per subject and chunk (KV cache).
  - `generate`: one greedy token, prediction = last character of the text.
Records keep the shots used (`shots`) and the sha256 of the whole scored text, header, shots and
question (`prompt_sha256`), so a record says exactly what the model saw.
Metrics: `acc` (micro), `acc_macro` (mean over subjects), `acc_stem`, `acc_humanities`,
`acc_social_sciences`, `acc_other` (micro within each category, Hendrycks' mapping), and
`acc/<subject>`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dataset_builder import rows
from dataset_builder.mmlu_categories import CATEGORIES, SUBJECTS, category_of
from kick import (
    DataError,
    ModelBackend,
    Prediction,
    ProgressFn,
    Record,
    Sample,
    SpecError,
    build_config,
    progress_kwargs,
)
from kick_tasks.common import SMOKE_DIR, CachedSamples, check_limit, select
from kick_tasks.metrics import mean


def metric_key(category: str) -> str:
    """'social sciences' -> 'acc_social_sciences', 'STEM' -> 'acc_stem'."""
    return "acc_" + category.lower().replace(" ", "_")


LETTERS = ("A", "B", "C", "D")
CHOICE_CONTINUATIONS = (" A", " B", " C", " D")
_RAW_SPLITS = {"test": "test", "validation": "val", "val": "val", "dev": "dev"}


@dataclass(frozen=True)
class Question:
    subject: str
    question: str
    choices: tuple[str, str, str, str]
    answer: str


@dataclass(frozen=True)
class MMLUConfig:
    data: str = "smoke"
    split: str = "test"
    subjects: tuple[str, ...] = ()
    shots: int = 5
    protocol: Literal["kick", "paper"] = "kick"
    mode: Literal["logits", "generate"] | None = None  # None: logits for kick, generate for paper
    limit: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_limit(self.limit)
        if not 0 <= self.shots <= 5:
            raise SpecError(f"mmlu: shots must be between 0 and 5 (dev has 5 per subject), got {self.shots}")
        if self.split not in _RAW_SPLITS or self.split == "dev":
            raise SpecError(f"mmlu: split must be test, validation or val, got {self.split!r}")

    @property
    def scoring(self) -> str:
        return self.mode or ("logits" if self.protocol == "kick" else "generate")


def format_subject(subject: str, protocol: str = "kick") -> str:
    """'high_school_biology' -> 'high school biology'; the paper's code (Hendrycks' format_subject)
    puts a space before every word, so its header reads `about  high school biology.`"""
    words = subject.split("_")
    return "".join(" " + w for w in words) if protocol == "paper" else " ".join(words)


def format_question(q: Question, *, with_answer: bool, protocol: str = "kick") -> str:
    """kick strips the question as lm-evaluation-harness does; the paper's code does not."""
    question = q.question.strip() if protocol == "kick" else q.question
    text = question + "".join(f"\n{letter}. {c}" for letter, c in zip(LETTERS, q.choices, strict=True))
    text += "\nAnswer:"
    return text + f" {q.answer}\n\n" if with_answer else text


def build_header(subject: str, shots: Sequence[Question], protocol: str = "kick") -> str:
    about = format_subject(subject, protocol)
    head = f"The following are multiple choice questions (with answers) about {about}.\n\n"
    return head + "".join(format_question(s, with_answer=True, protocol=protocol) for s in shots)


def letter_from_logprobs(logprobs: Sequence[float]) -> str:
    best = max(range(len(logprobs)), key=lambda i: logprobs[i])
    return LETTERS[best]


def letter_from_generation(text: str) -> str:
    """The paper's rule: the prediction is the last character of the decoded text."""
    return text[-1:] if text else ""


def _question(subject: str, row: Sequence[str], where: str) -> Question:
    if len(row) != 6:
        raise DataError(f"{where}: expected 6 columns (question, A, B, C, D, answer), got {len(row)}")
    answer = row[5].strip()
    if answer not in LETTERS:
        raise DataError(f"{where}: answer {answer!r} is not one of A-D")
    return Question(subject, row[0], (row[1], row[2], row[3], row[4]), answer)


def by_subject(
    schema_rows: Sequence[Mapping[str, Any]], subjects: Sequence[str]
) -> dict[str, list[Question]]:
    """Schema rows -> questions per subject (in row order), only `subjects` when given."""
    out: dict[str, list[Question]] = defaultdict(list)
    for r in schema_rows:
        if subjects and r["subject"] not in subjects:
            continue
        out[r["subject"]].append(
            _question(r["subject"], [r["question"], *r["choices"], r["answer"]], str(r["id"]))
        )
    return dict(out)


class MMLU(CachedSamples):
    reports_progress = True  # predict takes progress= (kick.batch_progress)
    name = "mmlu"
    judge_kind: str | None = None
    primary_metric = "acc"
    # each predict call computes every subject's k-shot header once (300-500 tokens, against about
    # 60 of a question's own): chunks of 4 x batch size recomputed it every 4 questions at batch 1,
    # which made up more than half of the scoring time (benchmarks/bench_peers.py)
    chunk_size = 256

    def __init__(self, config: MMLUConfig) -> None:
        self.config = config
        unknown = [s for s in config.subjects if s not in SUBJECTS]
        if unknown and config.data != "smoke":
            raise SpecError(f"mmlu: unknown subject(s) {', '.join(unknown)}")
        self.source = rows.resolve("mmlu", config.data, smoke=SMOKE_DIR / "mmlu.json")
        self._dev: dict[str, list[Question]] = {}

    def _read(self, split: str) -> dict[str, list[Question]]:
        got = rows.read("mmlu", self.source, split)
        self.source = got.source
        return by_subject(got.rows, self.config.subjects)

    def samples(self) -> list[Sample]:
        return self._cached(self._build)

    def _build(self) -> list[Sample]:
        tests = self._read(self.config.split)
        self._dev = self._read("dev")
        if not tests:
            raise DataError(
                f"mmlu: no questions for subjects {self.config.subjects or 'all'} in {self.source.location}"
            )
        items = [(s, i, q) for s in sorted(tests) for i, q in enumerate(tests[s])]
        chosen = select(items, self.config.limit, self.config.seed)
        return [
            Sample(
                id=f"{s}-{self.config.split}-{i}",
                prompt=format_question(q, with_answer=False, protocol=self.config.protocol),
                reference=q.answer,
                choices=LETTERS,
                meta={"subject": s, "category": category_of(s)},
            )
            for s, i, q in chosen
        ]

    def settings(self) -> Mapping[str, Any]:
        samples = self.samples()
        return {
            "source": self.source.as_dict(),
            "split": self.config.split,
            "subjects": sorted({s.meta["subject"] for s in samples}),
            "shots": self.config.shots,
            "shots_from": "dev (first k rows); dropped per question while the prompt exceeds the context",
            "protocol": self.config.protocol,
            "mode": self.config.scoring,
            "scoring": (
                "argmax log-prob of the continuations ' A',' B',' C',' D' (tokens of context + choice after "
                "those of context, as lm-evaluation-harness; k-shot header as shared KV-cached prefix)"
                if self.config.scoring == "logits"
                else "1 greedy token, prediction = last character (the paper's code)"
            ),
            "prompt": (
                "header + shots + sample.prompt; header = 'The following are multiple choice questions "
                "(with answers) about {subject}.\\n\\n'; questions stripped (lm-evaluation-harness)"
                if self.config.protocol == "kick"
                else "the paper's code: header 'The following are multiple choice questions (with answers) "
                "about  {subject}.\\n\\n' (two spaces), questions as in the CSV"
            ),
            "record_prompt": "per record: shots (k) and prompt_sha256 = sha256 of header + shots + question",
            "categories": "Hendrycks categories.py (anatomy in other)",
            "limit": self.config.limit,
            "seed": self.config.seed,
            "n": len(samples),
        }

    def header(self, subject: str, k: int) -> str:
        return build_header(subject, self._dev.get(subject, [])[:k], self.config.protocol)

    def shots_that_fit(self, model: ModelBackend, subject: str, prompt: str) -> int:
        """Largest k <= shots whose prompt (+1 answer token) fits the model's context."""
        k = min(self.config.shots, len(self._dev.get(subject, [])))
        while k > 0 and model.count_tokens(self.header(subject, k) + prompt) + 1 > model.context_length:
            k -= 1
        return k

    def predict(
        self,
        model: ModelBackend,
        samples: Sequence[Sample],
        *,
        batch_size: int,
        progress: ProgressFn | None = None,
    ) -> list[Prediction]:
        self.samples()
        groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        for i, s in enumerate(samples):
            subject = s.meta["subject"]
            groups[(subject, self.shots_that_fit(model, subject, s.prompt))].append(i)
        preds: list[Prediction | None] = [None] * len(samples)
        for (subject, k), idx in groups.items():
            header = self.header(subject, k)
            prompts = [samples[i].prompt for i in idx]
            seen = [{"shots": k, "prompt_sha256": _sha256(header + p)} for p in prompts]
            if self.config.scoring == "logits":
                lps = model.choice_logprobs(
                    prompts, CHOICE_CONTINUATIONS, prefix=header, batch_size=batch_size,
                    **progress_kwargs(model, progress),
                )  # fmt: skip
                for i, lp, extra in zip(idx, lps, seen, strict=True):
                    preds[i] = Prediction(samples[i].id, letter_from_logprobs(lp), {"logprobs": lp, **extra})
            else:
                outs = model.generate(
                    [header + p for p in prompts], max_new_tokens=1, batch_size=batch_size,
                    **progress_kwargs(model, progress),
                )  # fmt: skip
                for i, o, extra in zip(idx, outs, seen, strict=True):
                    preds[i] = Prediction(samples[i].id, letter_from_generation(o), {"generated": o, **extra})
        return [p for p in preds if p is not None]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        return {"acc": float(prediction.output.strip() == sample.reference)}

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return aggregate_accuracy(
            [(str(r.sample_id).rsplit("-", 2)[0], r.scores.get("acc", 0.0)) for r in records]
        )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def aggregate_accuracy(pairs: Sequence[tuple[str, float]]) -> dict[str, float]:
    """Micro accuracy, macro over subjects, micro per category and per subject."""
    by_subject: dict[str, list[float]] = defaultdict(list)
    by_category: dict[str, list[float]] = defaultdict(list)
    for subject, acc in pairs:
        by_subject[subject].append(acc)
        by_category[category_of(subject)].append(acc)
    out: dict[str, float] = {"acc": mean(a for _, a in pairs)}
    out["acc_macro"] = mean(mean(v) for v in by_subject.values())
    for cat in CATEGORIES:
        if by_category.get(cat):
            out[metric_key(cat)] = mean(by_category[cat])
    for subject in sorted(by_subject):
        out[f"acc/{subject}"] = mean(by_subject[subject])
    return out


def make_mmlu(**params: Any) -> MMLU:
    return MMLU(build_config(MMLUConfig, params, owner="task mmlu"))
