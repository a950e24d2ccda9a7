"""What `kick data publish` would upload: a pure plan (files, sizes, hashes, repo options) that
`--dry-run` prints and `dataset_builder.hub.publish` executes. No network here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kick.errors import DataError, KickError, SpecError
from kick.files import sha256_file

_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")


class HubError(KickError):
    """The Hub refused or failed a request (no token, no permission, unknown repo, network down ...)."""


@dataclass(frozen=True)
class PlannedFile:
    path_in_repo: str
    local: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class UploadPlan:
    repo_id: str
    private: bool
    tag: str | None
    commit_message: str
    files: tuple[PlannedFile, ...]



def check_repo_id(repo_id: str) -> str:
    if not _REPO_ID.match(repo_id) or ".." in repo_id or repo_id.endswith((".git", ".")):
        raise SpecError(f"invalid dataset repo id {repo_id!r}; expected 'owner/name'")
    return repo_id


def plan_upload(
    folder: Path,
    repo_id: str,
    *,
    private: bool = False,
    tag: str | None = None,
    commit_message: str | None = None,
) -> UploadPlan:
    """Every non-hidden file of a built folder (README.md and the Parquet shards), sorted."""
    folder = Path(folder)
    check_repo_id(repo_id)
    if not (folder / "README.md").is_file():
        raise DataError(
            f"{folder}: not a built dataset folder (no README.md dataset card); run `kick data build`"
        )
    files = tuple(
        PlannedFile(p.relative_to(folder).as_posix(), p, p.stat().st_size, sha256_file(p))
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not any(f.path_in_repo.endswith(".parquet") for f in files):
        raise DataError(f"{folder}: no Parquet shards to publish")
    message = commit_message or f"Upload LLM-KICK curated datasets ({len(files)} files)"
    return UploadPlan(repo_id, private, tag, message, files)


def render_plan(plan: UploadPlan) -> str:
    """The exact upload, one file a line, for `--dry-run`."""
    total = sum(f.size for f in plan.files)
    lines = [
        f"repo: {plan.repo_id} (dataset, {'private' if plan.private else 'public'})",
        f"commit: {plan.commit_message!r} (one commit, {len(plan.files)} files, {total} bytes)",
        f"tag: {plan.tag or '-'}",
    ]
    lines += [f"  {f.path_in_repo}  {f.size} B  sha256:{f.sha256}" for f in plan.files]
    return "\n".join(lines)
