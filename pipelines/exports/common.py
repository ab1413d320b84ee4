"""What every foreign-layout export shares: a staged output swapped into place, and its report.

A foreign layout (one JSON per image, `.pt` tensors per sequence) is not a dataset directory, so
`pipelines.exports.dataset`'s shard writer does not apply; the same promise holds anyway: the output is
built in a hidden sibling of OUT and renamed into place only when complete, and what was skipped
or rejected is counted in OUT/stats.json and in the one-line summary.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from annotators.images import ImageError
from pipelines.exports.dataset import ExportError, _swap_into_place
from pipelines.store.dataset_dir import DatasetDir, atomic_write_text
from pipelines.store.image_source import DatasetImages
from schemas.rejects import Reason


@dataclass
class ExportReport:
    """Rows read, files written, and every skip/reject by reason (for stats.json and the summary)."""

    format: str
    rows_in: int = 0
    outputs: Counter = field(default_factory=Counter)
    counters: Counter = field(default_factory=Counter)
    rejects: list[dict] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def reject(self, input_ref: str, reason: Reason, detail: str = "") -> None:
        # Reason() refuses a reason that is not a member, as reject_row does for stage rejects
        self.rejects.append({"input_ref": input_ref, "reason": str(Reason(reason)),
                             "detail": detail[:500]})

    def rejected(self) -> Counter:
        return Counter(r["reason"] for r in self.rejects)

    def as_json(self) -> dict:
        return {"format": self.format, "rows_in": self.rows_in, "outputs": dict(self.outputs),
                "counters": dict(self.counters), "rejected": dict(self.rejected()),
                "rejects": self.rejects, "seconds": round(time.monotonic() - self.started, 3)}

    def summary_line(self) -> str:
        outputs = ", ".join(f"{n} {name}" for name, n in self.outputs.items()) or "nothing"
        extra = "".join(f", {name.replace('_', ' ')}: {n}" for name, n in sorted(self.counters.items()) if n)
        rejected = self.rejected()
        reasons = f" ({', '.join(f'{r}: {n}' for r, n in sorted(rejected.items()))})" if rejected else ""
        return (f"export ({self.format}): {self.rows_in} in, {outputs} out, "
                f"{len(self.rejects)} rejected{reasons}{extra}")


def has_column(dataset: DatasetDir, config: str, column: str) -> bool:
    """Whether every shard of a config has the column (older shards predate `is_crowd`)."""
    import pyarrow.parquet as pq

    paths = dataset.shard_paths(config)
    return bool(paths) and all(column in pq.read_schema(p).names for p in paths)


def source_dataset(src: str | Path, out: str | Path, needs: tuple[str, ...]) -> DatasetDir:
    dataset, target = DatasetDir(src), Path(out)
    if not dataset.path.is_dir():
        raise ExportError(f"{dataset.path} is not a dataset directory")
    for config in needs:
        if not dataset.has(config):
            raise ExportError(f"{dataset.path} has no `{config}` config; run the stage that writes it first")
    if target.resolve() == dataset.path.resolve() or target.resolve().is_relative_to(dataset.path.resolve()):
        raise ExportError(f"--out {target} must not be inside the source {dataset.path}")
    return dataset


@contextmanager
def staged_output(out: str | Path, report: ExportReport) -> Iterator[Path]:
    """Yield an empty staging folder; on success write stats.json into it and swap it onto OUT."""
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.export-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
        atomic_write_text(staging / "stats.json", json.dumps(report.as_json(), indent=1))
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def image_bytes(value: dict | None, images: DatasetImages) -> tuple[bytes | None, Reason | str]:
    """(the encoded image of an `images.image` value, "") or (None, why): embedded bytes, else
    the file its path names under the project's one rule (inside the dataset directory or a
    recorded image root: a path that escapes them is never read into an export)."""
    try:
        return images.read(value), ""
    except ImageError as exc:
        return None, exc.reason
