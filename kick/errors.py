"""The few error types a user can cause. The CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class KickError(Exception):
    """Base class: an error with a message meant for the user, never a traceback."""


class SpecError(KickError):
    """A run specification, parameter or option is invalid."""


class UnknownComponentError(KickError):
    """A model, compressor, task or judge name is not registered."""


class DuplicateComponentError(KickError):
    """Two plugins registered the same name for the same kind of component."""


class PluginLoadError(KickError):
    """A plugin could not be imported or its hook failed (raised only in strict mode)."""


class DataError(KickError):
    """A dataset file or row is missing or malformed."""


class ModelLoadError(KickError):
    """A model could not be loaded (missing folder, not a causal LM, unsupported architecture)."""


class RunDirError(KickError):
    """A run directory exists, is not writable, or was written by a different spec."""
