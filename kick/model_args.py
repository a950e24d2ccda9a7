"""`--model-arg key=value`: keywords for the model's `from_pretrained` (device_map,
attn_implementation, revision, torch_dtype ...), recorded in the run's spec (`ModelSpec.args`).

Values are JSON when they parse as JSON (true, 3, 0.5, null, {"": 0}), else strings. A key that
looks like a secret (token, use_auth_token, api_key ...) is refused: the spec is written to disk,
and the Hub token belongs in the HF_TOKEN environment variable. Keys kick has its own field for
(revision, torch_dtype/dtype, trust_remote_code) move into that field, so provenance has one source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from kick.errors import SpecError
from kick.params import parse_assignments

_SECRET = re.compile(r"token|secret|passw|credential|api_?key|auth", re.IGNORECASE)
_FIELDS = {
    "revision": "revision",
    "torch_dtype": "dtype",
    "dtype": "dtype",
    "trust_remote_code": "trust_remote_code",
}


def parse_model_args(items: Iterable[str], what: str = "--model-arg") -> dict[str, Any]:
    """Repeated `key=value` options as a dict; no `=` (or no key) is one SpecError."""
    return parse_assignments(items, what=what, value=_json_or_text, example="attn_implementation=eager")


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def check_model_args(args: Mapping[str, Any], what: str = "--model-arg") -> Mapping[str, Any]:
    """`args`, unless a key looks like a secret (one SpecError, naming the key, never the value)."""
    for key in args:
        if _SECRET.search(key) and not key.endswith("_id"):  # pad_token_id is a config value, not a secret
            raise SpecError(
                f"{what} {key}: a secret is not passed as an argument (the run's spec is written to disk); "
                "set the HF_TOKEN environment variable instead"
            )
    return args


def fold_model_args(fields: dict[str, Any], what: str = "--model-arg") -> dict[str, Any]:
    """ModelSpec fields with their `args` checked and kick's own keys moved into their fields
    (`revision=v1` is `--revision v1`); the same key given both ways, differently, is a SpecError."""
    args = dict(fields.pop("args", None) or {})
    check_model_args(args, what)
    for key, field in _FIELDS.items():
        if key not in args:
            continue
        value = args.pop(key)
        value = str(value).removeprefix("torch.") if field == "dtype" else value
        if field in fields and fields[field] not in (None, False, value):
            raise SpecError(
                f"{what} {key}={value} and the model's {field} {fields[field]!r} disagree: give one"
            )
        fields[field] = value
    if args:
        fields["args"] = args
    return fields
