"""Calibration data, shared by every calibrated compressor.

`calibration` names where the text comes from:

* ``c4`` -- C4 (allenai/c4, English, first train shard) through `datasets`; needs the Hub;
* a path to a ``.jsonl`` file (each line a JSON object with a ``text`` field) or any text file;
* ``text:<inline text>`` -- the text itself (handy for tests);
* nothing -- ``$KICK_CALIBRATION``, else the shared C4 file (``<repo>/../shared/data/calibration/
  c4_validation_2k.jsonl`` or ``$KICK_SHARED_DATA/calibration/...``), else a SpecError.

The text is tokenized once (documents joined by the EOS token) and `nsamples` windows of `seqlen`
tokens are drawn at random start positions with a seeded generator (the paper: 128 x 2048, seed 0).
The returned record names the exact calibration (source, sha256, N, L, seed).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kick import KickError, SpecError, sha256_file

SHARED_C4 = Path("calibration") / "c4_validation_2k.jsonl"
C4_DATA_FILE = "en/c4-train.00000-of-01024.json.gz"


@dataclass(frozen=True)
class CalibrationText:
    """Documents plus a description of where they came from."""

    documents: tuple[str, ...]
    record: dict[str, Any]


def default_source() -> str:
    env = os.environ.get("KICK_CALIBRATION")
    if env:
        return env
    from dataset_builder.rows import shared_data_dir

    shared = shared_data_dir()
    if shared is not None and (shared / SHARED_C4).is_file():
        return str(shared / SHARED_C4)
    raise SpecError(
        "no calibration data: pass calibration=<file.jsonl|file.txt|c4|text:...>, or set "
        "KICK_CALIBRATION, or KICK_SHARED_DATA to a folder holding " + str(SHARED_C4)
    )


def _read_jsonl(path: Path) -> list[str]:
    """The `text` field of every line; a malformed line is an error naming file and line."""
    from dataset_builder.readers import iter_jsonl, require_field

    return [require_field(row, "text", str, f"{path}:{n}") for n, row in iter_jsonl(path)]


def _load_c4() -> list[str]:
    try:
        import datasets

        ds = datasets.load_dataset("allenai/c4", data_files={"train": C4_DATA_FILE}, split="train")
    except Exception as e:  # noqa: BLE001 - any network/dataset failure becomes one clear message
        raise KickError(
            f"calibration=c4 needs the Hugging Face Hub (allenai/c4 {C4_DATA_FILE}), which failed: "
            f"{type(e).__name__}: {e}. Pass a local file instead: calibration=/path/to/c4.jsonl"
        ) from None
    return [str(t) for t in ds["text"]]


def read_calibration_text(source: str | None) -> CalibrationText:
    """Resolve `source` (see module docstring) into documents and a provenance record."""
    src = source if source else default_source()
    if src.startswith("text:"):
        text = src[len("text:") :]
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return CalibrationText((text,), {"source": "inline", "sha256": sha, "chars": len(text)})
    if src.lower() == "c4":
        docs = _load_c4()
        return CalibrationText(
            tuple(docs), {"source": "c4", "dataset": "allenai/c4", "data_file": C4_DATA_FILE}
        )
    path = Path(src).expanduser()
    if not path.is_file():
        raise SpecError(
            f"calibration {src!r}: no such file (expected c4, text:<inline>, or a .jsonl/.txt file)"
        )
    if path.suffix.lower() == ".jsonl":
        docs = _read_jsonl(path)
    else:
        docs = [path.read_text(encoding="utf-8").replace("\r\n", "\n")]
    return CalibrationText(
        tuple(docs),
        {"source": "file", "path": str(path.resolve()), "sha256": sha256_file(path), "documents": len(docs)},
    )


def tokenize_documents(tokenizer: Any, documents: Sequence[str], chunk: int = 64) -> list[int]:
    """Token ids of all documents, joined by the EOS token when the tokenizer has one.

    Tokenized in chunks of documents so the tokenizer's per-token bookkeeping (offsets, strings)
    never exists for the whole corpus at once (it dominated peak memory).
    """
    sep = getattr(tokenizer, "eos_token_id", None)
    ids: list[int] = []
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
            ids.extend(doc_ids)
    return ids


def sample_windows(token_ids: Sequence[int], nsamples: int, seqlen: int, seed: int) -> Any:
    """`nsamples` random windows of `seqlen` consecutive tokens, as an int64 tensor [N, L]."""
    import torch

    total = len(token_ids)
    if total < seqlen:
        raise SpecError(
            f"calibration text has {total} tokens, shorter than one window of seqlen={seqlen}; "
            "use more text or a smaller seqlen"
        )
    ids = torch.tensor(token_ids, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, total - seqlen + 1, (nsamples,), generator=gen)
    offsets = torch.arange(seqlen)
    return ids[starts[:, None] + offsets[None, :]]


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
) -> Calibration:
    """Draw the calibration windows; `seqlen` is clamped to `max_positions` (both recorded)."""
    used = min(seqlen, max_positions) if max_positions else seqlen
    text = read_calibration_text(source)
    token_ids = tokenize_documents(tokenizer, text.documents)
    windows = sample_windows(token_ids, nsamples, used, seed)
    record = dict(text.record)
    record.update(
        nsamples=nsamples,
        seqlen=used,
        seqlen_requested=seqlen,
        seed=seed,
        tokens_available=len(token_ids),
    )
    return Calibration(windows, record)
