"""The training reader and the MGLMM converter on a real export."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from foundation_fixtures import blob, mglmm_string, write_json
from PIL import Image
from pycocotools import mask as coco

from pipelines.exports.dataset import export_dataset
from pipelines.exports.mglmm import export_mglmm
from pipelines.stages.ingest import ingest
from pipelines.store.dataset_dir import DatasetDir
from pipelines.training.segcap import SegCapTorchDataset, collate_segcap
from schemas.contract import table_from_rows

H, W = 48, 64


@pytest.fixture
def exported(image_dir: Path, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    write_json(tmp_path / "mgsc.json", [
        {"file_name": "astronaut.png", "label": "root",
         "gcg_caption": "A <a>person</a>, a <b>cup</b> and a <c>flag</c>.", "gcg_labels": ["a", "b", "c"],
         "a": {"mask": mglmm_string(blob(H, W, (2, 2, 30, 46), hole=True)), "label": "person"},
         "b": {"mask": mglmm_string(blob(H, W, (40, 30, 64, 48))), "label": "cup"},
         "c": {"mask": mglmm_string(blob(H, W, (0, 0, 64, 3))), "label": "flag"}},
        {"file_name": "sub/coffee.jpg", "label": "subtree: cup",
         "gcg_caption": "Its <h>handle</h>.", "gcg_labels": ["h"],
         "h": {"mask": mglmm_string(blob(H, W, (50, 10, 60, 20))), "label": "handle"}},
    ])
    ingest("mgsc", tmp_path / "mgsc.json", image_dir, work, progress=False)
    write_json(tmp_path / "gcg.json", [{"file_name": "chelsea.png", "caption": "A cat sleeps.",
                                        "groundings": {"A cat": {"token_positives": [0, 5], "rle_masks": [
                                            coco_rle(blob(H, W, (10, 10, 40, 40)))]}}}])
    ingest("grandf", tmp_path / "gcg.json", image_dir, work, progress=False)
    out = tmp_path / "export"
    export_dataset(work, out)
    return out


def coco_rle(mask: np.ndarray) -> dict:
    rle = coco.encode(np.asfortranarray(mask))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def test_torch_reader_aligns_masks_with_seg_tokens(exported: Path):
    dataset = SegCapTorchDataset(exported)
    rows = DatasetDir(exported).read("segcap").to_pylist()
    assert len(dataset) == len(rows) == 3
    for index, row in enumerate(rows):
        item = dataset[index]
        answer = item["conversations"][-1]["value"]
        assert item["masks"].shape[0] == answer.count("[SEG]") == len(item["phrases"])
        assert isinstance(item["image"], Image.Image)
        assert item["masks"].shape[1:] == (item["image"].height, item["image"].width)
        for k, rle in enumerate(row["masks"]):
            assert torch.equal(item["masks"][k], torch.from_numpy(coco.decode(rle)))
    first = next(dataset[i] for i in range(len(dataset)) if len(dataset[i]["phrases"]) == 3)
    assert first["phrases"] == ["person", "cup", "flag"] and first["mask_labels"] == first["phrases"]
    tensor_item = SegCapTorchDataset(exported, image_format="tensor", tasks=("mgsc",))[0]
    assert tensor_item["image"].shape == (3, H, W) and tensor_item["image"].dtype == torch.uint8
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, collate_fn=collate_segcap)
    batch = next(iter(loader))
    assert sorted(m.shape[0] for m in batch["masks"]) == [1, 1, 3]


def test_torch_reader_errors(tmp_path: Path, exported: Path):
    with pytest.raises(FileNotFoundError, match="segcap"):
        SegCapTorchDataset(tmp_path)
    with pytest.raises(IndexError):
        SegCapTorchDataset(exported)[99]
    assert len(SegCapTorchDataset(exported, tasks=("gcg",))) == 1


def mglmm_mgsc_reader(root: Path) -> list[dict]:
    """MGLMM's MGSC loader (MGLMMDataset, mglmm_data="sam_new"), written from its description:
    split file -> annotation files (JSON lists) -> records with a gcg_caption; masks are JSON RLEs
    with base64 counts; `<key>` -> `<p>`, `</key>` -> `</p> [SEG]`; images under SegmentAnything/imgs."""
    base = root / "MGLMM_gcg_new"
    samples = []
    for line in (base / "MGLMM_train_split.txt").read_text().splitlines():
        for record in json.loads((base / "annotations" / line).read_text()):
            if not record["gcg_caption"]:
                continue
            caption = record["gcg_caption"].strip('"').strip()
            masks = []
            for key in record["gcg_labels"]:
                rle = json.loads(record[key]["mask"])
                rle["counts"] = base64.b64decode(rle["counts"].encode("utf-8"))
                masks.append(coco.decode(rle))
                caption = caption.replace(f"<{key}>", "<p>").replace(f"</{key}>", "</p> [SEG]")
            image = Image.open(root / "SegmentAnything" / "imgs" / record["file_name"])
            assert record["type"] == record["label"].split(":")[0]  # what mgscdata/convert.py reads
            samples.append({"label": record["label"], "answer": caption, "masks": masks,
                            "size": (image.height, image.width),
                            "labels": [record[k]["label"] for k in record["gcg_labels"]]})
    return samples


def grandf_gcg_reader(root: Path) -> list[dict]:
    """MGLMM's GranDfDataset: each key's RLEs unioned; phrases ordered by span start; the answer
    is the caption with `<p> span </p> [SEG]` inserted at each span."""
    records = json.loads((root / "GranDf/annotations/train/GranDf_HA_GCG_train.json").read_text())
    samples = []
    for record in records:
        image = Image.open(root / "GranDf/GranDf_HA_images/train" / record["file_name"])
        spans, masks = [], []
        for grounding in record["groundings"].values():
            union = np.zeros((image.height, image.width), np.uint8)
            for rle in grounding["rle_masks"]:
                union += coco.decode(rle)
            spans.append(grounding["token_positives"])
            masks.append(union)
        order = sorted(range(len(spans)), key=lambda k: spans[k][0])
        caption = record["caption"]
        for start, end in sorted(spans, key=lambda s: s[0], reverse=True):
            caption = f"{caption[:start]}<p> {caption[start:end]} </p> [SEG]{caption[end:]}"
        samples.append({"answer": caption, "masks": [masks[k] for k in order]})
    return samples


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


def test_mglmm_export_reads_back_through_mglmm_loaders(exported: Path, tmp_path: Path):
    out = tmp_path / "mglmm"
    report = export_mglmm(exported, out)
    assert (report.rows_in, report.outputs["mgsc"], report.outputs["gcg"]) == (3, 2, 1)
    assert not report.rejects
    rows = DatasetDir(exported).read("segcap").to_pylist()
    mgsc_rows = {r["granularity"]: r for r in rows if r["task"] == "mgsc"}
    samples = {s["label"].split(":")[0]: s for s in mglmm_mgsc_reader(out)}
    assert set(samples) == {"root", "subtree"} and samples["subtree"]["label"] == "subtree: cup"
    for granularity, row in mgsc_rows.items():
        sample = samples[granularity]
        assert sample["answer"].replace("<p>", "<p> ").replace("</p>", " </p>") == \
            row["conversations"][-1]["value"]
        assert len(sample["masks"]) == sample["answer"].count("[SEG]") == len(row["masks"])
        for mask, rle in zip(sample["masks"], row["masks"], strict=True):
            assert mask.shape == sample["size"] and iou(mask, coco.decode(rle)) == 1.0
        assert sample["labels"] == row["mask_labels"]
    (gcg,) = grandf_gcg_reader(out)
    (gcg_row,) = [r for r in rows if r["task"] == "gcg"]
    assert gcg["answer"] == gcg_row["conversations"][-1]["value"]
    assert iou(gcg["masks"][0], coco.decode(gcg_row["masks"][0])) == 1.0
    # Our own ingest reads the files back to the same samples too.
    again = tmp_path / "again"
    annotations = out / "MGLMM_gcg_new" / "annotations"
    merged = [r for f in sorted(annotations.glob("*.json")) for r in json.loads(f.read_text())]
    write_json(tmp_path / "merged.json", merged)
    ingest("mgsc", tmp_path / "merged.json", out / "SegmentAnything" / "imgs", again, progress=False)
    ingest("grandf", out / "GranDf/annotations/train/GranDf_HA_GCG_train.json",
           out / "GranDf/GranDf_HA_images/train", again, progress=False)
    reread = DatasetDir(again).read("segcap").to_pylist()
    key = lambda r: (r["image_id"], r["task"], r["granularity"])  # noqa: E731
    assert [(r["conversations"], r["masks"], r["mask_labels"]) for r in sorted(rows, key=key)] == [
        (r["conversations"], r["masks"], r["mask_labels"]) for r in sorted(reread, key=key)]


def test_a_phrase_grounded_twice_keeps_two_groundings(exported: Path, tmp_path: Path):
    source = DatasetDir(exported)
    work = DatasetDir(tmp_path / "twice")
    (gcg_row,) = [r for r in source.read("segcap").to_pylist() if r["task"] == "gcg"]
    left, right = blob(H, W, (0, 0, 20, 20)), blob(H, W, (40, 20, 60, 40))
    answer = "<p> A cat </p> [SEG] watches <p> A cat </p> [SEG]."
    gcg_row.update(conversations=[gcg_row["conversations"][0], {"from": "gpt", "value": answer}],
                   masks=[coco_rle(left), coco_rle(right)], mask_labels=["A cat", "A cat"],
                   phrase_spans=[[4, 9], [34, 39]], segment_ids=["s1", "s2"])
    for config, rows in (("images", source.read("images").to_pylist()), ("segcap", [gcg_row])):
        writer = work.shard_writer(config, "test")
        writer.write(table_from_rows(config, rows))
        writer.close()
    report = export_mglmm(work.path, tmp_path / "out")
    assert report.counters["gcg_repeated_phrases_kept_apart"] == 1
    (sample,) = grandf_gcg_reader(tmp_path / "out")
    assert sample["answer"] == answer and sample["answer"].count("[SEG]") == 2
    assert iou(sample["masks"][0], left) == 1.0 and iou(sample["masks"][1], right) == 1.0
