"""Convert an export's `segcap` config into MGLMM's training JSON (MGSC and GCG).

Writes into OUT:
- `mgsc.json`: one record per `segcap` row of task "mgsc" (MGLMM's MGSC layout):
  {"file_name", "label": "root" | "subtree: <label>", "gcg_caption" with `<kN>phrase</kN>` tags,
   "gcg_labels": ["k0", ...], "k0": {"mask": JSON string of the RLE with base64 counts,
   "label": mask label}, ...}
- `gcg.json`: one GranD-f GCG record per `segcap` row of any other task with masks:
  {"file_name", "caption" (markers removed), "groundings": {phrase: {"token_positives": [s, e],
   "rle_masks": [RLE]}}}; a phrase grounded twice keeps its first span and both masks.
- `images/<image_id><ext>`: the image bytes the records point at.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

from pipelines.answers import answer_text
from pipelines.dataset_dir import DatasetDir, atomic_write_text
from schemas.grounding import parse_grounded

BATCH_ROWS = 256


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


def _image_files(dataset: DatasetDir, wanted: set[str], folder: Path) -> dict[str, str]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    names = {}
    for batch in dataset.iter_batches("images", 64, ["image_id", "image"]):
        for image_id, value in zip(batch.column("image_id").to_pylist(),
                                   batch.column("image").to_pylist(), strict=True):
            if image_id not in wanted or value["bytes"] is None:
                continue
            with Image.open(io.BytesIO(value["bytes"])) as image:
                ext = {"JPEG": ".jpg", "PNG": ".png"}.get(image.format, f".{image.format.lower()}")
            names[image_id] = f"{image_id}{ext}"
            (folder / names[image_id]).write_bytes(value["bytes"])
    return names


def export_mglmm(export_dir: str | Path, out: str | Path) -> dict[str, int]:
    dataset, out = DatasetDir(export_dir), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mgsc, gcg, rows_in = [], [], 0
    for batch in dataset.iter_batches("segcap", BATCH_ROWS):
        for row in batch.to_pylist():
            rows_in += 1
            answer = answer_text(row["conversations"])
            plain, tagged, spans = _plain_and_tagged(answer)
            if row["task"] == "mgsc":
                record = {"image_id": row["image_id"],
                          "label": f"subtree: {row['subtree']}" if row["granularity"] == "subtree"
                          else "root",
                          "gcg_caption": tagged,
                          "gcg_labels": [f"k{k}" for k in range(len(row["masks"]))]}
                for k, (rle, label) in enumerate(zip(row["masks"], row["mask_labels"], strict=True)):
                    record[f"k{k}"] = {"mask": mglmm_mask(rle), "label": label}
                mgsc.append(record)
            elif row["masks"]:
                groundings: dict[str, dict] = {}
                phrases = parse_grounded(answer).phrases
                for phrase, span, rle in zip(phrases, spans, row["masks"], strict=True):
                    entry = groundings.setdefault(phrase, {"token_positives": list(span),
                                                           "rle_masks": []})
                    entry["rle_masks"].append({"size": list(rle["size"]), "counts": rle["counts"]})
                gcg.append({"image_id": row["image_id"], "caption": plain, "groundings": groundings})
    names = _image_files(dataset, {r["image_id"] for r in mgsc + gcg}, out / "images")
    for record in mgsc + gcg:
        record["file_name"] = names.get(record.pop("image_id"), "")
    atomic_write_text(out / "mgsc.json", json.dumps(mgsc))
    atomic_write_text(out / "gcg.json", json.dumps(gcg))
    return {"rows_in": rows_in, "mgsc": len(mgsc), "gcg": len(gcg), "images": len(names)}
