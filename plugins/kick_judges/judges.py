"""The judges: `pairwise` (LLM-KICK's protocol), `single` (MT-Bench single-answer grading),
and `local-hf` (either protocol with an in-process model), over one request engine.

The engine turns each item into prompts, sends them through a thread pool (`concurrency`),
through the reply cache and the request budget, parses each reply with the strict parser of
its format (asking once more with a format reminder when it does not parse, `retry_parse`),
and assembles exactly one Judgement per item: scores, or an error with every raw reply kept.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from kick import JudgeItem, Judgement, SpecError, build_config, require_extra
from kick_judges import scoring, templates
from kick_judges.cache import ReplyCache, cache_key, resolve_cache_dir
from kick_judges.parsing import ParseError, parse_reply
from kick_judges.transport import (
    CANCELLED,
    LOCAL_DUMMY_KEY,
    Backend,
    OpenAIBackend,
    RequestBudget,
    RequestError,
    RetryPolicy,
    cancel_requests,
    is_local_url,
    public_url,
    redact,
)


# ---- configuration -----------------------------------------------------------------------------
@dataclass(frozen=True)
class CommonConfig:
    temperature: float = 0.0
    max_tokens: int = 1024
    swap: bool = True
    retry_parse: bool = True
    concurrency: int = 4
    max_requests: int = 0
    cache: bool = True
    cache_dir: str = ""
    reference_guided: bool = True
    references: str = ""
    inconsistent: Literal["average", "tie"] = "average"  # pairwise: "tie" is FastChat's rule

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise SpecError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.max_tokens < 1:
            raise SpecError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if self.max_requests < 0:
            raise SpecError(f"max_requests must be 0 (unlimited) or more, got {self.max_requests}")
        if not 0.0 <= self.temperature <= 2.0:
            raise SpecError(f"temperature must be in [0, 2], got {self.temperature}")


@dataclass(frozen=True)
class OpenAIConfig(CommonConfig):
    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4o"
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 120.0
    max_retries: int = 5
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.base_url.startswith(("http://", "https://")):
            raise SpecError(
                f"base_url must start with http:// or https://, got {public_url(self.base_url)!r}"
            )
        if "@" in self.base_url.split("/")[2] or "?" in self.base_url:
            raise SpecError(
                "base_url must not carry credentials (user:password@ or a query string): it is recorded in "
                "the run; put the key in an environment variable named by api_key_env"
            )
        if self.timeout_s <= 0 or self.max_retries < 0 or self.backoff_s < 0 or self.max_backoff_s < 0:
            raise SpecError("timeout_s must be > 0 and max_retries, backoff_s, max_backoff_s >= 0")


@dataclass(frozen=True)
class LocalHFConfig(CommonConfig):
    model: str = "smollm2-135m"
    protocol: Literal["pairwise", "single"] = "pairwise"
    device: str = "cpu"
    dtype: str = "float32"
    max_tokens: int = 128


def api_key_from_env(cfg: OpenAIConfig, env: Mapping[str, str]) -> str:
    key = env.get(cfg.api_key_env, "")
    if key:
        return key
    if is_local_url(cfg.base_url):
        return LOCAL_DUMMY_KEY
    raise SpecError(
        f"judge: environment variable {cfg.api_key_env} is not set; it must hold the API key for "
        f"{cfg.base_url} (or pass --param api_key_env=NAME)"
    )


OVERRIDABLE = ("swap", "temperature", "max_tokens", "inconsistent")
"""The judge settings a task may set for itself (`Task.judge_overrides`)."""


# ---- one request and its outcome ---------------------------------------------------------------
@dataclass(frozen=True)
class Ask:
    """One prompt to send for one item: `slot` names it (an order, or a turn of an answer)."""

    item: int
    slot: str
    template: templates.Template
    messages: list[dict[str, str]]


@dataclass
class Outcome:
    parsed: dict[str, tuple[float, ...]] | None = None
    error: str | None = None
    replies: list[str] = field(default_factory=list)
    attempts: int = 0  # parse attempts that got a reply
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0  # replies that came from the model (not from the cache)
    cached: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)  # one per reply: usage or cached


_STAT_KEYS = (
    "items",
    "judged",
    "failed",
    "requests",
    "cached",
    "prompt_tokens",
    "completion_tokens",
    "parsed_first_try",
    "parsed_on_retry",
    "parse_failed",
    "request_failed",
)


class Engine:
    """Shared machinery: cache, budget, thread pool, parse-and-retry, usage accounting."""

    def __init__(self, cfg: CommonConfig, backend: Backend, secrets: Sequence[str] = ()) -> None:
        self.cfg = cfg
        self.backend = backend
        self._secrets = list(secrets)
        self._run_dir: Path | None = None
        self._cache: ReplyCache | None = None
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.stats: dict[str, int] = dict.fromkeys(_STAT_KEYS, 0)
        self.seconds = 0.0

    def bind_run_dir(self, run_dir: Path) -> None:
        """Called by kick before judging: the default cache lives in the run directory."""
        with self._lock:
            self._run_dir = Path(run_dir)
            self._cache = None

    def cache(self) -> ReplyCache:
        with self._lock:
            if self._cache is None:
                root = (
                    resolve_cache_dir(self.cfg.cache_dir, os.environ, self._run_dir)
                    if self.cfg.cache
                    else None
                )
                self._cache = ReplyCache(root)
            return self._cache

    def cache_dir(self) -> str | None:
        if not self.cfg.cache:
            return None
        root = resolve_cache_dir(self.cfg.cache_dir, os.environ, self._run_dir)
        return str(root) if root else None

    def _count(self, **inc: int) -> None:
        with self._lock:
            for k, v in inc.items():
                self.stats[k] += v

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _complete(self, messages: list[dict[str, str]], out: Outcome) -> tuple[str, str | None]:
        """The reply to `messages` and its cache key (None when it came from the cache or the
        cache is off). Identical prompts in flight at once are sent once: the others wait for
        the first and then read its reply from the cache."""
        if not self.cfg.cache:
            return self._send(messages, out), None
        decoding = {"temperature": self.cfg.temperature, "max_tokens": self.cfg.max_tokens}
        key = cache_key(self.backend.model_id, messages, decoding)
        with self._key_lock(key):
            hit = self.cache().get(key)
            if hit is not None:
                out.cached += 1
                out.calls.append({"cached": True})
                self._count(cached=1)
                return str(hit["reply"]), None
            text = self._send(messages, out)
            # cached at once (so waiters read it); withdrawn below if it never parses
            self.cache().put(key, {"model": self.backend.model_id, "reply": text, "created": time.time()})
            return text, key

    def _send(self, messages: list[dict[str, str]], out: Outcome) -> str:
        comp = self.backend.complete(
            messages, max_tokens=self.cfg.max_tokens, temperature=self.cfg.temperature
        )
        out.requests += 1
        out.calls.append(
            {
                "cached": False,
                "prompt_tokens": comp.prompt_tokens,
                "completion_tokens": comp.completion_tokens,
            }
        )
        out.prompt_tokens += comp.prompt_tokens
        out.completion_tokens += comp.completion_tokens
        self._count(requests=1, prompt_tokens=comp.prompt_tokens, completion_tokens=comp.completion_tokens)
        return comp.text

    def ask(self, ask: Ask) -> Outcome:
        """Send one prompt, parse its reply; on a parse failure ask once more with a reminder.
        Replies that never parse are not kept in the cache (they are kept in the record), so a
        re-judge asks again instead of replaying the failure."""
        out = Outcome()
        fmt = ask.template.reply_format
        messages = ask.messages
        tries = 2 if self.cfg.retry_parse else 1
        keys: list[str] = []
        try:
            for attempt in range(tries):
                reply, key = self._complete(messages, out)
                if key is not None:
                    keys.append(key)
                out.replies.append(reply)
                out.attempts += 1
                try:
                    out.parsed = parse_reply(fmt, reply)
                except ParseError as e:
                    out.error = f"{ask.slot}: reply does not parse ({e})"
                    messages = [
                        *ask.messages,
                        {"role": "assistant", "content": reply},
                        {"role": "user", "content": templates.REMINDERS[fmt]},
                    ]
                    continue
                out.error = None
                self._count(**{"parsed_first_try" if attempt == 0 else "parsed_on_retry": 1})
                return out
            self._count(parse_failed=1)
            for key in keys:
                self.cache().discard(key)
        except RequestError as e:
            out.error = f"{ask.slot}: {redact(str(e), self._secrets)}"
            self._count(request_failed=1)
        except Exception as e:  # noqa: BLE001 - a judge never loses an item: record it
            out.error = f"{ask.slot}: {redact(f'{type(e).__name__}: {e}', self._secrets)}"
            self._count(request_failed=1)
        return out

    def run(self, asks: Sequence[Ask]) -> list[Outcome]:
        t0 = time.time()
        CANCELLED.clear()  # a new pass (an earlier one may have been interrupted in this process)
        if self.cfg.concurrency == 1 or len(asks) <= 1:
            outs = [self.ask(a) for a in asks]
        else:
            pool = ThreadPoolExecutor(max_workers=self.cfg.concurrency, thread_name_prefix="kick-judge")
            try:
                outs = list(pool.map(self.ask, asks))
            except KeyboardInterrupt:  # end the requests in flight now, not after their timeouts
                cancel_requests()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown()
        with self._lock:
            self.seconds += time.time() - t0
        return outs

    def info(self) -> dict[str, Any]:
        with self._lock:
            stats = dict(self.stats)
        return {
            **self.backend.info(),
            "decoding": {"temperature": self.cfg.temperature, "max_tokens": self.cfg.max_tokens},
            "swap": self.cfg.swap,
            "inconsistent": self.cfg.inconsistent,
            "retry_parse": self.cfg.retry_parse,
            "concurrency": self.cfg.concurrency,
            "max_requests": self.cfg.max_requests,
            "cache_dir": self.cache_dir(),
            "usage": {
                "sent": int(getattr(self.backend, "sent", stats["requests"])),  # answered or not
                **{k: stats[k] for k in ("requests", "cached", "prompt_tokens", "completion_tokens")},
            },
            "stats": stats,
            "seconds": round(self.seconds, 3),
        }


def _item_extra(outcomes: Sequence[tuple[Ask, Outcome]]) -> dict[str, Any]:
    return {
        "templates": sorted({a.template.name for a, _ in outcomes}),
        "replies": [
            {"slot": a.slot, "attempt": i + 1, **(o.calls[i] if i < len(o.calls) else {})}
            for a, o in outcomes
            for i in range(len(o.replies))
        ],
        "usage": {
            "requests": sum(o.requests for _, o in outcomes),
            "cached": sum(o.cached for _, o in outcomes),
            "prompt_tokens": sum(o.prompt_tokens for _, o in outcomes),
            "completion_tokens": sum(o.completion_tokens for _, o in outcomes),
        },
        "parse_retries": sum(max(0, o.attempts - 1) for _, o in outcomes),
    }


class _BaseJudge:
    name = "judge"
    protocol = "?"

    def __init__(self, engine: Engine, params: Mapping[str, Any]) -> None:
        self.engine = engine
        self._params = dict(params)
        self._references: dict[str, list[str]] | None = None
        if engine.cfg.references:
            from kick_judges.references import load_reference_file

            self._references = load_reference_file(engine.cfg.references)

    def reference_answers(self) -> dict[str, list[str]] | None:
        """Reference answers by sample id from the `references` file (None: kick's default)."""
        return self._references

    def bind_run_dir(self, run_dir: Path) -> None:
        self.engine.bind_run_dir(run_dir)

    def with_overrides(self, overrides: Mapping[str, Any]) -> _BaseJudge:
        """This judge with some settings replaced for one task (a task's `judge_overrides`, e.g.
        `protocol=paper`: one order, the released temperature): same backend, cache and counts."""
        unknown = sorted(set(overrides) - set(OVERRIDABLE))
        if unknown:
            raise SpecError(f"judge {self.name}: cannot override {', '.join(unknown)}")
        engine = copy.copy(self.engine)
        engine.cfg = dataclasses.replace(self.engine.cfg, **dict(overrides))
        judge = copy.copy(self)
        judge.engine = engine
        return judge

    def plan(self, index: int, item: JudgeItem) -> list[Ask]:
        raise NotImplementedError

    def assemble(self, item: JudgeItem, outcomes: Sequence[tuple[Ask, Outcome]]) -> Judgement:
        raise NotImplementedError

    def judge(self, items: Sequence[JudgeItem]) -> list[Judgement]:
        asks: list[Ask] = []
        problems: dict[int, str] = {}
        for i, item in enumerate(items):
            try:
                asks.extend(self.plan(i, item))
            except Exception as e:  # noqa: BLE001 - an item that cannot be asked is recorded
                problems[i] = f"cannot build the judge prompt: {e}"
        outcomes = self.engine.run(asks)
        by_item: dict[int, list[tuple[Ask, Outcome]]] = {}
        for a, o in zip(asks, outcomes, strict=True):
            by_item.setdefault(a.item, []).append((a, o))
        verdicts: list[Judgement] = []
        for i, item in enumerate(items):
            if i in problems:
                verdicts.append(Judgement(item.sample_id, error=problems[i]))
            else:
                try:
                    verdicts.append(self._finish(item, by_item.get(i, [])))
                except Exception as e:  # noqa: BLE001 - never drop an item
                    raw = tuple(r for _, o in by_item.get(i, []) for r in o.replies)
                    verdicts.append(Judgement(item.sample_id, error=f"cannot combine replies: {e}", raw=raw))
        self.engine._count(
            items=len(items),
            judged=sum(1 for v in verdicts if v.error is None),
            failed=sum(1 for v in verdicts if v.error is not None),
        )
        return verdicts

    def _finish(self, item: JudgeItem, outcomes: Sequence[tuple[Ask, Outcome]]) -> Judgement:
        raw = tuple(r for _, o in outcomes for r in o.replies)
        extra = _item_extra(outcomes)
        errors = [o.error for _, o in outcomes if o.error]
        if errors:
            extra["parsed"] = {a.slot: o.parsed for a, o in outcomes if o.parsed is not None}
            return Judgement(item.sample_id, error="; ".join(errors), raw=raw, extra=extra)
        judgement = self.assemble(item, outcomes)
        return Judgement(item.sample_id, scores=judgement.scores, raw=raw, extra={**extra, **judgement.extra})

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "protocol": self.protocol,
            "params": self._safe_params(),
            **self.engine.info(),
        }

    def _safe_params(self) -> dict[str, Any]:
        return {k: v for k, v in self._params.items() if "key" not in k.lower() or k == "api_key_env"}


class PairwiseJudge(_BaseJudge):
    """LLM-KICK: the judged answer and the reference, scored 1-10 side by side, in both orders."""

    name = "pairwise"
    protocol = "pairwise"

    def plan(self, index: int, item: JudgeItem) -> list[Ask]:
        if not item.reference:
            raise ValueError("pairwise judging needs a reference answer; none was given")
        orders = (
            [scoring.ANSWER_FIRST, scoring.REFERENCE_FIRST]
            if self.engine.cfg.swap
            else [scoring.REFERENCE_FIRST]
        )
        asks = []
        for order in orders:
            first, second = (
                (item.answer, item.reference)
                if order == scoring.ANSWER_FIRST
                else (item.reference, item.answer)
            )
            tpl, msgs = templates.pairwise_messages(item.kind, item.category, item.question, first, second)
            asks.append(Ask(index, order, tpl, msgs))
        return asks

    def assemble(self, item: JudgeItem, outcomes: Sequence[tuple[Ask, Outcome]]) -> Judgement:
        oriented = [scoring.orient(o.parsed or {}, a.slot) for a, o in outcomes]
        scores = scoring.apply_inconsistent_rule(
            scoring.combine_orders(oriented), self.engine.cfg.inconsistent
        )
        orders = [
            {
                "order": a.slot,
                "answer": {c: s[0] for c, s in ori.items()},
                "reference": {c: s[1] for c, s in ori.items()},
            }
            for (a, _), ori in zip(outcomes, oriented, strict=True)
        ]
        extra: dict[str, Any] = {"orders": orders}
        if scores.get("inconsistent") == 1.0 and self.engine.cfg.inconsistent == "tie":
            extra["inconsistent_rule"] = "tie"
        return Judgement(item.sample_id, scores=scores, extra=extra)


class SingleJudge(_BaseJudge):
    """MT-Bench single-answer grading: "[[rating]]" 1-10 per answer (and for the reference answer
    when one is given), reference-guided for math/reasoning/coding, the second turn of a
    two-turn conversation graded with the multi-turn template."""

    name = "single"
    protocol = "single"

    def _guide(self, item: JudgeItem) -> Sequence[str] | None:
        if self.engine.cfg.reference_guided and item.category in templates.REFERENCE_GUIDED_CATEGORIES:
            return item.reference or None
        return None

    def plan(self, index: int, item: JudgeItem) -> list[Ask]:
        if not item.question or not item.answer:
            raise ValueError("single grading needs a question and an answer")
        guide = self._guide(item)
        sides: list[tuple[str, Sequence[str]]] = [("answer", item.answer)]
        if item.reference:
            sides.append(("reference", item.reference))
        asks = []
        for side, answer in sides:
            turns = 2 if len(item.question) >= 2 and len(answer) >= 2 else 1
            for turn in range(1, turns + 1):
                tpl, msgs = templates.single_messages(item.question, answer, turn=turn, reference=guide)
                asks.append(Ask(index, f"{side}-t{turn}", tpl, msgs))
        return asks

    def assemble(self, item: JudgeItem, outcomes: Sequence[tuple[Ask, Outcome]]) -> Judgement:
        scores: dict[str, float] = {}
        for side, suffix in (("answer", ""), ("reference", "_ref")):
            ratings = {
                int(a.slot.rsplit("-t", 1)[1]): (o.parsed or {})["rating"][0]
                for a, o in outcomes
                if a.slot.startswith(side + "-")
            }
            if ratings:
                scores.update(scoring.combine_turns(ratings, suffix))
        return Judgement(
            item.sample_id, scores=scores, extra={"reference_guided": self._guide(item) is not None}
        )


class LocalHFJudge:
    """`local-hf`: either protocol with an in-process model; `name` stays "local-hf"."""

    name = "local-hf"

    def __init__(self, inner: _BaseJudge) -> None:
        self.inner = inner

    def bind_run_dir(self, run_dir: Path) -> None:
        self.inner.bind_run_dir(run_dir)

    def reference_answers(self) -> dict[str, list[str]] | None:
        return self.inner.reference_answers()

    def with_overrides(self, overrides: Mapping[str, Any]) -> LocalHFJudge:
        return LocalHFJudge(self.inner.with_overrides(overrides))

    def judge(self, items: Sequence[JudgeItem]) -> list[Judgement]:
        return self.inner.judge(items)

    def info(self) -> dict[str, Any]:
        return {**self.inner.info(), "name": self.name}


# ---- factories (what the plugin registers) -----------------------------------------------------
def _openai_engine(params: Mapping[str, Any], owner: str) -> Engine:
    cfg = build_config(OpenAIConfig, params, owner=owner)
    require_extra("openai", "judges", f"the {owner.removeprefix('judge ')} judge")
    key = api_key_from_env(cfg, os.environ)
    budget = RequestBudget(cfg.max_requests)
    backend = OpenAIBackend(
        base_url=cfg.base_url,
        model=cfg.model,
        api_key=key,
        timeout_s=cfg.timeout_s,
        retry=RetryPolicy(cfg.max_retries, cfg.backoff_s, cfg.max_backoff_s),
        budget=budget,
    )
    return Engine(cfg, backend, secrets=[key])


def make_pairwise(**params: Any) -> PairwiseJudge:
    return PairwiseJudge(_openai_engine(params, "judge pairwise"), params)


def make_single(**params: Any) -> SingleJudge:
    return SingleJudge(_openai_engine(params, "judge single"), params)


def make_local_hf(**params: Any) -> LocalHFJudge:
    from kick_judges.local import LocalHFBackend

    cfg = build_config(LocalHFConfig, params, owner="judge local-hf")
    budget = RequestBudget(cfg.max_requests)
    backend = LocalHFBackend(model=cfg.model, device=cfg.device, dtype=cfg.dtype, budget=budget)
    engine = Engine(cfg, backend)
    inner: _BaseJudge = (
        PairwiseJudge(engine, params) if cfg.protocol == "pairwise" else SingleJudge(engine, params)
    )
    return LocalHFJudge(inner)


def config_summary(cfg: CommonConfig) -> dict[str, Any]:
    return asdict(cfg)
