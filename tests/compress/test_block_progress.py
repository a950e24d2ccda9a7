"""The layer-wise engine reports each compressed block as a `kick.progress` log record, so the
terminal shows a bar with an ETA while a compressor runs (plain and calibrated paths)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from kick_prune.magnitude import make_magnitude
from kick_prune.wanda import make_wanda
from support.tiny import random_text, tiny_llama

pytestmark = pytest.mark.torch


@pytest.mark.parametrize(
    "factory, params",
    [(make_magnitude, {}), (make_wanda, {"calibration": "text:" + random_text(3000), "nsamples": 4, "seqlen": 32})],
)
def test_every_block_is_reported_in_order(factory: Any, params: dict[str, Any], caplog: Any) -> None:
    model = tiny_llama(0, tokenizer="words")
    blocks = len(model.module.model.layers)
    with caplog.at_level(logging.INFO, logger="kick.progress"):
        factory(**params).compress(model)
    seen = [r.kick_progress for r in caplog.records if hasattr(r, "kick_progress")]
    name = factory.__name__.removeprefix("make_")
    assert seen == [(f"compress/{name}", f"compressing ({name}), blocks", k, blocks) for k in range(blocks + 1)]
