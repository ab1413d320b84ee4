"""Training-side outputs side by side in one process, on mined synthetic scenes.

1. `--format unsamv2` (one COCO JSON + JPEG per image) vs `--format parquet` of the same dataset:
   seconds and their ratio.
2. The `granularity_pairs` torch reader with its decoded-image cache vs without it (every item
   decodes its image): items per second and their ratio.
Prints peak process RSS.

    .venv/bin/python benchmarks/bench_training_exports.py [--images 16] [--size 256] [--points 8]
"""

from __future__ import annotations

import argparse
import io
import resource
import tempfile
import time
from pathlib import Path

from PIL import Image

from annotators.images import image_row
from annotators.synthetic import generate_scene
from pipelines.engine.runner import run_stage
from pipelines.exports.dataset import export_dataset
from pipelines.exports.unsamv2 import export_unsamv2
from pipelines.stages.mine import MineStage
from pipelines.store.dataset_dir import DatasetDir
from pipelines.training.pairs import GranularityPairsTorchDataset, collate_granularity_pairs
from schemas.contract import table_from_rows


def build(root: Path, images: int, size: int, points: int) -> DatasetDir:
    dataset = DatasetDir(root / "mined")
    rows = []
    for seed in range(images):
        buffer = io.BytesIO()
        Image.fromarray(generate_scene(seed, size=(size, size)).pixels).save(buffer, format="PNG")
        rows.append(image_row(buffer.getvalue(), f"{seed}.png", "synthetic"))
    writer = dataset.shard_writer("images", "bench")
    writer.write(table_from_rows("images", rows))
    writer.close()
    run_stage(MineStage(points=points), dataset, progress=False)
    return dataset


def items_per_second(dataset: GranularityPairsTorchDataset) -> float:
    import torch

    started, count = time.perf_counter(), 0
    for batch in torch.utils.data.DataLoader(dataset, batch_size=32, collate_fn=collate_granularity_pairs):
        count += len(batch["mask"])
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--points", type=int, default=8)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp())
    dataset = build(root, args.images, args.size, args.points)
    pairs = dataset.count("granularity_pairs")
    print(f"{args.images} images {args.size}x{args.size}, {pairs} granularity pairs")

    started = time.perf_counter()
    export_dataset(dataset.path, root / "parquet")
    parquet = time.perf_counter() - started
    started = time.perf_counter()
    report = export_unsamv2(dataset.path, root / "unsamv2")
    unsamv2 = time.perf_counter() - started
    print(report.summary_line())
    print(f"export parquet {parquet:.2f}s, unsamv2 {unsamv2:.2f}s "
          f"({1000 * unsamv2 / args.images:.0f} ms/image), ratio unsamv2/parquet {unsamv2 / parquet:.2f}")

    cached = GranularityPairsTorchDataset(dataset.path)
    uncached = GranularityPairsTorchDataset(dataset.path)
    uncached._images._decoded = uncached._images._decode  # every item decodes its image
    with_cache, without_cache = items_per_second(cached), items_per_second(uncached)
    print(f"pairs reader: {with_cache:.0f} items/s cached, {without_cache:.0f} items/s uncached, "
          f"ratio {with_cache / without_cache:.1f}x")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
