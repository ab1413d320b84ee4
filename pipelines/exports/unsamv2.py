"""`segcap export --format unsamv2`: granularity pairs -> UnSAMv2's training layout.

UnSAMv2's trainer (sam2/training/dataset/vos_raw_dataset.py `UnSAMRawDataset` with
`UnSAMSegmentLoader`) reads an image folder of `<name>.jpg` and an annotation folder of
`<name>.json`, where `<name>` is `sa_<int>` (it parses the int as the video id). Each JSON is the
COCO-style file its divide-and-conquer step writes (gra_divide_conquer.py + coco_annotator.py):

    {"info", "licenses", "categories": [{"id": 1, "name": "fg"}],
     "image": {"id", "file_name", "width", "height"},
     "annotations": [{"id", "image_id", "category_id": 1, "iscrowd": 0, "area", "bbox",
                      "segmentation": {"size": [h, w], "counts": str}, "width", "height",
                      "is_divide", "granularity", "instance_id", "is_part"}, ...]}

We write OUT/images/sa_<k>.jpg, OUT/annotations/sa_<k>.json, OUT/file_list.txt (the names, for
its `file_list_txt` option) and OUT/stats.json. One annotation per distinct mask of the
`granularity_pairs` rows mined with the `unsamv2` definition (their granularity as mined); per
instance its parts come first and the instance last, as the reference appends them. Extra keys
keep the join back to our data: `segment_id`, `mask_source`, `points` (the mined clicks), and
`segcap_image_id` / `source_file_name` on the image.

Skipped and counted, never silently: pairs of another granularity definition (GraCo values are
not UnSAMv2 granularities), crowd masks (`is_crowd`: an ignore region, not an instance), images
without readable bytes or whose masks do not match their size (rejects).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image
from pycocotools import mask as coco_mask

from pipelines.exports.common import (
    ExportReport,
    has_column,
    image_bytes,
    source_dataset,
    staged_output,
)
from pipelines.exports.dataset import ExportError
from pipelines.store.image_source import DatasetImages
from schemas.rejects import Reason

PAIR_COLUMNS = ["image_id", "instance_id", "segment_id", "point", "mask", "granularity",
                "granularity_def", "is_part", "mask_source"]
CATEGORIES = [{"id": 1, "name": "fg", "supercategory": "fg"}]
JPEG_QUALITY = 95  # with 4:4:4 chroma (subsampling=0): the least lossy standard JPEG
BATCH_ROWS = 4096


def _crowd_segments(dataset) -> set[str]:
    if not has_column(dataset, "segments", "is_crowd"):
        return set()
    crowd = set()
    for batch in dataset.iter_batches("segments", BATCH_ROWS, ["segment_id", "is_crowd"]):
        for segment_id, is_crowd in zip(*(batch.column(c).to_pylist() for c in batch.column_names),
                                        strict=True):
            if is_crowd:
                crowd.add(segment_id)
    return crowd


def _collect_masks(dataset, report: ExportReport) -> dict[str, dict[str, dict]]:
    """image_id -> segment_id -> {instance_id, mask, granularity, is_part, points, mask_source}.

    Every distinct mask is kept in memory once (RLE strings, not pixels): the per-image files
    need all of an image's masks together and pairs are not stored grouped by image.
    """
    crowd = _crowd_segments(dataset)
    images: dict[str, dict[str, dict]] = {}
    skipped_crowd: set[str] = set()
    for batch in dataset.iter_batches("granularity_pairs", BATCH_ROWS, PAIR_COLUMNS):
        for row in batch.to_pylist():
            report.rows_in += 1
            if row["granularity_def"] != "unsamv2":
                report.counters["pairs_other_definition_skipped"] += 1
                continue
            if row["segment_id"] in crowd or row["instance_id"] in crowd:
                skipped_crowd.add(row["segment_id"])
                continue
            masks = images.setdefault(row["image_id"], {})
            known = masks.get(row["segment_id"])
            if known is None:
                masks[row["segment_id"]] = {
                    "instance_id": row["instance_id"], "mask": row["mask"],
                    "granularity": float(row["granularity"]), "is_part": bool(row["is_part"]),
                    "mask_source": row["mask_source"], "points": [list(row["point"])]}
            elif abs(known["granularity"] - float(row["granularity"])) > 1e-6:
                report.counters["pairs_conflicting_granularity"] += 1  # first value kept
            else:
                known["points"].append(list(row["point"]))
    report.counters["crowd_masks_skipped"] = len(skipped_crowd)
    return images


def _annotations(masks: dict[str, dict], image_number: int, height: int, width: int) -> list[dict]:
    instances = list(dict.fromkeys(m["instance_id"] for m in masks.values()))
    number = {instance: k for k, instance in enumerate(instances)}
    ordered = sorted(masks.items(), key=lambda kv: (number[kv[1]["instance_id"]], not kv[1]["is_part"]))
    annotations = []
    for annotation_id, (segment_id, m) in enumerate(ordered, 1):
        rle = {"size": list(m["mask"]["size"]), "counts": m["mask"]["counts"]}
        annotations.append({
            "id": annotation_id, "image_id": image_number, "category_id": 1, "iscrowd": 0,
            "area": int(coco_mask.area(rle)), "bbox": [float(v) for v in coco_mask.toBbox(rle)],
            "segmentation": rle, "width": width, "height": height,
            "is_divide": not m["is_part"], "granularity": m["granularity"],
            "instance_id": number[m["instance_id"]], "is_part": m["is_part"],
            "segment_id": segment_id, "mask_source": m["mask_source"], "points": m["points"]})
    return annotations


def _jpeg(data: bytes, report: ExportReport) -> tuple[bytes, tuple[int, int]]:
    """The image as JPEG bytes (copied as is when it already is one) and its (height, width)."""
    with Image.open(io.BytesIO(data)) as image:
        size = (image.height, image.width)
        if image.format == "JPEG":
            return data, size
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    # UnSAMv2 opens `<name>.jpg`; a re-encode changes pixels slightly, so it is counted.
    report.counters["images_reencoded_to_jpeg"] += 1
    return buffer.getvalue(), size


def export_unsamv2(src: str | Path, out: str | Path) -> ExportReport:
    dataset = source_dataset(src, out, ("granularity_pairs", "images"))
    report = ExportReport("unsamv2")
    images = _collect_masks(dataset, report)
    if not images:
        raise ExportError(f"{dataset.path} has no usable `unsamv2` granularity pairs "
                          f"({report.counters['pairs_other_definition_skipped']} of another definition,"
                          f" {report.counters['crowd_masks_skipped']} crowd masks); mine them with "
                          "`segcap mine DIR --granularity unsamv2`")
    numbers = {image_id: k for k, image_id in enumerate(sorted(images), 1)}
    names, seen = [], set()  # seen: image ids written or rejected (an image row may repeat)
    with staged_output(out, report) as staging:
        (staging / "images").mkdir()
        (staging / "annotations").mkdir()
        source = DatasetImages(dataset.path)
        for batch in dataset.iter_batches("images", 64, ["image_id", "image", "file_name"]):
            for image_id, value, file_name in zip(*(batch.column(c).to_pylist()
                                                    for c in batch.column_names), strict=True):
                if image_id not in numbers or image_id in seen:
                    continue
                seen.add(image_id)
                masks = images[image_id]
                data, why = image_bytes(value, source)
                if data is None:
                    report.reject(image_id, why, f"{file_name}: no bytes and no readable file inside "
                                  "the dataset or its image roots")
                    continue
                data, (height, width) = _jpeg(data, report)
                sizes = {tuple(m["mask"]["size"]) for m in masks.values()}
                if sizes != {(height, width)}:
                    report.reject(image_id, Reason.SIZE_MISMATCH, f"masks {sorted(sizes)} vs image {height}x{width}")
                    continue
                name = f"sa_{numbers[image_id]}"
                annotations = _annotations(masks, numbers[image_id], height, width)
                record = {"info": {"description": "segcap-curator export for UnSAMv2", "version": "1.0"},
                          "licenses": [], "categories": CATEGORIES,
                          "image": {"id": numbers[image_id], "file_name": f"{name}.jpg", "width": width,
                                    "height": height, "segcap_image_id": image_id,
                                    "source_file_name": file_name},
                          "annotations": annotations}
                (staging / "images" / f"{name}.jpg").write_bytes(data)
                (staging / "annotations" / f"{name}.json").write_text(json.dumps(record))
                names.append(name)
                report.outputs["images"] += 1
                report.outputs["annotations"] += len(annotations)
                report.counters["instances"] += len({a["instance_id"] for a in annotations})
        for image_id in sorted(set(numbers) - seen):
            report.reject(image_id, Reason.MISSING_IMAGE, "pairs name an image the images config lacks")
        if not names:
            raise ExportError(f"no image of {dataset.path} could be exported: "
                              + "; ".join(f"{r['input_ref']}: {r['reason']}" for r in report.rejects[:3]))
        (staging / "file_list.txt").write_text("".join(f"{n}\n" for n in sorted(names)))
    return report
