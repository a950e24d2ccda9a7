"""The few error types a user can cause. The CLI prints them as one line and exits non-zero."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager


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


class PluginError(KickError):
    """A plugin's code raised while kick called it (compressing, predicting, judging)."""


@contextmanager
def plugin_errors(owner: str, doing: str, error: type[KickError] | None = None) -> Iterator[None]:
    """Turn anything a plugin's code raises, `SystemExit` included, into one PluginError naming
    the plugin (`owner`, e.g. "compressor 'wanda' of plugin 'kick_prune' (kick 0.1)"). A KickError
    passes unchanged (its message is already meant for the user), Ctrl-C is never caught, and
    `KICK_STRICT_PLUGINS=1` lets the original exception through with its traceback. `error`: the
    error class to raise instead (DataError while reading samples, ModelLoadError while loading:
    there the input is the likelier cause, and the command exits 2 like for any bad input)."""
    try:
        yield
    except (KickError, KeyboardInterrupt):
        raise
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):  # a full disk is not the plugin's fault
            raise
        if os.environ.get("KICK_STRICT_PLUGINS", "").strip().lower() in ("1", "true", "yes"):
            raise
        raise (error or PluginError)(f"{owner} failed while {doing}: {type(e).__name__}: {e}") from None
    except BaseException as e:
        if os.environ.get("KICK_STRICT_PLUGINS", "").strip().lower() in ("1", "true", "yes"):
            raise
        raise (error or PluginError)(f"{owner} failed while {doing}: {type(e).__name__}: {e}") from None
