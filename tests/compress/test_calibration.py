"""Calibration sources, windows, provenance; perplexity (the task) over non-overlapping windows."""

from __future__ import annotations

import hashlib
import json
import math
import random
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
    cal = load_calibration(tok, str(jl), nsamples=4, seqlen=64, seed=0, sampler="concat")
    rec = cal.record
    assert rec["source"] == "file" and rec["documents"] == 3 and rec["sampler"] == "concat"
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


def test_default_calibration_without_the_hub_is_the_shared_c4_file_and_says_why(
    monkeypatch: pytest.MonkeyPatch, shared_data: Path
) -> None:
    monkeypatch.delenv("KICK_CALIBRATION", raising=False)
    monkeypatch.setenv("KICK_SHARED_DATA", str(shared_data))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    text = read_calibration_text(None)
    assert text.record["path"].endswith("c4_validation_2k.jsonl")
    assert text.record["documents"] == 2000 and len(text.record["sha256"]) == 64
    assert text.record["default"] == "shared"
    assert text.record["fallback"].startswith("c4 not used: HF_HUB_OFFLINE is set")
    gptq = read_calibration_text(None, "wikitext2")  # never the shared WikiText-2 *test* file
    assert gptq.record["path"].endswith("c4_validation_2k.jsonl")
    assert gptq.record["fallback"].startswith("wikitext2 not used")


def test_no_calibration_found_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KICK_CALIBRATION", raising=False)
    monkeypatch.setenv("KICK_SHARED_DATA", str(tmp_path))  # a shared folder without C4
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
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


# --- the samplers ---------------------------------------------------------------------------------


def _reference_document_windows(
    docs: list[list[int]], nsamples: int, seqlen: int, seed: int
) -> list[list[int]]:
    """The Wanda/SparseGPT C4 loader's rule, restated: random document until one is longer than
    seqlen, then a random start in [0, len - seqlen - 1] (Python's `random`, seeded once)."""
    random.seed(seed)
    out = []
    for _ in range(nsamples):
        while True:
            doc = docs[random.randint(0, len(docs) - 1)]
            if len(doc) > seqlen:
                break
        i = random.randint(0, len(doc) - seqlen - 1)
        out.append(doc[i : i + seqlen])
    return out


def _docs_file(tmp_path: Path, lengths: list[int]) -> tuple[Path, list[list[int]]]:
    tok = word_tokenizer()
    texts = [random_text(n, seed=k) for k, n in enumerate(lengths)]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return path, [tok(t)["input_ids"] for t in texts]


def test_document_sampler_draws_as_the_reference_loaders_do(tmp_path: Path) -> None:
    lengths = [30, 200, 64, 65, 10, 500, 90, 64, 300]  # 64 tokens is not longer than seqlen=64
    path, docs = _docs_file(tmp_path, lengths)
    cal = load_calibration(word_tokenizer(), str(path), nsamples=12, seqlen=64, seed=5)
    expected = _reference_document_windows(docs, 12, 64, 5)
    assert cal.input_ids.tolist() == expected
    rec = cal.record
    assert rec["sampler"] == "document" and rec["windows_crossing_documents"] == 0
    assert rec["document_draws"] >= 12 and 1 <= rec["documents_drawn"] <= 5  # 5 documents qualify
    assert (
        load_calibration(word_tokenizer(), str(path), nsamples=12, seqlen=64, seed=6).input_ids.tolist()
        != expected
    )


def test_document_sampler_with_one_document_draws_only_the_start_as_gptqs_wikitext_loader() -> None:
    text = random_text(700)
    ids = word_tokenizer()(text)["input_ids"]
    cal = load_calibration(word_tokenizer(), "text:" + text, nsamples=5, seqlen=50, seed=3)
    random.seed(3)
    starts = [random.randint(0, len(ids) - 50 - 1) for _ in range(5)]
    assert cal.input_ids.tolist() == [ids[i : i + 50] for i in starts]


def test_document_sampler_without_a_long_enough_document_is_a_spec_error(tmp_path: Path) -> None:
    path, _ = _docs_file(tmp_path, [20, 64, 40])
    with pytest.raises(
        SpecError, match="no document is longer than seqlen=64 tokens \\(the longest has 64\\)"
    ):
        load_calibration(word_tokenizer(), str(path), nsamples=2, seqlen=64, seed=0)
    cal = load_calibration(word_tokenizer(), str(path), nsamples=2, seqlen=64, seed=0, sampler="concat")
    assert cal.record["windows_crossing_documents"] == 2  # every window of 64 spans documents here


def test_concat_sampler_counts_the_windows_that_cross_a_document_boundary(tmp_path: Path) -> None:
    lengths = [100, 37, 250, 80, 12, 160]
    path, docs = _docs_file(tmp_path, lengths)
    cal = load_calibration(word_tokenizer(), str(path), nsamples=40, seqlen=48, seed=1, sampler="concat")
    owner: list[int] = []  # the document of every stream position (a separator goes with the one before)
    for d, doc in enumerate(docs):
        owner.extend([d] * len(doc) + ([d] if d < len(docs) - 1 else []))
    stream = [t for d, doc in enumerate(docs) for t in doc + ([1] if d < len(docs) - 1 else [])]
    crossing = touched = 0
    for row in cal.input_ids.tolist():
        s = next(i for i in range(len(stream) - 47) if stream[i : i + 48] == row)
        crossing += owner[s] != owner[s + 47]
        touched += owner[s + 47] - owner[s] + 1
    assert 0 < cal.record["windows_crossing_documents"] == crossing < 40
    assert cal.record["documents_per_window_mean"] == pytest.approx(touched / 40)


def test_default_calibration_uses_the_hub_when_it_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets
    from kick_layerwise import calibration

    asked = []

    class Rows:
        _fingerprint = "abc123"

        def __getitem__(self, key: str) -> list[str]:
            assert key == "text"
            return ["first row", "", "second row"]

    def fake_load(*args: object, **kwargs: object) -> Rows:
        asked.append((args, kwargs))
        return Rows()

    monkeypatch.delenv("KICK_CALIBRATION", raising=False)
    monkeypatch.setattr(calibration, "hub_unreachable", lambda: None)
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    c4 = read_calibration_text(None)
    assert asked[-1] == (
        ("allenai/c4",),
        {"data_files": {"train": calibration.C4_DATA_FILE}, "split": "train"},
    )
    assert c4.documents == ("first row", "", "second row")
    assert (c4.record["source"], c4.record["default"], c4.record["fingerprint"]) == ("c4", "c4", "abc123")
    wiki = read_calibration_text(None, "wikitext2")
    assert asked[-1] == (calibration.WIKITEXT, {"split": "train"})
    assert wiki.documents == ("first row\n\n\n\nsecond row",)  # rows joined as GPTQ's loader does
    assert wiki.record["source"] == "wikitext2" and wiki.record["rows"] == 3


def test_hub_probe_is_offline_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from kick_layerwise.calibration import hub_unreachable

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    assert hub_unreachable() == "HF_DATASETS_OFFLINE is set"
    monkeypatch.delenv("HF_DATASETS_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    assert "127.0.0.1:9 unreachable" in str(hub_unreachable())


def test_compressors_take_the_sampler_and_gptq_defaults_to_wikitext2() -> None:
    from kick_prune.sparsegpt import make_sparsegpt
    from kick_prune.wanda import make_wanda
    from kick_quant.gptq import make_gptq, plan

    with pytest.raises(SpecError, match="wanda: sampler must be document or concat, got 'random'"):
        make_wanda(sampler="random")
    assert make_sparsegpt(sampler="concat").config.sampler == "concat"
    gptq = make_gptq()
    settings = plan(gptq.config).calibration
    assert settings is not None and (settings.sampler, settings.hub_default) == ("document", "wikitext2")
