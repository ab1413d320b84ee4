"""The training reader and the MGLMM converter on a real export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from foundation_fixtures import blob, mglmm_string, write_json
from PIL import Image
from pycocotools import mask as coco

from pipelines.dataset_dir import DatasetDir
from pipelines.export import export_dataset
from pipelines.ingest import ingest
from pipelines.mglmm_export import export_mglmm
from pipelines.training import SegCapTorchDataset, collate_segcap

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


def test_mglmm_converter_round_trips_through_the_readers(exported: Path, tmp_path: Path):
    out = tmp_path / "mglmm"
    counts = export_mglmm(exported, out)
    assert counts == {"rows_in": 3, "mgsc": 2, "gcg": 1, "images": 3}
    mgsc = json.loads((out / "mgsc.json").read_text())
    root = next(r for r in mgsc if r["label"] == "root")
    assert root["gcg_caption"] == "A <k0>person</k0>, a <k1>cup</k1> and a <k2>flag</k2>."
    assert root["gcg_labels"] == ["k0", "k1", "k2"] and root["k1"]["label"] == "cup"
    assert (out / "images" / root["file_name"]).is_file()
    gcg = json.loads((out / "gcg.json").read_text())
    assert gcg[0]["caption"] == "A cat sleeps." and gcg[0]["groundings"]["A cat"]["token_positives"] == [0, 5]
    # Reading the converted files back gives the same samples (answers and masks).
    again = tmp_path / "again"
    ingest("mgsc", out / "mgsc.json", out / "images", again, progress=False)
    ingest("grandf", out / "gcg.json", out / "images", again, progress=False)
    original = DatasetDir(exported).read("segcap").to_pylist()
    reread = DatasetDir(again).read("segcap").to_pylist()
    key = lambda r: (r["image_id"], r["task"], r["granularity"])  # noqa: E731
    assert [(r["conversations"], r["masks"], r["mask_labels"]) for r in sorted(original, key=key)] == [
        (r["conversations"], r["masks"], r["mask_labels"]) for r in sorted(reread, key=key)]
