"""The sweep on a real torch module: a tiny random Llama, pruned by a magnitude pruner and scored
by its logits, so deep copies of a real nn.Module and the dense-once guarantee are exercised."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from kick.hookspecs import hookimpl  # noqa: E402
from kick.plugins import load_plugins  # noqa: E402
from kick.sweep import run_sweep  # noqa: E402
from kick.sweep_spec import levels_from, parse_sweep_spec  # noqa: E402
from kick.types import Prediction, Record, Sample  # noqa: E402


class TinyLlama:
    def __init__(self) -> None:
        torch.manual_seed(0)
        cfg = transformers.LlamaConfig(
            vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
        )  # fmt: skip
        self.module = transformers.LlamaForCausalLM(cfg).eval()

    def info(self) -> Mapping[str, Any]:
        return {"id": "tiny-llama", "parameters": sum(p.numel() for p in self.module.parameters())}

    def token_nll(self, windows: Sequence[Sequence[int]], *, batch_size: int = 8) -> list[tuple[float, int]]:
        out = []
        with torch.no_grad():
            for w in windows:
                ids = torch.tensor([list(w)])
                logits = self.module(ids).logits[0, :-1]
                nll = torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="sum")
                out.append((float(nll), len(w) - 1))
        return out


class TorchMagnitude:
    name = "torch-magnitude"

    def __init__(self, sparsity: float) -> None:
        self.sparsity = sparsity

    def compress(self, model: TinyLlama) -> Mapping[str, Any]:
        zeros = total = 0
        for block in model.module.model.layers:
            for lin in (m for m in block.modules() if isinstance(m, torch.nn.Linear)):
                w = lin.weight.data
                k = int(self.sparsity * w.numel())
                thresh = w.abs().flatten().kthvalue(k).values
                w[w.abs() <= thresh] = 0.0
                zeros += int((w == 0).sum())
                total += w.numel()
        return {"sparsity": zeros / total}


class PplTask:
    name = "tiny-ppl"
    judge_kind = None
    primary_metric = "ppl"
    lower_is_better = ("ppl",)

    def __init__(self, limit: int | None = None, seed: int = 0) -> None:
        self.n = limit or 4

    def settings(self) -> Mapping[str, Any]:
        return {}

    def samples(self) -> Sequence[Sample]:
        return [
            Sample(f"w{i}", "", reference=[(i * 7 + j * 3) % 64 for j in range(16)]) for i in range(self.n)
        ]

    def predict(self, model: Any, samples: Sequence[Sample], *, batch_size: int) -> list[Prediction]:
        res = model.token_nll([s.reference for s in samples])
        return [
            Prediction(s.id, "", extra={"nll": nll, "n": n}) for s, (nll, n) in zip(samples, res, strict=True)
        ]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        return {"nll": prediction.extra["nll"] / prediction.extra["n"]}

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        import math

        return {"ppl": math.exp(sum(r.scores["nll"] for r in records) / len(records))}


class Plugin:
    @hookimpl
    def register_compressors(self, register: Any) -> None:
        register("torch-magnitude", TorchMagnitude, levels=("sparsity",))

    @hookimpl
    def register_tasks(self, register: Any) -> None:
        register("tiny-ppl", PplTask)


def test_tiny_llama_sweep_prunes_fresh_copies_and_perplexity_rises(tmp_path: Path) -> None:
    plugins = load_plugins(extra=[("tiny", Plugin())], eps=[])
    loads: list[TinyLlama] = []

    def loader(spec: Any, ps: Any) -> TinyLlama:
        loads.append(TinyLlama())
        return loads[-1]

    spec = parse_sweep_spec(
        levels_of=levels_from(plugins),
        data=        {
            "model": "tiny",
            "methods": ["torch-magnitude"],
            "sparsity": [0.5, 0.9],
            "tasks": ["tiny-ppl"],
            "copy": "copy",
        }
    )
    run_sweep(spec, tmp_path, plugins=plugins, model_loader=loader)
    import json

    def summary(cell: str) -> Any:
        return json.loads((tmp_path / "tiny" / cell / "summary.json").read_text())

    assert len(loads) == 1 and int((loads[0].module.model.layers[0].mlp.up_proj.weight == 0).sum()) == 0
    assert summary("torch-magnitude-s0.5")["compression"]["sparsity"] == pytest.approx(0.5, abs=0.01)
    assert summary("torch-magnitude-s0.9")["compression"]["sparsity"] == pytest.approx(0.9, abs=0.01)
    dense = summary("dense")["tasks"]["tiny-ppl"]["metrics"]["dense"]["ppl"]
    p50 = summary("torch-magnitude-s0.5")["tasks"]["tiny-ppl"]
    assert p50["metrics"]["dense"]["ppl"] == dense
    assert p50["comparison"]["ppl"]["lower_is_better"] is True
    assert summary("torch-magnitude-s0.9")["tasks"]["tiny-ppl"]["metrics"]["compressed"]["ppl"] != dense
