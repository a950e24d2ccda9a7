"""Calibration data, shared by every calibrated compressor.

`calibration` names where the text comes from:

* ``c4`` -- C4 (allenai/c4, English, train shard 0, as Wanda and SparseGPT use) through `datasets`;
* ``wikitext2`` -- WikiText-2 raw train (Salesforce/wikitext), its rows joined with ``"\\n\\n"`` into
  one document, as GPTQ calibrates; through `datasets`;
* a path to a ``.jsonl`` file (each line a JSON object with a ``text`` field) or any text file
  (one document);
* ``text:<inline text>`` -- the text itself, one document (handy for tests);
* nothing -- ``$KICK_CALIBRATION`` if set, else the method's Hub default (``c4`` for the pruners,
  ``wikitext2`` for GPTQ) when the Hub answers, else the shared C4 file (``<repo>/../shared/data/
  calibration/c4_validation_2k.jsonl`` or ``$KICK_SHARED_DATA/calibration/...``; 2,000 C4
  *validation* documents), else a SpecError. The record says which one was used and, for the
  fallback, why the Hub default was not. The shared WikiText-2 file is the *test* split, which the
  perplexity task evaluates: it is never a default.

Two samplers draw `nsamples` windows of `seqlen` tokens with a seeded generator:

* ``document`` (default) -- the reference samplers of Wanda, SparseGPT and GPTQ: Python's
  `random.Random(seed)` draws a document index until the document (tokenized on its own, with the
  tokenizer's special tokens, as the references do) is longer than `seqlen` tokens, then a start
  in ``[0, len - seqlen - 1]``. The references disagree on ties (Wanda: longer than `seqlen`;
  SparseGPT/GPTQ: at least `seqlen`, which then fails on a document of exactly `seqlen` tokens), so
  "longer than" is used. With a single document (WikiText-2, a text file) no document is drawn,
  as GPTQ's WikiText-2 loader does. No window crosses a document boundary.
* ``concat`` -- all documents tokenized without special tokens and joined by the EOS token, windows
  at uniform random starts (torch generator); windows may span several documents.

The returned record names the exact calibration: source (path and sha256, or the Hub dataset and
its fingerprint), sampler, N, L, seed, and how many windows cross a document boundary.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import random
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kick import KickError, SpecError, sha256_file

SHARED_C4 = Path("calibration") / "c4_validation_2k.jsonl"
C4_DATA_FILE = "en/c4-train.00000-of-01024.json.gz"
WIKITEXT = ("Salesforce/wikitext", "wikitext-2-raw-v1")
HUB_SOURCES = ("c4", "wikitext2")
SAMPLERS = ("document", "concat")


@dataclass(frozen=True)
class CalibrationText:
    """Documents plus a description of where they came from."""

    documents: tuple[str, ...]
    record: dict[str, Any]


def hub_unreachable() -> str | None:
    """Why the Hugging Face Hub cannot be used now (offline mode, no connection), or None.

    A 3-second TCP probe: `datasets` itself retries for about 25 s before failing offline.
    """
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return f"{var} is set"
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as e:
        return f"{host}:{port} unreachable ({type(e).__name__}: {e})"
    return None


def shared_c4() -> Path | None:
    from dataset_builder.rows import shared_data_dir

    shared = shared_data_dir()
    return shared / SHARED_C4 if shared is not None and (shared / SHARED_C4).is_file() else None


def _read_jsonl(path: Path) -> list[str]:
    """The `text` field of every line; a malformed line is an error naming file and line."""
    from dataset_builder.readers import iter_jsonl, require_field

    return [require_field(row, "text", str, f"{path}:{n}") for n, row in iter_jsonl(path)]


def _load_hub(name: str) -> CalibrationText:
    """`c4` or `wikitext2` through `datasets` (cached after the first download)."""
    try:
        import datasets

        if name == "c4":
            ds = datasets.load_dataset("allenai/c4", data_files={"train": C4_DATA_FILE}, split="train")
            where = {"dataset": "allenai/c4", "data_file": C4_DATA_FILE, "split": "train"}
        else:
            ds = datasets.load_dataset(*WIKITEXT, split="train")
            where = {"dataset": WIKITEXT[0], "config": WIKITEXT[1], "split": "train"}
        texts = [str(t) for t in ds["text"]]
    except Exception as e:  # noqa: BLE001 - any network/dataset failure becomes one clear message
        raise KickError(
            f"calibration={name} needs the Hugging Face Hub, which failed: {type(e).__name__}: {e}. "
            "Pass a local file instead: calibration=/path/to/file.jsonl"
        ) from None
    docs = ("\n\n".join(texts),) if name == "wikitext2" else tuple(texts)
    record = {"source": name, **where, "rows": len(texts), "documents": len(docs)}
    record["fingerprint"] = getattr(ds, "_fingerprint", None)
    return CalibrationText(docs, record)


def _read_file(path: Path) -> CalibrationText:
    if path.suffix.lower() == ".jsonl":
        docs = _read_jsonl(path)
    else:
        docs = [path.read_text(encoding="utf-8").replace("\r\n", "\n")]
    record = {
        "source": "file",
        "path": str(path.resolve()),
        "sha256": sha256_file(path),
        "documents": len(docs),
    }
    return CalibrationText(tuple(docs), record)


def _default_text(hub_default: str) -> CalibrationText:
    env = os.environ.get("KICK_CALIBRATION")
    if env:
        text = read_calibration_text(env)
        return CalibrationText(text.documents, {**text.record, "default": "KICK_CALIBRATION"})
    why = hub_unreachable()
    if why is None:
        text = _load_hub(hub_default)
        return CalibrationText(text.documents, {**text.record, "default": hub_default})
    path = shared_c4()
    if path is None:
        raise SpecError(
            f"no calibration data: the Hub ({hub_default}) cannot be reached ({why}); pass "
            "calibration=<file.jsonl|file.txt|c4|wikitext2|text:...>, or set KICK_CALIBRATION, or "
            "KICK_SHARED_DATA to a folder holding " + str(SHARED_C4)
        )
    text = _read_file(path)
    fallback = f"{hub_default} not used: {why}; the shared C4 validation file instead"
    return CalibrationText(text.documents, {**text.record, "default": "shared", "fallback": fallback})


def read_calibration_text(source: str | None, hub_default: str = "c4") -> CalibrationText:
    """Resolve `source` (see module docstring) into documents and a provenance record."""
    if not source:
        return _default_text(hub_default)
    if source.startswith("text:"):
        text = source[len("text:") :]
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return CalibrationText(
            (text,), {"source": "inline", "sha256": sha, "chars": len(text), "documents": 1}
        )
    if source.lower() in HUB_SOURCES:
        return _load_hub(source.lower())
    path = Path(source).expanduser()
    if not path.is_file():
        raise SpecError(
            f"calibration {source!r}: no such file (expected c4, wikitext2, text:<inline>, or a "
            ".jsonl/.txt file)"
        )
    return _read_file(path)


def tokenize_documents(
    tokenizer: Any, documents: Sequence[str], chunk: int = 64
) -> tuple[list[int], list[int]]:
    """Token ids of all documents joined by the EOS token (when the tokenizer has one), and the
    position where each document starts.

    Tokenized in chunks of documents so the tokenizer's per-token bookkeeping (offsets, strings)
    never exists for the whole corpus at once (it dominated peak memory).
    """
    sep = getattr(tokenizer, "eos_token_id", None)
    ids: list[int] = []
    starts: list[int] = []
    for start in range(0, len(documents), chunk):
        enc = tokenizer(
            list(documents[start : start + chunk]),
            add_special_tokens=False,
            return_attention_mask=False,
            verbose=False,
        )
        for doc_ids in enc["input_ids"]:
            if ids and sep is not None:
                ids.append(int(sep))
            starts.append(len(ids))
            ids.extend(doc_ids)
    return ids, starts


def window_starts(total: int, nsamples: int, seqlen: int, seed: int) -> Any:
    """The `concat` sampler's seeded uniform start positions (an int64 tensor [N])."""
    import torch

    if total < seqlen:
        raise SpecError(
            f"calibration text has {total} tokens, shorter than one window of seqlen={seqlen}; "
            "use more text or a smaller seqlen"
        )
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, total - seqlen + 1, (nsamples,), generator=gen)


def sample_windows(token_ids: Sequence[int], nsamples: int, seqlen: int, seed: int) -> Any:
    """`nsamples` random windows of `seqlen` consecutive tokens, as an int64 tensor [N, L]."""
    import torch

    starts = window_starts(len(token_ids), nsamples, seqlen, seed)
    ids = torch.tensor(token_ids, dtype=torch.long)
    return ids[starts[:, None] + torch.arange(seqlen)[None, :]]


def documents_per_window(windows_starts: Sequence[int], seqlen: int, doc_starts: Sequence[int]) -> list[int]:
    """How many documents each window [s, s + seqlen) touches (1 = inside one document)."""
    out = []
    for s in windows_starts:
        first = bisect.bisect_right(doc_starts, s) - 1
        last = bisect.bisect_right(doc_starts, s + seqlen - 1) - 1
        out.append(last - first + 1)
    return out


def sample_documents(
    tokenizer: Any, documents: Sequence[str], nsamples: int, seqlen: int, seed: int
) -> tuple[Any, dict[str, Any]]:
    """The reference sampler (module docstring): one random window of a random document longer
    than `seqlen` tokens, per sample. Documents are tokenized lazily, each at most once."""
    import torch

    rng = random.Random(seed)
    lengths: dict[int, int] = {}
    long_docs: dict[int, list[int]] = {}

    def tokens(i: int) -> int:
        if i not in lengths:
            ids = tokenizer(documents[i], return_attention_mask=False, verbose=False)["input_ids"]
            lengths[i] = len(ids)
            if len(ids) > seqlen:
                long_docs[i] = list(ids)
        return lengths[i]

    rows, drawn, draws = [], [], 0
    for _ in range(nsamples):
        while True:
            i = rng.randint(0, len(documents) - 1) if len(documents) > 1 else 0
            draws += 1
            if tokens(i) > seqlen:
                break
            if len(lengths) == len(documents) and not long_docs:
                raise SpecError(
                    f"calibration: no document is longer than seqlen={seqlen} tokens (the longest has "
                    f"{max(lengths.values())}); use a smaller seqlen, sampler=concat, or longer documents"
                )
        start = rng.randint(0, lengths[i] - seqlen - 1)
        rows.append(long_docs[i][start : start + seqlen])
        drawn.append(i)
    record = {"documents_drawn": len(set(drawn)), "document_draws": draws, "windows_crossing_documents": 0}
    return torch.tensor(rows, dtype=torch.long), record


@dataclass(frozen=True)
class Calibration:
    input_ids: Any  # torch.LongTensor [nsamples, seqlen]
    record: dict[str, Any]


def model_max_positions(module: Any) -> int | None:
    config = getattr(module, "config", None)
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def load_calibration(
    tokenizer: Any,
    source: str | None,
    *,
    nsamples: int,
    seqlen: int,
    seed: int,
    max_positions: int | None = None,
    sampler: str = "document",
    hub_default: str = "c4",
) -> Calibration:
    """Draw the calibration windows; `seqlen` is clamped to `max_positions` (both recorded)."""
    if sampler not in SAMPLERS:
        raise SpecError(f"calibration sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    used = min(seqlen, max_positions) if max_positions else seqlen
    text = read_calibration_text(source, hub_default)
    record = dict(text.record)
    record.update(sampler=sampler, nsamples=nsamples, seqlen=used, seqlen_requested=seqlen, seed=seed)
    if sampler == "document":
        windows, drawn = sample_documents(tokenizer, text.documents, nsamples, used, seed)
        record.update(drawn)
        return Calibration(windows, record)
    token_ids, doc_starts = tokenize_documents(tokenizer, text.documents)
    windows = sample_windows(token_ids, nsamples, used, seed)
    starts = [int(s) for s in window_starts(len(token_ids), nsamples, used, seed)]
    touched = documents_per_window(starts, used, doc_starts)
    record.update(
        tokens_available=len(token_ids),
        windows_crossing_documents=sum(1 for t in touched if t > 1),
        documents_per_window_mean=sum(touched) / len(touched),
    )
    return Calibration(windows, record)
