"""Optional plugin: llm-compressor recipes as a kick compressor (`pip install 'kick[llmcompressor]'`).

`--method llmcompressor --param recipe=FILE.yaml` (or a preset: W4A16, W8A8, awq-w4a16) runs
`llmcompressor.oneshot` on kick's calibration windows, so every recipe of its zoo is evaluated
like the built-in methods. Only the hook lives here; llm-compressor is imported when the
compressor is built, and its absence is one clear line before any work.
"""

from __future__ import annotations

from kick import Register, hookimpl


@hookimpl
def register_compressors(register: Register) -> None:
    register(
        "llmcompressor",
        "kick_llmcompressor.recipes:make_llmcompressor",
        description="llm-compressor oneshot: recipe=FILE.yaml or W4A16 / W8A8 / awq-w4a16 (kick[llmcompressor])",
        seeded=True,
    )
