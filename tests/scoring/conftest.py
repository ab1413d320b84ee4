"""Fixtures for the scoring tests: a small instructions dataset directory with real photos."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data as skdata
from skimage.transform import resize

from annotators.images import encode_jpeg, encode_png, image_row
from pipelines.store.dataset_dir import DatasetDir
from schemas.contract import empty_capability_scores, table_from_rows


def small(image: np.ndarray, side: int = 64) -> np.ndarray:
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return (resize(image[..., :3], (side, side), anti_aliasing=True) * 255).astype(np.uint8)


def instruction(sample_id: str, image_id: str | None, turns: list, source: str = "coco") -> dict:
    conversations = [{"from": role, "value": value} for role, value in turns]
    return {"sample_id": sample_id, "image_id": image_id, "conversations": conversations,
            "source": source, "capability_scores": empty_capability_scores(), "styles": [],
            "selected": False, "selection_method": None, "budget": None, "duplicate_of": None}


SAMPLES = [
    ("What color is the cat's fur?", "The cat has orange and white striped fur."),
    ("What text is written on the sign?", "The sign says OPEN 24 HOURS."),
    ("Compare the two cups. Which one is larger?", "The left cup is larger than the right one."),
    ("What is the person doing?", "The person is riding a bicycle down a hill."),
    ("Is there a dog in the image?", "No."),
    ("Describe the scene in detail.", "A rocket stands on a launch pad under a clear sky; "
     "gantries, fuel lines and service towers surround it while the ground crew prepares."),
    ("Which option is correct?\nA. red\nB. blue\nC. green", "B"),
    ("What is the value of the tallest bar in the chart?", "The tallest bar shows 42 percent."),
]


@pytest.fixture
def instructions_dir(tmp_path):
    """8 good samples on 4 photos, plus planted problems (see the test that uses each)."""
    photos = [small(skdata.astronaut()), small(skdata.chelsea()), small(skdata.coffee()),
              small(skdata.rocket())]
    images = [image_row(encode_png(p), f"img{i}.png", "skimage") for i, p in enumerate(photos)]
    ids = [row["image_id"] for row in images]
    rows = [instruction(f"s{k:02d}", ids[k % 4], [("human", "<image>\n" + q), ("gpt", a)],
                        source="coco" if k % 2 else "vqa")
            for k, (q, a) in enumerate(SAMPLES)]
    dataset = DatasetDir(tmp_path / "ds")
    for config, table in (("images", table_from_rows("images", images)),
                          ("instructions", table_from_rows("instructions", rows))):
        writer = dataset.shard_writer(config, "test")
        writer.write(table)
        writer.close()
    dataset.finalize()
    return dataset


def add_rows(dataset: DatasetDir, config: str, rows: list[dict], prefix: str = "extra") -> None:
    writer = dataset.shard_writer(config, prefix)
    writer.write(table_from_rows(config, rows))
    writer.close()


def reencoded(dataset: DatasetDir, image_id: str) -> dict:
    """A JPEG re-encoding of an image in the dataset (different bytes, same picture)."""
    from annotators.images import decode_image

    table = dataset.read("images")
    row = table.filter(table.column("image_id").to_numpy(zero_copy_only=False) == image_id).to_pylist()[0]
    pixels = decode_image(row["image"]["bytes"]).pixels
    return image_row(encode_jpeg(pixels, quality=70), "copy.jpg", "skimage")


class Helpers:
    instruction = staticmethod(instruction)
    add_rows = staticmethod(add_rows)
    reencoded = staticmethod(reencoded)
    samples = SAMPLES


@pytest.fixture
def helpers():
    return Helpers
