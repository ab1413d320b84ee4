"""Writers for small fixtures in each public layout, exactly as the datasets ship them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from pipelines.stages.ingest import ingest
from pipelines.store.dataset_dir import DatasetDir

H, W = 32, 48  # the size of the conformance images and masks


def box(x0, y0, x1, y1) -> np.ndarray:
    """An H x W mask, 1 inside the box."""
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def noise(seed: int, height: int = H, width: int = W) -> np.ndarray:
    """A distinct RGB image per seed (images are keyed by content, so frames must differ)."""
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)


def save(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def mot_sequence(root: Path, folder: str, gt: str | None, *, frames: int = 2, seed: int = 0,
                 name: str | None = None, height: int = 32, width: int = 48,
                 seqinfo: bool = True) -> Path:
    """`<root>/<folder>/{seqinfo.ini, img1/000001.jpg.., gt/gt.txt}` as MOTChallenge ships it."""
    seq = root / folder
    for frame in range(1, frames + 1):
        save(seq / "img1" / f"{frame:06d}.jpg", noise(seed * 100 + frame, height, width))
    if seqinfo:
        (seq / "seqinfo.ini").write_text(
            f"[Sequence]\nname={name or folder}\nimDir=img1\nframeRate=30\nseqLength={frames}\n"
            f"imWidth={width}\nimHeight={height}\nimExt=.jpg\n")
    if gt is not None:
        (seq / "gt").mkdir(parents=True, exist_ok=True)
        (seq / "gt" / "gt.txt").write_text(gt)
    return seq


def run(fmt: str, source, images, out: Path, **options):
    """Ingest, then require the result to honour the contract (unique ids, masks, markers)."""
    from pipelines.store.validate import validate_dataset

    stats = ingest(fmt, source, images, out, progress=False, **options)
    report = validate_dataset(out)
    assert report.ok, [f"{v.check}/{v.config}: {v.message}" for v in report.violations]
    return stats, DatasetDir(out)


def rows(dataset: DatasetDir, config: str) -> list[dict]:
    return dataset.read(config).to_pylist() if dataset.has(config) else []


def rejects(dataset: DatasetDir) -> list[tuple[str, str]]:
    return sorted((r["reason"], r["input_ref"]) for r in rows(dataset, "rejects"))
