"""Talking to a judge model: the OpenAI-compatible backend, with retries and a request budget.

`openai` is imported when the first request is made, never at plugin import. Retries cover 429,
5xx, timeouts and connection errors, with exponential backoff and jitter, honouring Retry-After.
Error messages are redacted: the API key never appears in one.
"""

from __future__ import annotations

import email.utils
import ipaddress
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

LOCAL_DUMMY_KEY = "kick-local-no-key"


@dataclass(frozen=True)
class Completion:
    """One reply of the judge model with its token usage."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Backend(Protocol):
    """Anything that turns chat messages into one reply."""

    model_id: str

    def complete(
        self, messages: Sequence[Mapping[str, str]], *, max_tokens: int, temperature: float
    ) -> Completion: ...

    def info(self) -> dict[str, Any]: ...


class RequestError(Exception):
    """A request to the judge model failed for good (after retries); the message is redacted."""


class BudgetExhausted(RequestError):
    """The run's request budget (`max_requests`) is used up."""


class WholeRequestTimeout(Exception):
    """No complete reply within `timeout_s` of sending (a trickling server included); retried."""


CANCELLED = threading.Event()
"""Set on Ctrl-C (`cancel_requests`): every request waiting for a reply and every backoff sleep
ends at once, so an interrupted `kick judge` exits in a moment instead of after its timeouts."""


def cancel_requests() -> None:
    CANCELLED.set()


def cancellable_sleep(seconds: float) -> None:
    if CANCELLED.wait(seconds):
        raise RequestError("judge request cancelled (interrupted)")


def bounded_call(fn: Callable[[], Any], timeout_s: float, poll_s: float = 0.1) -> Any:
    """`fn()` in a daemon thread, waited for at most `timeout_s` in all. The HTTP client's own
    timeout bounds each read, so a server sending a byte every few seconds would hold a request
    for ever; this bounds the whole request. An abandoned call ends with its connection (its
    reads still time out); the caller has moved on."""
    done = threading.Event()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller below
            box["error"] = e
        finally:
            done.set()

    threading.Thread(target=target, daemon=True, name="kick-judge-request").start()
    deadline = time.monotonic() + timeout_s
    while not done.wait(max(0.0, min(poll_s, deadline - time.monotonic()))):
        if CANCELLED.is_set():
            raise RequestError("judge request cancelled (interrupted)")
        if time.monotonic() >= deadline:
            raise WholeRequestTimeout(f"no complete reply within timeout_s={timeout_s:g}")
    if "error" in box:
        raise box["error"]
    return box["value"]


class RequestBudget:
    """A thread-safe count of requests sent; `limit` 0 means unlimited."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            if self.limit and self.used >= self.limit:
                raise BudgetExhausted(f"request budget exhausted (max_requests={self.limit})")
            self.used += 1


# ---- pure helpers ------------------------------------------------------------------------------
def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every non-trivial secret replaced by '***'."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def public_url(url: str) -> str:
    """A URL without user:password and without query string (which may carry a key)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def is_local_url(url: str) -> bool:
    """Whether `url` points at this machine (a key is not needed there)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After (seconds or HTTP date) or retry-after-ms header."""
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = lower.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to sleep before retry number `attempt` (0-based): the server's Retry-After when
    given (capped at `cap`), else exponential `base * 2**attempt` capped at `cap`, with jitter in
    its upper half so parallel clients do not retry in lockstep."""
    if retry_after is not None:
        return min(cap, retry_after)
    delay = min(cap, base * (2**attempt))
    return delay / 2 + rand() * delay / 2


def classify(exc: BaseException) -> tuple[bool, float | None, str]:
    """(retryable, Retry-After seconds, short description) for an exception from the client."""
    import openai

    if isinstance(exc, WholeRequestTimeout):
        return True, None, f"timeout ({exc})"
    if isinstance(exc, openai.APITimeoutError):
        return True, None, "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return True, None, "connection error"
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        headers = dict(exc.response.headers) if exc.response is not None else {}
        retryable = status in (408, 409, 429) or status >= 500
        return retryable, retry_after_seconds(headers) if retryable else None, f"HTTP {status}: {exc.message}"
    if isinstance(exc, openai.APIResponseValidationError):
        return False, None, f"malformed response: {exc.message}"
    if isinstance(exc, ValueError):  # json.JSONDecodeError: the body is not JSON
        return False, None, f"malformed response (not JSON): {exc}"
    return False, None, f"{type(exc).__name__}: {exc}"


# ---- the OpenAI-compatible backend -------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0


class OpenAIBackend:
    """Chat completions through the official `openai` client (its own retries off: ours below)."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str,
        timeout_s: float,
        retry: RetryPolicy,
        budget: RequestBudget,
        sleep: Callable[[float], None] = cancellable_sleep,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.model_id = f"openai:{model}"
        self._key = api_key
        self._timeout = timeout_s
        self._retry = retry
        self._budget = budget
        self._sleep = sleep
        self._client: Any = None
        self._lock = threading.Lock()
        self.retries = 0
        self.sent = 0  # requests sent, answered or not (retries included)

    def info(self) -> dict[str, Any]:
        return {
            "backend": "openai",
            "base_url": public_url(self.base_url),
            "model": self.model,
            "timeout_s": self._timeout,
            "max_retries": self._retry.max_retries,
        }

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(
                    base_url=self.base_url, api_key=self._key, timeout=self._timeout, max_retries=0
                )
            return self._client

    def complete(
        self, messages: Sequence[Mapping[str, str]], *, max_tokens: int, temperature: float
    ) -> Completion:
        client = self._get_client()
        attempt = 0
        while True:
            if CANCELLED.is_set():
                raise RequestError("judge request cancelled (interrupted)")
            self._budget.take()
            with self._lock:
                self.sent += 1
            try:
                resp = bounded_call(
                    lambda: client.chat.completions.create(
                        model=self.model,
                        messages=[dict(m) for m in messages],
                        max_tokens=max_tokens,
                        temperature=temperature,
                    ),
                    self._timeout,
                )
                return _completion(resp)
            except RequestError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below, never swallowed
                retryable, retry_after, what = classify(exc)
                what = redact(what, [self._key])
                if not retryable or attempt >= self._retry.max_retries:
                    tries = f" after {attempt + 1} attempts" if attempt else ""
                    raise RequestError(f"judge request failed{tries}: {what}") from None
                delay = backoff_delay(
                    attempt,
                    base=self._retry.backoff_s,
                    cap=self._retry.max_backoff_s,
                    retry_after=retry_after,
                )
                with self._lock:
                    self.retries += 1
                self._sleep(delay)
                attempt += 1


def _completion(resp: Any) -> Completion:
    try:
        text = resp.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        raise RequestError("judge request failed: malformed response (no choices[0].message)") from None
    if not isinstance(text, str):
        raise RequestError("judge request failed: malformed response (message content is not text)")
    usage = getattr(resp, "usage", None)
    return Completion(
        text=text,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
    )
