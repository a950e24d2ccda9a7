"""Calibration sources, windows, provenance; perplexity (the task) over non-overlapping windows."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from kick_layerwise.calibration import load_calibration, read_calibration_text, sample_windows
from support.tiny import perplexity, random_text, tiny_llama, word_tokenizer

from kick.errors import KickError, SpecError

pytestmark = pytest.mark.torch


def tiny_model() -> Any:
    """The tiny Llama with the word-level tokenizer (calibration text tokenizes exactly)."""
    return tiny_llama(tokenizer="words")


def test_windows_are_seeded_random_slices_of_the_token_stream() -> None:
    ids = list(range(1000))
    a = sample_windows(ids, 6, 50, seed=0)
    assert a.shape == (6, 50)
    assert bool((a[:, 1:] - a[:, :-1] == 1).all())  # consecutive tokens
    assert torch.equal(a, sample_windows(ids, 6, 50, seed=0))
    assert not torch.equal(a, sample_windows(ids, 6, 50, seed=1))


def test_text_shorter_than_one_window_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="49 tokens, shorter than one window of seqlen=50"):
        sample_windows(list(range(49)), 1, 50, seed=0)


def test_jsonl_and_text_files_are_read_and_recorded_with_sha256(tmp_path: Path) -> None:
    tok = word_tokenizer()
    jl = tmp_path / "c.jsonl"
    jl.write_text("\n".join(json.dumps({"text": random_text(100, seed=s)}) for s in range(3)) + "\n")
    cal = load_calibration(tok, str(jl), nsamples=4, seqlen=64, seed=0)
    rec = cal.record
    assert rec["source"] == "file" and rec["documents"] == 3
    assert rec["sha256"] == hashlib.sha256(jl.read_bytes()).hexdigest()
    assert rec["tokens_available"] == 3 * 100 + 2  # EOS between documents
    assert cal.input_ids.shape == (4, 64)
    txt = tmp_path / "c.txt"
    txt.write_text(random_text(200).replace(" w1 ", "\r\nw1 "))
    cal = load_calibration(tok, str(txt), nsamples=2, seqlen=16, seed=3)
    assert cal.record["sha256"] == hashlib.sha256(txt.read_bytes()).hexdigest() and cal.record["seed"] == 3


def test_malformed_jsonl_is_a_data_error_naming_the_line(tmp_path: Path) -> None:
    from kick.errors import DataError

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\n{"txt": "b"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: missing field 'text'"):
        read_calibration_text(str(bad))
    bad.write_text('{"text": "a"}\nnot json\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: invalid JSON"):
        read_calibration_text(str(bad))


def test_seqlen_is_clamped_to_the_models_positions_and_recorded() -> None:
    tok = word_tokenizer()
    cal = load_calibration(
        tok, "text:" + random_text(600), nsamples=2, seqlen=2048, seed=0, max_positions=256
    )
    assert cal.input_ids.shape == (2, 256)
    assert cal.record["seqlen"] == 256 and cal.record["seqlen_requested"] == 2048


def test_default_calibration_is_the_shared_c4_file(
    monkeypatch: pytest.MonkeyPatch, shared_data: Path
) -> None:
    data = shared_data
    monkeypatch.delenv("KICK_CALIBRATION", raising=False)
    monkeypatch.setenv("KICK_SHARED_DATA", str(data))
    text = read_calibration_text(None)
    assert text.record["path"].endswith("c4_validation_2k.jsonl")
    assert text.record["documents"] == 2000 and len(text.record["sha256"]) == 64


def test_no_calibration_found_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KICK_CALIBRATION", raising=False)
    monkeypatch.setenv("KICK_SHARED_DATA", str(tmp_path))  # a shared folder without C4
    with pytest.raises(SpecError, match="no calibration data"):
        read_calibration_text(None)


def test_c4_without_the_hub_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    def offline(*_a: object, **_k: object) -> None:
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(KickError, match="calibration=c4 needs the Hugging Face Hub"):
        read_calibration_text("c4")


def test_perplexity_equals_exp_of_mean_token_nll_over_windows(tmp_path: Path) -> None:
    model = tiny_model()
    tok = model.tokenizer
    text = random_text(333)
    (tmp_path / "t.raw").write_text(text)
    scores, pred = perplexity(model, tmp_path / "t.raw", window=64, max_windows=4, batch_size=3)
    assert (pred.extra["windows"], pred.extra["tokens"]) == (4, 4 * 63)
    ids = torch.tensor(tok(text, add_special_tokens=False)["input_ids"][: 4 * 64]).reshape(4, 64)
    nll = 0.0
    with torch.no_grad():
        for row in ids:
            logp = torch.log_softmax(model.module(input_ids=row[None]).logits[0, :-1], -1)
            nll -= float(logp.gather(1, row[1:, None]).sum())
    assert pred.extra["nll_sum"] == pytest.approx(nll, rel=1e-5)
    assert scores["perplexity"] == pytest.approx(math.exp(nll / (4 * 63)), rel=1e-5)
    assert perplexity(model, tmp_path / "t.raw", window=64)[1].extra["windows"] == 333 // 64


def test_perplexity_of_text_shorter_than_a_window_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "t.raw").write_text(random_text(10))
    scores, pred = perplexity(tiny_model(), tmp_path / "t.raw", window=64)
    assert scores == {} and pred.error == "text shorter than one window of 64 tokens"


def test_perplexity_with_max_windows_scores_the_same_tokens_as_full_tokenization(tmp_path: Path) -> None:
    (tmp_path / "t.raw").write_text(random_text(6000))
    model = tiny_model()
    _, short = perplexity(model, tmp_path / "t.raw", window=64, max_windows=2)
    assert short.extra["windows"] == 2 and short.extra["tokens"] == 126
    _, full = perplexity(model, tmp_path / "t.raw", window=64, batch_size=16)
    assert full.extra["windows"] == 6000 // 64
    assert short.extra["window_nll"] == pytest.approx(full.extra["window_nll"][:2], rel=1e-6)
