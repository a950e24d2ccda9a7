"""ALL network I/O of the dataset builder: publishing a built folder to a Hub dataset repo in one
commit, and loading a config from a Hub repo. Nothing else in `dataset_builder` talks to a
network. The Hub client can be injected (`api=`) so tests run offline with a recording fake."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dataset_builder.publish import HubError, UploadPlan


def resolve_token(env: Mapping[str, str] | None = None) -> str | None:
    """`HF_TOKEN` (or the older `HUGGING_FACE_HUB_TOKEN`) from the environment; None lets
    huggingface_hub fall back to the local login (`hf auth login`)."""
    env = os.environ if env is None else env
    return env.get("HF_TOKEN") or env.get("HUGGING_FACE_HUB_TOKEN") or None


def publish(plan: UploadPlan, *, token: str | None = None, api: Any = None) -> str:
    """Create the dataset repo if needed, upload every planned file in ONE commit, then tag it.
    Returns the commit URL (or oid)."""
    from huggingface_hub import CommitOperationAdd

    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token if token is not None else resolve_token())
    operations = [
        CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=str(f.local)) for f in plan.files
    ]
    try:
        api.create_repo(plan.repo_id, repo_type="dataset", private=plan.private, exist_ok=True)
        info = api.create_commit(
            plan.repo_id, operations, commit_message=plan.commit_message, repo_type="dataset"
        )
        oid = getattr(info, "oid", None)
        if plan.tag:
            api.create_tag(plan.repo_id, tag=plan.tag, revision=oid, repo_type="dataset")
    except Exception as e:  # noqa: BLE001 - any Hub/network failure becomes one user-facing line
        raise HubError(f"publishing to {plan.repo_id} failed: {type(e).__name__}: {e}") from e
    return str(getattr(info, "commit_url", None) or oid)


def load_from_hub(
    repo_id: str, config: str, split: str, revision: str | None = None, cache_dir: Any = None
) -> Any:
    """`datasets.load_dataset(repo_id, config, split=split, revision=revision)`."""
    import datasets

    try:
        return datasets.load_dataset(
            repo_id, config, split=split, revision=revision, cache_dir=str(cache_dir) if cache_dir else None
        )
    except Exception as e:  # noqa: BLE001
        raise HubError(
            f"cannot load {repo_id} config {config!r} split {split!r}: {type(e).__name__}: {e}"
        ) from e
