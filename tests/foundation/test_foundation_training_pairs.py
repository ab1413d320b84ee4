"""The `granularity_pairs` torch reader: items match the source rows, crowd regions are ignore masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from foundation_fixtures import encoded, rle, write_rows
from pycocotools import mask as coco

from annotators.images import image_row
from annotators.synthetic import generate_scene
from pipelines.engine.runner import run_stage
from pipelines.stages.mine import MineStage
from pipelines.store.dataset_dir import DatasetDir
from pipelines.training.pairs import GranularityPairsTorchDataset, collate_granularity_pairs

H, W = 40, 60


def _box(y0, y1, x0, x1, height=H, width=W) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _pair(image_id, segment, mask, granularity, level, point, definition):
    return {"pair_id": f"{segment}-{definition}-{point}", "image_id": image_id, "instance_id": "obj",
            "segment_id": segment, "point": list(point), "mask": rle(mask), "granularity": granularity,
            "granularity_def": definition, "level": level, "is_part": level > 0,
            "area": int(mask.sum()), "mask_source": "gt"}


@pytest.fixture
def pairs_dir(tmp_path: Path) -> Path:
    dataset = DatasetDir(tmp_path / "pairs")
    a = image_row(encoded(generate_scene(1, size=(H, W)).pixels), "a.png", "t")
    b = image_row(encoded(generate_scene(2, size=(H + 8, W)).pixels), "b.png", "t")
    write_rows(dataset, "images", [a, b])
    crowd_one, crowd_two = _box(30, 40, 0, 10), _box(0, 5, 50, 60)
    write_rows(dataset, "segments", [
        {"segment_id": f"crowd{k}", "image_id": a["image_id"], "parent_id": None, "level": 0,
         "mask": rle(m), "bbox": [0, 0, 1, 1], "area": int(m.sum()), "category": "person",
         "mask_source": "gt", "is_crowd": True} for k, m in enumerate((crowd_one, crowd_two))])
    write_rows(dataset, "granularity_pairs", [
        _pair(a["image_id"], "obj", _box(5, 30, 10, 50), 1.0, 0, (20, 10), "unsamv2"),
        _pair(a["image_id"], "part", _box(10, 20, 15, 25), 0.1, 1, (20, 15), "unsamv2"),
        _pair(b["image_id"], "obj", _box(5, 45, 5, 30, H + 8), 1.0, 0, (10, 10), "unsamv2"),
        _pair(a["image_id"], "part", _box(10, 20, 15, 25), 0.2, 1, (20, 15), "graco"),
    ])
    return dataset.path


def test_items_match_source_rows_and_crowd_is_ignored(pairs_dir: Path):
    with pytest.raises(ValueError, match="mixes granularity definitions"):
        GranularityPairsTorchDataset(pairs_dir)
    dataset = GranularityPairsTorchDataset(pairs_dir, definition="unsamv2")
    rows = [r for r in DatasetDir(pairs_dir).read("granularity_pairs").to_pylist()
            if r["granularity_def"] == "unsamv2"]
    assert len(dataset) == len(rows) == 3
    for index, row in enumerate(rows):
        item = dataset[index]
        expected = coco.decode(row["mask"])
        assert torch.equal(item["mask"], torch.from_numpy(expected))  # IoU 1.0
        assert item["mask"].shape == (item["image"].height, item["image"].width)
        x, y = item["point"].tolist()
        assert item["mask"][int(y), int(x)] == 1
        assert item["granularity"].item() == pytest.approx(row["granularity"])
        assert item["level"].item() == row["level"] and item["is_part"] == row["is_part"]
        assert item["ignore_mask"].shape == item["mask"].shape
    first = dataset[0]
    crowd = _box(30, 40, 0, 10) | _box(0, 5, 50, 60)
    assert torch.equal(first["ignore_mask"], torch.from_numpy(crowd.astype(np.uint8)))
    assert dataset[2]["ignore_mask"].sum() == 0  # image b has no crowd region
    first["image"].paste((1, 2, 3), (0, 0, 10, 10))  # a cached image is handed out as a copy
    assert dataset[0]["image"].getpixel((0, 0)) != (1, 2, 3)
    graco = GranularityPairsTorchDataset(pairs_dir, definition="graco", image_format="tensor")
    assert len(graco) == 1 and graco[0]["granularity"].item() == pytest.approx(0.2)
    assert graco[0]["image"].shape == (3, H, W) and graco[0]["image"].dtype == torch.uint8
    with pytest.raises(IndexError):
        dataset[3]


def test_dataloader_batches_mined_pairs(tmp_path: Path):
    directory = DatasetDir(tmp_path / "mined")
    write_rows(directory, "images", [image_row(encoded(generate_scene(s, size=(64, 80)).pixels), f"{s}.png", "t")
                                for s in (3, 4)])
    run_stage(MineStage(points=3, max_pixels=12_000), directory, progress=False)
    dataset = GranularityPairsTorchDataset(directory.path)
    assert len(dataset) == directory.count("granularity_pairs") > 4
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, collate_fn=collate_granularity_pairs)
    batch = next(iter(loader))
    assert batch["point"].shape == (4, 2) and batch["point"].dtype == torch.float32
    assert batch["granularity"].shape == (4,) and ((batch["granularity"] >= 0.1) & (batch["granularity"] <= 1)).all()
    assert batch["level"].dtype == torch.int64 and batch["is_part"].dtype == torch.bool
    assert len(batch["mask"]) == len(batch["image"]) == len(batch["ignore_mask"]) == 4
    for mask, point in zip(batch["mask"], batch["point"], strict=True):
        assert mask[int(point[1]), int(point[0])] == 1


def test_reader_errors(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="granularity_pairs"):
        GranularityPairsTorchDataset(tmp_path)


def test_segments_written_before_is_crowd_existed_mean_no_ignore_region(pairs_dir: Path):
    import pyarrow.parquet as pq

    dataset = DatasetDir(pairs_dir)
    for path in dataset.shard_paths("segments"):  # rewrite the shard as an older writer would
        pq.write_table(pq.read_table(path).drop_columns(["is_crowd"]), path)
    reader = GranularityPairsTorchDataset(pairs_dir, definition="unsamv2")
    assert reader.crowd == {} and reader[0]["ignore_mask"].sum() == 0
