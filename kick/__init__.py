"""kick: the knowledge-intensive truth about compressed LLMs (LLM-KICK as a tool).

This module is kick's public face: what a plugin (built-in or third-party) and a script may
import. Built-in plugins import only from here; anything not listed in `__all__` is internal and
may change. The core is importable without torch; everything that does work lives in plugins.

    import kick

    @kick.hookimpl
    def register_compressors(register: kick.Register) -> None:
        register("random", "my_plugin.prune:make_random", levels=("sparsity",))

    summary = kick.run(spec, Path("runs/x"), plugins=kick.load_plugins())
"""

__version__ = "0.1.0"

from kick.batch_progress import ProgressFn, Ticker, progress_kwargs, scaled  # noqa: E402
from kick.errors import (  # noqa: E402
    DataError,
    DuplicateComponentError,
    KickError,
    ModelLoadError,
    PluginLoadError,
    RunDirError,
    SpecError,
    UnknownComponentError,
)
from kick.extras import MissingExtraError, require_extra  # noqa: E402
from kick.files import sha256_file  # noqa: E402
from kick.hookspecs import Register, hookimpl  # noqa: E402
from kick.interfaces import (  # noqa: E402
    ChatTurns,
    CompressibleModel,
    Compressor,
    Judge,
    ModelBackend,
    Progress,
    Task,
)
from kick.params import build_config, config_fields  # noqa: E402
from kick.plugins import DEFAULT_MODEL, PluginSet, load_model, load_plugins  # noqa: E402
from kick.types import (  # noqa: E402
    COMPRESSED,
    DENSE,
    ComponentSpec,
    JudgeItem,
    Judgement,
    Level,
    ModelSpec,
    Prediction,
    Record,
    RunSpec,
    Sample,
    Scalar,
    parse_pattern,
)

_LAZY = {"run": "kick.runner", "rejudge": "kick.runner"}
"""Names imported on first use, so `import kick.<module>` does not load the whole pipeline."""


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kick' has no attribute {name!r}")


__all__ = [
    "COMPRESSED",
    "DEFAULT_MODEL",
    "DENSE",
    "ChatTurns",
    "ComponentSpec",
    "CompressibleModel",
    "Compressor",
    "DataError",
    "DuplicateComponentError",
    "Judge",
    "JudgeItem",
    "Judgement",
    "KickError",
    "Level",
    "MissingExtraError",
    "ModelBackend",
    "ModelLoadError",
    "ModelSpec",
    "PluginLoadError",
    "PluginSet",
    "Prediction",
    "Progress",
    "ProgressFn",
    "Record",
    "Register",
    "RunDirError",
    "RunSpec",
    "Sample",
    "Scalar",
    "SpecError",
    "Task",
    "Ticker",
    "UnknownComponentError",
    "__version__",
    "build_config",
    "config_fields",
    "hookimpl",
    "load_model",
    "load_plugins",
    "parse_pattern",
    "progress_kwargs",
    "rejudge",
    "require_extra",
    "run",
    "scaled",
    "sha256_file",
]
