"""The report's provenance header, from the run summaries (pure): the model and its revision,
each task's data source, n and protocol, the calibration of each calibrated cell, kick's and the
plugins' versions, and the compression each cell measured (sparsity, N:M check, bits).

Every line is read from summary.json fields the runs wrote; nothing is assumed. A field a run
did not record shows as "not recorded"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kick.types import DENSE, Level

NOT_RECORDED = "not recorded"
DEFAULT_PROTOCOL = "kick"  # a task without a `protocol` setting runs kick's protocol
DEFAULT_SAMPLER = "random windows"  # the calibration sampler of runs that do not name one


@dataclass(frozen=True)
class TaskSource:
    model: str
    task: str
    source: str  # smoke: file, shared: path, hub: id
    sha256: str | None
    n: int | None
    protocol: str


@dataclass(frozen=True)
class CellCompression:
    """What one compressed cell measured on its weights."""

    model: str
    label: str  # method @ level [seed]
    sparsity: float | None
    nm: str | None  # 'ok (2:4, 0 of 36864 groups violate)' / 'VIOLATED (...)'
    bits: str | None  # '4 bits, groups of 64: max 16 levels per group (within the grid)'
    calibration: str | None  # source, sampler, N x L, seed
    seconds: float | None


@dataclass(frozen=True)
class Header:
    models: tuple[str, ...]  # one line per model
    tasks: tuple[TaskSource, ...]
    cells: tuple[CellCompression, ...]
    versions: str


def _source(settings: Mapping[str, Any]) -> tuple[str, str | None]:
    src = settings.get("source") or {}
    if not isinstance(src, Mapping):
        return str(src), None
    kind = src.get("kind") or "?"
    where = (
        src.get("repo_id") or src.get("hub_id") or src.get("location") or src.get("file") or src.get("path")
    )
    if where and kind != "hub" and not src.get("repo_id"):
        where = Path(str(where)).name if kind == "smoke" else str(where)
    text = f"{kind}: {where}" if where else str(kind)
    if src.get("revision"):
        text += f" @ {src['revision']}"
    sha = src.get("sha256")
    return text, str(sha) if sha else None


def _model_line(s: Mapping[str, Any]) -> str:
    m = s.get("model") or {}
    spec = (s.get("spec") or {}).get("model") or {}
    name = spec.get("name") or m.get("id") or "?"
    rev = m.get("revision") or spec.get("revision")
    parts = [f"{name} (revision {rev or NOT_RECORDED + ': a local or embedded model'})"]
    for key in ("architecture", "dtype", "device"):
        if m.get(key):
            parts.append(f"{key} {m[key]}")
    if isinstance(m.get("parameters"), int):
        parts.append(f"{m['parameters'] / 1e6:.1f}M parameters")
    src = m.get("source") or {}
    if isinstance(src, Mapping) and src.get("gguf"):
        parts.append(f"from {src['gguf']} (sha256 {str(src.get('gguf_sha256', ''))[:12]})")
        if src.get("note"):
            parts.append(str(src["note"]))
    if m.get("note"):  # e.g. the embedded model: a dequantized 4-bit GGUF (quantizing it re-quantizes)
        parts.append(str(m["note"]))
    return ", ".join(parts)


def calibration_text(rec: Mapping[str, Any] | None) -> str | None:
    """'file demo-calibration.txt (sha256 ab12..), random windows, 16 x 256 tokens, seed 0'."""
    if not rec:
        return None
    src = rec.get("source") or "?"
    where = rec.get("path") or rec.get("dataset")
    text = f"{src} {Path(str(where)).name}" if where else str(src)
    if rec.get("sha256"):
        text += f" (sha256 {str(rec['sha256'])[:12]})"
    sampler = rec.get("sampler") or DEFAULT_SAMPLER
    text += f", {sampler}, {rec.get('nsamples', '?')} x {rec.get('seqlen', '?')} tokens"
    return text + f", seed {rec.get('seed', '?')}"


def _nm_text(nm: Mapping[str, Any] | None) -> str | None:
    if not nm:
        return None
    state = "ok" if nm.get("ok") else "VIOLATED"
    return f"{state} ({nm.get('n')}:{nm.get('m')}, {nm.get('groups_violating')} of {nm.get('groups')} groups violate)"


def _bits_text(q: Mapping[str, Any] | None) -> str | None:
    if not q:
        return None
    gs = q.get("group_size")
    groups = "per channel" if gs == -1 else f"groups of {gs}"
    grid = "within the grid" if q.get("within_grid") else "OUTSIDE the grid"
    return (
        f"{q.get('bits')} bits, {groups}: at most {q.get('max_levels_per_group')} levels per group ({grid})"
    )


def _cell(s: Mapping[str, Any], label: str, model: str) -> CellCompression:
    c = s.get("compression") or {}
    sp = c.get("sparsity")
    secs = c.get("wall_seconds", c.get("seconds"))
    return CellCompression(
        model, label, float(sp) if isinstance(sp, (int, float)) else None, _nm_text(c.get("nm")),
        _bits_text(c.get("quantization")), calibration_text(c.get("calibration")),
        float(secs) if isinstance(secs, (int, float)) else None,
    )  # fmt: skip


def _versions(s: Mapping[str, Any]) -> str:
    p = s.get("provenance") or {}
    libs = p.get("libraries") or {}
    parts = [f"kick {p.get('kick', NOT_RECORDED)}"]
    plugins = p.get("plugins") or {}
    dists = sorted(
        {f"{v.get('distribution')} {v.get('version')}" for v in plugins.values() if isinstance(v, Mapping)}
    )
    if plugins:
        parts.append(f"plugins {', '.join(sorted(plugins))} from {'; '.join(dists)}")
    parts += [f"{k} {libs[k]}" for k in ("torch", "transformers", "datasets") if k in libs]
    if p.get("python"):
        parts.append(f"python {p['python']}")
    return ", ".join(parts)


def _label(s: Mapping[str, Any]) -> str:
    comp = (s.get("spec") or {}).get("compression") or {}
    level = Level.from_dict(s["level"]) if s.get("level") else Level.from_params(comp.get("params") or {})
    seed = (s.get("cell") or {}).get("seed")
    return f"{comp.get('name', '?')} @ {level.label}" + (f" seed {seed}" if isinstance(seed, int) else "")


def header(summaries: Sequence[Mapping[str, Any]]) -> Header:
    """The provenance header of the runs behind one report."""
    models: dict[str, str] = {}
    tasks: dict[tuple[str, str], TaskSource] = {}
    cells: list[CellCompression] = []
    versions = ""
    for s in summaries:
        model = ((s.get("spec") or {}).get("model") or {}).get("name") or (s.get("model") or {}).get(
            "id", "?"
        )
        models.setdefault(model, _model_line(s))
        versions = versions or _versions(s)
        for task, entry in (s.get("tasks") or {}).items():
            settings = entry.get("settings") or {}
            dense = (entry.get("metrics") or {}).get(DENSE) or {}
            if (model, task) not in tasks or (dense and tasks[(model, task)].n is None):
                src, sha = _source(settings)
                n = dense.get("n", settings.get("n"))
                protocol = str(settings.get("protocol") or DEFAULT_PROTOCOL)
                tasks[(model, task)] = TaskSource(
                    model, task, src, sha, n if isinstance(n, int) else None, protocol
                )
        if (s.get("spec") or {}).get("compression") and s.get("compression"):
            cells.append(_cell(s, _label(s), model))
    return Header(tuple(models.values()), tuple(tasks.values()), tuple(cells), versions or NOT_RECORDED)


def task_settings(summaries: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """Each (model, task)'s settings, from the first summary that has them."""
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    for s in summaries:
        model = ((s.get("spec") or {}).get("model") or {}).get("name") or (s.get("model") or {}).get(
            "id", "?"
        )
        for task, entry in (s.get("tasks") or {}).items():
            out.setdefault((model, task), entry.get("settings") or {})
    return out
