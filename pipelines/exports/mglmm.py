"""Convert an export's `segcap` config into MGLMM's training layout (MGSC and GranD-f GCG).

MGLMM's loaders (lizhou-cs/mglmm dataset/gcg_datasets/) read, under one dataset root:
- MGSC (`MGLMMDataset`, mglmm_data="sam_new"): `MGLMM_gcg_new/MGLMM_train_split.txt` lists
  annotation files (one per line) under `MGLMM_gcg_new/annotations/`; each file is a JSON list of
  records {"file_name", "label": "root" | "subtree: <label>", "type": "root" | "subtree",
  "gcg_caption" with `<kN>phrase</kN>` tags, "gcg_labels": ["k0", ...], "k0": {"mask": JSON
  string of the RLE with base64-encoded counts, "label"}, ...}; images under
  `SegmentAnything/imgs/<file_name>`. `type` is what its evaluation converter (mgscdata/convert.py)
  splits root and subtree samples by. We write one annotation file per image.
- GCG (`GranDfDataset`): `GranDf/annotations/train/GranDf_HA_GCG_train.json`, a list of
  {"file_name", "caption" (markers removed), "groundings": {key: {"token_positives": [s, e],
  "rle_masks": [RLE]}}}, images under `GranDf/GranDf_HA_images/train/`. The loader unions the
  RLEs of one key, so a phrase grounded twice gets a second key ("phrase (2)") and keeps two
  spans, two masks, two [SEG] instead of collapsing into one union.

The output is built in a hidden sibling of OUT and renamed into place when complete.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

from pipelines.exports.common import ExportReport, image_bytes, source_dataset, staged_output
from pipelines.exports.dataset import ExportError
from pipelines.exports.verdicts import row_failed
from pipelines.store.dataset_dir import DatasetDir
from pipelines.store.image_source import DatasetImages
from schemas.grounding import parse_grounded
from schemas.rejects import Reason
from schemas.rows import answer_text

BATCH_ROWS = 256
MGSC_DIR, MGSC_IMAGES = "MGLMM_gcg_new", "SegmentAnything/imgs"
MGSC_SPLIT = "MGLMM_train_split.txt"
GCG_FILE, GCG_IMAGES = "GranDf/annotations/train/GranDf_HA_GCG_train.json", "GranDf/GranDf_HA_images/train"


def mglmm_mask(rle: dict) -> str:
    """Our RLE -> MGLMM's mask string (JSON of the RLE with base64-encoded counts)."""
    counts = base64.b64encode(rle["counts"].encode("ascii")).decode("ascii")
    return json.dumps({"size": list(rle["size"]), "counts": counts})


def _plain_and_tagged(answer: str) -> tuple[str, str, list[tuple[int, int]]]:
    """(caption without markers, caption with <kN> tags, phrase spans in the plain caption)."""
    plain, tagged, spans, last = "", "", [], 0
    for k, match in enumerate(re.finditer(r"<p>\s?(.*?)\s?</p>\s*\[SEG\]", answer, re.DOTALL)):
        before = answer[last:match.start()]
        phrase = match.group(1)
        plain += before
        tagged += before + f"<k{k}>{phrase}</k{k}>"
        spans.append((len(plain), len(plain) + len(phrase)))
        plain += phrase
        last = match.end()
    return plain + answer[last:], tagged + answer[last:], spans


def _grounding_key(phrase: str, groundings: dict) -> str:
    """The phrase itself, or "phrase (n)" for its n-th grounding: one key per grounding."""
    key, n = phrase, 1
    while key in groundings:
        n += 1
        key = f"{phrase} ({n})"
    return key


def _write_images(dataset: DatasetDir, wanted: set[str], folder: Path, report: ExportReport) -> dict[str, str]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    names, why_missing, source = {}, {}, DatasetImages(dataset.path)
    for batch in dataset.iter_batches("images", 64, ["image_id", "image"]):
        for image_id, value in zip(batch.column("image_id").to_pylist(),
                                   batch.column("image").to_pylist(), strict=True):
            if image_id not in wanted or image_id in names:
                continue
            data, why = image_bytes(value, source)
            if data is None:
                why_missing[image_id] = why
                continue
            with Image.open(io.BytesIO(data)) as image:
                ext = {"JPEG": ".jpg", "PNG": ".png"}.get(image.format, f".{image.format.lower()}")
            names[image_id] = f"{image_id}{ext}"
            (folder / names[image_id]).write_bytes(data)
    for image_id in sorted(wanted - set(names)):
        report.reject(image_id, why_missing.get(image_id, Reason.MISSING_IMAGE),
                      "no embedded bytes and no readable file inside the dataset or its image roots")
    return names


def _mgsc_record(row: dict, tagged: str) -> dict:
    subtree = row["granularity"] == "subtree"
    record = {"image_id": row["image_id"],
              "label": f"subtree: {row['subtree']}" if subtree else "root",
              "type": "subtree" if subtree else "root",
              "gcg_caption": tagged,
              "gcg_labels": [f"k{k}" for k in range(len(row["masks"]))]}
    for k, (rle, label) in enumerate(zip(row["masks"], row["mask_labels"], strict=True)):
        record[f"k{k}"] = {"mask": mglmm_mask(rle), "label": label}
    return record


def _gcg_record(row: dict, answer: str, plain: str, spans: list[tuple[int, int]], report) -> dict:
    groundings: dict[str, dict] = {}
    phrases = parse_grounded(answer).phrases
    for phrase, span, rle in zip(phrases, spans, row["masks"], strict=True):
        key = _grounding_key(phrase, groundings)
        if key != phrase:
            report.counters["gcg_repeated_phrases_kept_apart"] += 1
        groundings[key] = {"token_positives": list(span),
                           "rle_masks": [{"size": list(rle["size"]), "counts": rle["counts"]}]}
    return {"image_id": row["image_id"], "caption": plain, "groundings": groundings}


def export_mglmm(export_dir: str | Path, out: str | Path, drop_failed: bool = False) -> ExportReport:
    dataset = source_dataset(export_dir, out, ("segcap", "images"))
    report = ExportReport("mglmm")
    mgsc, gcg = [], []
    for batch in dataset.iter_batches("segcap", BATCH_ROWS):
        for row in batch.to_pylist():
            report.rows_in += 1
            if drop_failed and row_failed(row):
                report.counters["failed_verification_dropped"] += 1
                continue
            answer = answer_text(row["conversations"])
            plain, tagged, spans = _plain_and_tagged(answer)
            if row["task"] == "mgsc":
                mgsc.append(_mgsc_record(row, tagged))
            elif row["masks"]:
                gcg.append(_gcg_record(row, answer, plain, spans, report))
            else:
                report.counters["rows_without_masks_skipped"] += 1
    if not mgsc and not gcg:
        raise ExportError(f"{dataset.path} has no `segcap` row with masks to convert "
                          f"({report.rows_in} rows read)")
    with staged_output(out, report) as staging:
        per_image: dict[str, list[dict]] = {}
        mgsc_names: dict[str, str] = {}
        gcg_names: dict[str, str] = {}
        if mgsc:  # only the layouts that have samples are written
            mgsc_names = _write_images(dataset, {r["image_id"] for r in mgsc}, staging / MGSC_IMAGES, report)
            for record in mgsc:
                image_id = record.pop("image_id")
                if image_id in mgsc_names:
                    per_image.setdefault(image_id, []).append({"file_name": mgsc_names[image_id], **record})
            annotations = staging / MGSC_DIR / "annotations"
            annotations.mkdir(parents=True, exist_ok=True)
            for image_id, records in per_image.items():
                (annotations / f"{image_id}.json").write_text(json.dumps(records))
            (staging / MGSC_DIR / MGSC_SPLIT).write_text("".join(f"{i}.json\n" for i in sorted(per_image)))
        kept_gcg = []
        if gcg:
            gcg_names = _write_images(dataset, {r["image_id"] for r in gcg}, staging / GCG_IMAGES, report)
            kept_gcg = [{"file_name": gcg_names[r.pop("image_id")], **r} for r in gcg
                        if r["image_id"] in gcg_names]
            (staging / GCG_FILE).parent.mkdir(parents=True, exist_ok=True)
            (staging / GCG_FILE).write_text(json.dumps(kept_gcg))
        report.outputs.update({"mgsc": sum(map(len, per_image.values())), "gcg": len(kept_gcg)})
        report.outputs["images"] = len(mgsc_names) + len(gcg_names)
    return report
