"""Peak memory of listing a large COCO instances file: whole-file json (before) vs streamed (now).

Listing is where a large annotation file's memory went: the old reader did `json.loads` of the
whole file and kept every item (with its annotations) in a list before the first batch. The
new one streams the file with ijson and groups annotations per image in a temporary SQLite
file. Both run here over the same generated file, each in a fresh child process whose peak RSS
is read afterwards, and both produce the same item stream (checked by a digest).

Usage: python benchmarks/bench_ingest_memory.py [MEGABYTES]   (default 200)
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ANNOTATIONS_PER_IMAGE = 10
BYTES_PER_IMAGE = 4_450  # measured for the generator below: 10 polygons of 20 points


def generate(path: Path, megabytes: float) -> int:
    """A COCO instances file of about `megabytes` MB; returns the number of annotations."""
    rng = random.Random(0)
    n_images = int(megabytes * 1024 * 1024 / BYTES_PER_IMAGE)
    with path.open("w", encoding="utf-8") as out:
        out.write('{"info": {}, "images": [')
        out.write(",".join(json.dumps({"id": i + 1, "file_name": f"{i:012d}.jpg", "height": 480,
                                       "width": 640}) for i in range(n_images)))
        out.write('], "annotations": [')
        k = 0
        for i in range(n_images):
            for j in range(ANNOTATIONS_PER_IMAGE):
                polygon = [round(rng.uniform(0, 600), 2) for _ in range(40)]
                out.write(("," if k else "") + json.dumps({
                    "id": k + 1, "image_id": i + 1, "category_id": j % 80 + 1, "iscrowd": 0,
                    "segmentation": [polygon], "area": 100.0, "bbox": [1.0, 2.0, 3.0, 4.0]}))
                k += 1
        out.write('], "categories": [')
        out.write(",".join(json.dumps({"id": c + 1, "name": f"class{c}"}) for c in range(80)))
        out.write("]}")
    return k


def old_items(path: Path):
    """The reader as it was (commit 075784d): whole-file json, every item listed up front."""
    data = json.loads(path.read_text(encoding="utf-8"))
    categories = {str(c["id"]): {"name": c["name"], "parent": None} for c in data["categories"]}
    anns_by_image = defaultdict(list)
    for ann in data["annotations"]:
        anns_by_image[str(ann.get("image_id"))].append(ann)
    items = [{"ref": f"image {e['id']} ({e.get('file_name')})", "image": e,
              "annotations": anns_by_image.get(str(e["id"]), []), "categories": categories}
             for e in data["images"]]
    return items  # ingest_with did list(reader.list_items(options)) before the first batch


def new_items(path: Path):
    from pipelines.ingest.coco import list_items
    from schemas.options.ingest import IngestOptions

    return list_items(IngestOptions(format="coco", source=path))


def _child(which: str, path: str, queue) -> None:
    from pipelines.stages.ingest import item_batches

    started = time.perf_counter()
    items = old_items(Path(path)) if which == "old" else new_items(Path(path))
    digest, count = hashlib.sha256(), 0
    for batch in item_batches(iter(items), 16):  # what the stage runner consumes
        for text in batch.column("item").to_pylist():
            item = json.loads(text)
            digest.update(json.dumps([item["ref"], len(item["annotations"])]).encode())
            count += 1
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((time.perf_counter() - started, peak_mb, count, digest.hexdigest()))


def measure(which: str, path: Path) -> tuple[float, float, int, str]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(which, str(path), queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    megabytes = float(sys.argv[1]) if len(sys.argv) > 1 else 200.0
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        path = Path(folder) / "instances.json"
        started = time.perf_counter()
        annotations = generate(path, megabytes)
        size = path.stat().st_size / 1024 / 1024
        print(f"generated {path.name}: {size:.0f} MB, {annotations} annotations "
              f"({time.perf_counter() - started:.0f}s)")
        results = {which: measure(which, path) for which in ("old", "new")}
    for which, (seconds, peak, count, digest) in results.items():
        print(f"{which:>4}: {seconds:6.1f}s  peak RSS {peak:7.0f} MB  items {count}  "
              f"digest {digest[:12]}")
    old, new = results["old"], results["new"]
    print(f"peak RSS ratio old/new: {old[1] / new[1]:.1f}x; time ratio new/old: {new[0] / old[0]:.2f}x; "
          f"same items: {old[2:] == new[2:]}")


if __name__ == "__main__":
    main()
