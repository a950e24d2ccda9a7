"""The model a run (`kick.runner.run`) works on: the one given, or loaded from the spec only when
a phase first needs it, then checked once against the compressor (`Compressor.check`)."""

from __future__ import annotations

from typing import Any

from kick.interfaces import Progress
from kick.plugins import PluginSet, load_model
from kick.provenance import seed_everything
from kick.types import RunSpec
from kick.validate import Components, check_model


class ModelSlot:
    """The run's model: the one given, or loaded from the spec on first use."""

    def __init__(
        self,
        spec: RunSpec,
        plugins: PluginSet,
        model: Any,
        progress: Progress,
        comps: Components | None,
        offload: bool = False,
    ) -> None:
        self._spec, self._plugins, self._model, self._progress = spec, plugins, model, progress
        self._comps = comps  # checked against the model on first use (None: nothing to check)
        self._offload = offload

    @property
    def ready(self) -> bool:
        return self._model is not None

    def get(self) -> Any:
        if self._model is None:
            self._progress.stage(f"loading model {self._spec.model.name}")
            seed_everything(self._spec.seed)
            self._model = load_model(self._spec.model, self._plugins, offload=self._offload)
        if self._comps is not None:
            comps, self._comps = self._comps, None
            check_model(comps.compressor, self._model, comps.owners.get("compressor", ""))
        return self._model

    def info(self) -> dict[str, Any]:
        return dict(self.get().info())

    def clipped(self) -> tuple[int, int]:
        """Prompts the model cut to fit its context so far, and the tokens cut (0, 0 when it
        does not say)."""
        m = self._model
        return int(getattr(m, "clipped_prompts", 0) or 0), int(getattr(m, "clipped_tokens", 0) or 0)
