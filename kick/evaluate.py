"""Phases 3 and 5 of `kick.runner.run` for one task: predict the samples not yet recorded, in
chunks, score them and append their records as each chunk finishes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kick.batch_progress import progress_kwargs
from kick.errors import KickError, plugin_errors
from kick.interfaces import Progress, Task, optional_member
from kick.model_slot import ModelSlot
from kick.rundir import RecordStore
from kick.types import Prediction, Record, Sample


def evaluate_task(
    task: Task,
    samples: Sequence[Sample],
    model: ModelSlot,
    variant: str,
    store: RecordStore,
    batch_size: int,
    progress: Progress,
    *,
    owner: str = "the task",
) -> None:
    """Predict and score every sample of `task` not yet in the store, in chunks, appending as we go.
    Progress advances per batch when the task reports it (`Task.reports_progress`), else per chunk."""
    done = store.done_ids(variant, task.name)
    todo = [s for s in samples if s.id not in done]
    key = f"{variant}/{task.name}"
    progress.start(key, f"{variant:10s} {task.name}", len(samples))
    progress.advance(key, len(samples) - len(todo))
    chunk = max(max(1, batch_size) * 4, int(optional_member(task, "chunk_size", 0) or 0))
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        ready = model.get()
        shown = _ChunkProgress(progress, key, len(part))
        with plugin_errors(owner, "predicting"):
            preds = task.predict(ready, part, batch_size=batch_size, **progress_kwargs(task, shown))
        if len(preds) != len(part):
            raise KickError(f"task {task.name!r} returned {len(preds)} predictions for {len(part)} samples")
        store.append(make_record(variant, task, s, p) for s, p in zip(part, preds, strict=True))
        shown(len(part))  # whatever the task did not report
    progress.finish(key)


class _ChunkProgress:
    """A task's per-batch progress for one chunk, never past the chunk's size."""

    def __init__(self, progress: Progress, key: str, size: int) -> None:
        self.progress, self.key, self.left = progress, key, float(size)

    def __call__(self, n: float) -> None:
        n = min(n, self.left)
        if n > 0:
            self.left -= n
            self.progress.advance(self.key, int(n) if float(n).is_integer() else n)


def make_record(variant: str, task: Task, sample: Sample, pred: Prediction) -> Record:
    """One sample's record: the task's scores, or the error that kept it from being scored."""
    scores: Mapping[str, float] = {}
    error = pred.error
    if error is None:
        try:
            scores = task.score(sample, pred)
        except KickError as e:
            error = str(e)
    return Record(
        variant=variant,
        task=task.name,
        sample_id=sample.id,
        prompt=sample.prompt,
        output=pred.output,
        reference=sample.reference,
        scores=dict(scores),
        error=error,
        extra=dict(pred.extra),
        answers=tuple(pred.answers),
    )
