"""Range checks used by the frozen configs' __post_init__ (each raises SpecError)."""

from __future__ import annotations

from kick import SpecError, parse_pattern


def check_sparsity(owner: str, sparsity: float) -> None:
    if not 0.0 <= sparsity < 1.0:
        raise SpecError(f"{owner}: sparsity must be a fraction in [0, 1), got {sparsity}")


def check_pattern(owner: str, pattern: str) -> None:
    try:
        parse_pattern(pattern)
    except SpecError as e:
        raise SpecError(f"{owner}: {e}") from None


def check_positive(owner: str, **values: float) -> None:
    for key, value in values.items():
        if value <= 0:
            raise SpecError(f"{owner}: {key} must be positive, got {value}")


def check_bits(owner: str, bits: int) -> None:
    if bits not in (2, 3, 4, 8):
        raise SpecError(f"{owner}: bits must be one of 2, 3, 4, 8, got {bits}")


def check_group_size(owner: str, group_size: int) -> None:
    if group_size != -1 and group_size <= 0:
        raise SpecError(f"{owner}: group_size must be positive or -1 (per channel), got {group_size}")


def check_calibration(
    owner: str, nsamples: int, seqlen: int, seed: int, batch_size: int, sampler: str = "document",
    activations: str = "memory",
) -> None:  # fmt: skip
    check_positive(owner, nsamples=nsamples, seqlen=seqlen, batch_size=batch_size)
    if seed < 0:
        raise SpecError(f"{owner}: seed must be >= 0, got {seed}")
    if sampler not in ("document", "concat"):
        raise SpecError(f"{owner}: sampler must be document or concat, got {sampler!r}")
    if activations not in ("memory", "disk"):
        raise SpecError(f"{owner}: activations must be memory or disk, got {activations!r}")
