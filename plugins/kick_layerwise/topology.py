"""The one place that knows where decoder blocks and their Linear layers live.

Every compressor (pruning and quantization) goes through `find_blocks`; embeddings and the LM head
are never returned, so they are never touched. `capture_block_inputs` / `run_block` let the
sequential calibration drive one block at a time with the exact keyword arguments (attention mask,
position ids, rotary position embeddings ...) the model itself passes to its blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from kick import ModelLoadError


@dataclass(frozen=True)
class Family:
    """An architecture family: where its blocks are and which Linear layers each block holds."""

    name: str
    model_types: tuple[str, ...]
    blocks_path: str
    linears: tuple[str, ...]
    conv1d: bool = False  # GPT-2: the layers are transformers' Conv1D (weight stored [in, out])


LLAMA_LINEARS = (
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)

FAMILIES: tuple[Family, ...] = (
    Family(
        "llama",
        ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "smollm3", "olmo", "olmo2", "granite"),
        "model.layers",
        LLAMA_LINEARS,
    ),
    Family(
        "opt",
        ("opt",),
        "model.decoder.layers",
        ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "fc1", "fc2"),
    ),
    Family(
        "gpt_neox",
        ("gpt_neox",),
        "gpt_neox.layers",
        ("attention.query_key_value", "attention.dense", "mlp.dense_h_to_4h", "mlp.dense_4h_to_h"),
    ),
    Family(
        "gpt2",
        ("gpt2",),
        "transformer.h",
        ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"),
        conv1d=True,
    ),
    Family(
        "phi",
        ("phi",),
        "model.layers",
        ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.dense", "mlp.fc1", "mlp.fc2"),
    ),
    Family(
        "phi3",
        ("phi3",),
        "model.layers",
        ("self_attn.qkv_proj", "self_attn.o_proj", "mlp.gate_up_proj", "mlp.down_proj"),
    ),
)
SUPPORTED = tuple(t for f in FAMILIES for t in f.model_types)
"""The model types compression supports (the README states the same list)."""


def is_conv1d(module: Any) -> bool:
    """transformers' Conv1D (GPT-2): a Linear whose weight is stored transposed, [in, out]."""
    w = getattr(module, "weight", None)
    return (
        type(module).__name__ == "Conv1D" and isinstance(w, torch.Tensor) and w.dim() == 2
        and getattr(module, "nf", None) == w.shape[1]
    )  # fmt: skip


def _transposed_state(module: nn.Module, state: dict[str, Any], prefix: str, _meta: Any) -> None:
    key = prefix + "weight"
    if key in state:  # saved as GPT-2 stores it, so save_pretrained gives a loadable GPT-2
        state[key] = state[key].t().contiguous()


def _transposed_load(module: nn.Module, state: dict[str, Any], prefix: str, *_: Any) -> None:
    key = prefix + "weight"
    if key in state:
        state[key] = state[key].t()


class Conv1DLinear(nn.Linear):
    """A Conv1D as the nn.Linear every compressor works on: weight [out, in] = the Conv1D's
    transposed, the same output (x W + b either way). Its state dict keeps GPT-2's layout, so a
    compressed model saves and loads as a plain GPT-2."""

    def __init__(self, conv: nn.Module) -> None:
        w: torch.Tensor = conv.weight  # type: ignore[assignment]
        bias = getattr(conv, "bias", None)
        super().__init__(w.shape[0], w.shape[1], bias=bias is not None, device=w.device, dtype=w.dtype)
        with torch.no_grad():
            self.weight.copy_(w.t())
            if bias is not None:
                self.bias.copy_(bias)
        self._register_state_dict_hook(_transposed_state)
        self._register_load_state_dict_pre_hook(_transposed_load, with_module=True)


def _as_linear(block: nn.Module, rel: str) -> Any:
    """The Linear at `rel` in `block`; a Conv1D there is replaced in place by a Conv1DLinear."""
    lin = _get_path(block, rel)
    if is_conv1d(lin):
        parent_path, _, attr = rel.rpartition(".")
        parent = _get_path(block, parent_path) if parent_path else block
        lin = Conv1DLinear(lin)
        setattr(parent, attr, lin)
    return lin


@dataclass(frozen=True)
class Block:
    """One decoder block and its compressible Linear layers, named `<index>.<relative name>`."""

    index: int
    module: nn.Module
    linears: Mapping[str, nn.Linear]


@dataclass(frozen=True)
class Topology:
    family: str
    model_type: str
    blocks: tuple[Block, ...]

    def linears(self) -> Iterator[tuple[str, nn.Linear]]:
        for block in self.blocks:
            yield from block.linears.items()


def _get_path(root: nn.Module, path: str) -> Any:
    obj: Any = root
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _match(model: nn.Module, family: Family) -> tuple[Block, ...] | None:
    layers = _get_path(model, family.blocks_path)
    if not isinstance(layers, nn.ModuleList) or len(layers) == 0:
        return None
    wanted = (
        (lambda m: is_conv1d(m) or isinstance(m, nn.Linear))
        if family.conv1d
        else (lambda m: isinstance(m, nn.Linear))
    )
    if not all(wanted(_get_path(block, rel)) for block in layers for rel in family.linears):
        return None  # checked before anything is replaced: a failed match leaves the model alone
    blocks = []
    for i, block in enumerate(layers):
        found = {f"{i}.{rel}": _as_linear(block, rel) for rel in family.linears}
        blocks.append(Block(i, block, found))
    return tuple(blocks)


def _looked_for(families: Iterable[Family]) -> str:
    return "; ".join(
        f"{f.name}: blocks at '{f.blocks_path}' with Linear {', '.join(f.linears)}" for f in families
    )


def find_blocks(model: nn.Module) -> Topology:
    """Locate the decoder blocks of a transformers causal LM, or raise ModelLoadError.

    A known `config.model_type` must match its family's layout exactly; an unknown model type is
    accepted only if its layout matches one of the known families exactly. GPT-2's Conv1D layers
    are replaced in place by equivalent `Conv1DLinear`s (same outputs, same saved layout).
    """
    config = getattr(model, "config", None)
    model_type = str(getattr(config, "model_type", "") or "")
    known = [f for f in FAMILIES if model_type in f.model_types]
    candidates = known or list(FAMILIES)
    for family in candidates:
        blocks = _match(model, family)
        if blocks is not None:
            return Topology(family.name, model_type, blocks)
    raise ModelLoadError(
        f"unsupported architecture {type(model).__name__} (model_type {model_type or 'unknown'!r}): "
        f"no decoder blocks found; compression supports {', '.join(SUPPORTED)}; looked for {_looked_for(candidates)}"
    )


# --- running one block on captured inputs -------------------------------------------------------


class _StopForward(Exception):
    """Raised by the capture hook once block 0 has seen its inputs."""


@dataclass
class BlockInputs:
    """Hidden states (one tensor per calibration batch; a list, or a kick_layerwise.activations
    store) and the kwargs the model passed with them."""

    hidden: Any
    kwargs: list[dict[str, Any]]


_DROP_KWARGS = ("cache", "past_key_values", "past_key_value", "layer_past")


@torch.no_grad()
def capture_block_inputs(
    model: nn.Module, first_block: nn.Module, input_ids: torch.Tensor, batch_size: int, sink: Any = None
) -> BlockInputs:
    """Run the model up to `first_block` for each batch of `input_ids` and keep what it receives
    (the hidden states appended to `sink`, default a new list).

    The keyword arguments are captured generically (whatever this architecture passes); caches are
    dropped and `use_cache` forced off so blocks can be re-run on their own.
    """
    captured = BlockInputs([] if sink is None else sink, [])

    def hook(_mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        kw = {k: v for k, v in kwargs.items() if k not in _DROP_KWARGS}
        hidden = args[0] if args else kw.pop("hidden_states")
        if "use_cache" in kw:
            kw["use_cache"] = False
        captured.hidden.append(hidden.detach())
        captured.kwargs.append(kw)
        raise _StopForward

    handle = first_block.register_forward_pre_hook(hook, with_kwargs=True)
    device = next(model.parameters()).device
    try:
        for start in range(0, input_ids.shape[0], batch_size):
            try:
                model(input_ids=input_ids[start : start + batch_size].to(device), use_cache=False)
            except _StopForward:
                pass
    finally:
        handle.remove()
    if len(captured.hidden) == 0:
        raise ModelLoadError("the model never called its first decoder block during calibration")
    return captured


def block_output(out: Any) -> torch.Tensor:
    """A block returns a tensor (transformers 5) or a tuple whose first item is the hidden state."""
    return out[0] if isinstance(out, (tuple, list)) else out


@torch.no_grad()
def run_block(block: nn.Module, hidden: torch.Tensor, kwargs: Mapping[str, Any]) -> torch.Tensor:
    return block_output(block(hidden, **kwargs))
