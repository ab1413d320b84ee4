"""`segcap export DIR --format llava --out OUT`: the selected samples back in the user's format.

Writes into OUT (built in a hidden sibling, then renamed into place):
- `data.json`: a list of LLaVA records, what LLaVA-style training code reads with
  `--data_path OUT/data.json --image_folder OUT/images`:
  {"id": the record's id in the source file (`source_id`), "image": path relative to `images/`
   (omitted for text-only samples), "conversations": exactly as ingested};
- `images/<file_name>`: each referenced image once, under its name in the source (a name that
  is absolute, escapes the folder, or is taken by a different image becomes `<image_id><ext>`);
- `selection.json`: the sidecar: how the subset was made (the score/dedup/select entries of
  stats.json) and, per record in the same order as `data.json`, its sample_id, source, scores,
  styles, selection fields, duplicate_of and scoring provenance.
Only `selected` rows are written, or every row with `include_all`. A sample whose image cannot
be read is left out, counted and named in the sidecar (`skipped`); the command exits 1 then.
Reading `data.json` back with `segcap ingest --format llava --images OUT/images` gives the same
samples (same source_id, image bytes and conversations).
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path, PurePosixPath

import pyarrow.compute as pc
import pyarrow.dataset as ds

from annotators.images import ImageError, resolve_inside
from pipelines.exports.common import image_bytes
from pipelines.exports.dataset import _swap_into_place
from pipelines.store.dataset_dir import DatasetDir, atomic_write_text
from pipelines.store.image_source import DatasetImages

SIDECAR_FIELDS = ("sample_id", "source", "image_id", "capability_scores", "styles", "selected",
                  "selection_method", "budget", "duplicate_of", "provenance", "scoring_notes")


class LlavaExportError(ValueError):
    """Nothing to export, or the source is not usable."""


def _rows(dataset: DatasetDir, include_all: bool) -> list[dict]:
    table = dataset.read("instructions")
    if not include_all:
        table = table.filter(pc.fill_null(table.column("selected"), False))
    return table.to_pylist()


def _image_names(dataset: DatasetDir, image_ids: set[str]) -> dict[str, dict]:
    """image_id -> {"file_name", "bytes" or "path"} for the wanted images (one filtered read)."""
    if not image_ids or not dataset.has("images"):
        return {}
    shards = [str(p) for p in dataset.shard_paths("images")]
    table = ds.dataset(shards, format="parquet").to_table(
        columns=["image_id", "file_name", "image"], filter=pc.field("image_id").isin(sorted(image_ids)))
    return {row["image_id"]: row for row in table.to_pylist()}


def _target_name(image_id: str, file_name: str | None, used: dict[str, str], images_dir: Path) -> str:
    """The image's source name when it is a safe relative path not taken by another image."""
    name = str(PurePosixPath(file_name)) if file_name else ""
    safe = bool(name) and not PurePosixPath(name).is_absolute() and ".." not in PurePosixPath(name).parts
    if safe:
        try:
            resolve_inside(images_dir, name)
        except ImageError:
            safe = False
    if not safe or used.get(name, image_id) != image_id:
        name = image_id + (PurePosixPath(file_name).suffix if file_name else "")
    used[name] = image_id
    return name


def export_llava(src: str | Path, out: str | Path, include_all: bool = False) -> dict:
    """Write OUT (see the module docstring); returns the counts for the summary line."""
    dataset, target = DatasetDir(src), Path(out)
    if not dataset.has("instructions"):
        raise LlavaExportError(f"{dataset.path} has no `instructions` config to export as LLaVA JSON")
    if target.resolve() == dataset.path.resolve() or target.resolve().is_relative_to(dataset.path.resolve()):
        raise LlavaExportError(f"--out {target} must not be inside the source {dataset.path}")
    rows = _rows(dataset, include_all)
    if not rows:
        raise LlavaExportError(f"{dataset.path} has no selected samples; run `segcap select` first "
                               "or pass --all")
    staging = target.parent / f".{target.name}.llava-{uuid.uuid4().hex[:8]}"
    images_dir = staging / "images"
    images_dir.mkdir(parents=True)
    try:
        counts = _write(dataset, rows, staging, images_dir, include_all)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return counts


def _write(dataset: DatasetDir, rows: list[dict], staging: Path, images_dir: Path, include_all: bool) -> dict:
    images = _image_names(dataset, {r["image_id"] for r in rows if r["image_id"]})
    written: dict[str, str] = {}  # image_id -> name under images/
    used: dict[str, str] = {}  # name -> image_id
    records, sidecar, skipped = [], [], []
    source = DatasetImages(dataset.path)
    for row in rows:
        record = {"id": row.get("source_id") if row.get("source_id") is not None else row["sample_id"]}
        image_id = row["image_id"]
        if image_id is not None and image_id not in written:
            try:
                if image_id not in images:
                    raise OSError(f"image {image_id} is not in the images config")
                data, why = image_bytes(images[image_id].get("image"), source)
                if data is None:
                    raise OSError(f"image {image_id}: {why} (no bytes stored and no readable file "
                                  "inside the dataset or its image roots)")
            except OSError as exc:
                skipped.append({"sample_id": row["sample_id"], "id": record["id"], "reason": str(exc)})
                continue
            name = _target_name(image_id, images[image_id].get("file_name"), used, images_dir)
            path = images_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            written[image_id] = name
        if image_id is not None:
            record["image"] = written[image_id]
        record["conversations"] = [{"from": t["from"], "value": t["value"]} for t in row["conversations"]]
        records.append(record)
        sidecar.append({"id": record["id"], **{k: row.get(k) for k in SIDECAR_FIELDS}})
    stages = dataset.stats().get("stages", {})
    atomic_write_text(staging / "data.json", json.dumps(records, ensure_ascii=False, indent=1))
    atomic_write_text(staging / "selection.json", json.dumps({
        "exported": len(records), "all": include_all, "skipped": skipped,
        "how": {name: stages[name] for name in ("score", "dedup", "select") if name in stages},
        "samples": sidecar,
    }, ensure_ascii=False, indent=1, default=str))
    return {"rows_in": len(rows), "records": len(records), "images": len(written),
            "skipped": len(skipped)}
