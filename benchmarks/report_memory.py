"""Report generation time and peak memory at two dataset sizes: paging keeps memory flat.

Builds synthetic dataset directories (skimage crops, 3 nested masks, 3 granularity pairs, one
caption and one instruction per image), then writes each report in a fresh child process and
reads that child's peak RSS. Usage: python benchmarks/report_memory.py [SMALL LARGE]
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from skimage import data as skdata

from annotators.images import encode_png, image_row
from pipelines.store.dataset_dir import DatasetDir
from schemas.contract import CAPABILITY_FIELDS, empty_capability_scores, table_from_rows
from schemas.grounding import GroundedText
from schemas.ids import stable_id
from schemas.masks import describe, encode_array
from schemas.provenance import make_provenance

SIDE = 160
BATCH = 250


def _rows(index: int, photo: np.ndarray, provenance: dict) -> dict[str, list[dict]]:
    pixels = photo.copy()
    pixels[0, 0] = [index % 256, (index // 256) % 256, 7]  # a unique image id per row
    image = image_row(encode_png(pixels), f"img-{index}.png", "bench")
    image_id = image["image_id"]
    segments, pairs = [], []
    parent = None
    for level, (bottom, right) in enumerate(((0.9, 0.9), (0.6, 0.6), (0.35, 0.35))):
        mask = np.zeros((SIDE, SIDE), dtype=np.uint8)
        mask[int(0.1 * SIDE):int(bottom * SIDE), int(0.1 * SIDE):int(right * SIDE)] = 1
        rle = encode_array(mask)
        segment = {"segment_id": stable_id(image_id, level), "image_id": image_id,
                   "parent_id": parent, "level": level, **describe(rle), "category": f"l{level}",
                   "mask_source": "superpixel", "score": None, "track_id": None}
        segments.append(segment)
        parent = segment["segment_id"]
        pairs.append({"pair_id": stable_id(image_id, "p", level), "image_id": image_id,
                      "instance_id": segments[0]["segment_id"], "segment_id": segment["segment_id"],
                      "point": [0.2 * SIDE, 0.2 * SIDE], "mask": rle, "granularity": 1.0 - 0.4 * level,
                      "granularity_def": "unsamv2", "level": level, "is_part": level > 0,
                      "area": segment["area"], "mask_source": "superpixel"})
    answer = GroundedText().add("A view of ").add_phrase("the thing").add(" and ").add_phrase("its corner")
    caption = {"sample_id": stable_id(image_id, "s"), "image_id": image_id, "task": "gcg",
               "granularity": "root", "subtree": None,
               "conversations": [{"from": "human", "value": "<image>\nDescribe."},
                                 {"from": "gpt", "value": answer.text}],
               "masks": [segments[0]["mask"], segments[2]["mask"]], "mask_labels": ["thing", "corner"],
               "phrase_spans": answer.spans,
               "segment_ids": [segments[0]["segment_id"], segments[2]["segment_id"]],
               "source": "bench", "provenance": provenance}
    scores = empty_capability_scores()
    for k, name in enumerate(CAPABILITY_FIELDS):
        scores[name] = float((index + k) % 6)
    instruction = {"sample_id": stable_id(image_id, "i"), "image_id": image_id,
                   "conversations": [{"from": "human", "value": "<image>\nWhat?"},
                                     {"from": "gpt", "value": "A thing."}],
                   "source": "bench", "capability_scores": scores, "styles": ["yes/no"],
                   "selected": index % 3 == 0, "selection_method": "mmssr", "budget": 0.33,
                   "duplicate_of": None}
    return {"images": [image], "segments": segments, "granularity_pairs": pairs,
            "segcap": [caption], "instructions": [instruction]}


def build(root: Path, n: int) -> Path:
    dataset = DatasetDir(root)
    dataset.mark_incomplete()
    photo = skdata.astronaut()[:SIDE * 3:3, :SIDE * 3:3].copy()
    provenance = make_provenance(annotator="bench", backend="template", model="none",
                                 prompt_id="p", prompt="p", params={})
    writers = {c: dataset.shard_writer(c, "bench", max_rows=1000)
               for c in ("images", "segments", "granularity_pairs", "segcap", "instructions")}
    for start in range(0, n, BATCH):
        batch: dict[str, list[dict]] = {c: [] for c in writers}
        for index in range(start, min(n, start + BATCH)):
            for config, rows in _rows(index, photo, provenance).items():
                batch[config] += rows
        for config, rows in batch.items():
            writers[config].write(table_from_rows(config, rows))
    for writer in writers.values():
        writer.close()
    dataset.record_stage("bench-build", {"rows_in": n, "rows_out": n, "rejected": {}, "seconds": 0.0})
    dataset.finalize()
    return root


def _report(dataset: Path, out: Path, queue) -> None:
    from pipelines.report import build_report

    started = time.monotonic()
    result = build_report(dataset, out)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((time.monotonic() - started, peak_mib, result.pages, result.cards))


def measure(dataset: Path, out: Path) -> tuple[float, float, int, int]:
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: its own peak RSS
    queue = context.Queue()
    process = context.Process(target=_report, args=(dataset, out, queue))
    process.start()
    figures = queue.get()
    process.join()
    return figures


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [200, 2000]
    results = {}
    with tempfile.TemporaryDirectory(prefix="report-bench-") as scratch:
        for n in sizes:
            dataset = build(Path(scratch) / f"ds-{n}", n)
            seconds, peak, pages, cards = measure(dataset, Path(scratch) / f"report-{n}.html")
            size_mib = sum(p.stat().st_size for p in Path(scratch).glob(f"report-{n}*/**/*") if p.is_file())
            size_mib = (size_mib + (Path(scratch) / f"report-{n}.html").stat().st_size) / 2**20
            results[n] = (seconds, peak)
            print(f"{n:>6} images: {seconds:6.1f} s, {1000 * seconds / n:5.1f} ms/card, "
                  f"peak RSS {peak:6.0f} MiB, {pages} pages, {cards} cards, {size_mib:.1f} MiB on disk")
    if len(sizes) == 2:
        (a, pa), (b, pb) = results[sizes[0]], results[sizes[1]]
        print(f"x{sizes[1] / sizes[0]:.0f} rows -> time x{b / a:.1f}, peak memory x{pb / pa:.2f}")


if __name__ == "__main__":
    main()
