"""Suite-wide settings: no network, caches in a temporary folder."""

import os
import tempfile

import pytest

_CACHE = tempfile.mkdtemp(prefix="segcap-test-cache-")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HOME", os.path.join(_CACHE, "hf"))
os.environ.setdefault("HF_DATASETS_CACHE", os.path.join(_CACHE, "datasets"))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("SEGCAP_RAISE_READER_BUGS", "1")  # a reader bug fails its test, never a quiet reject


@pytest.fixture
def scene_dataset(tmp_path):
    """A factory: the dataset tmp_path/"ds" whose `images` are synthetic scenes, one PNG per seed
    (what the mine tests and CLI tests run on)."""

    def build(*seeds: int, size: tuple[int, int] = (72, 96), source: str = "test"):
        import io

        from PIL import Image

        from annotators.images import image_row
        from annotators.synthetic import generate_scene
        from pipelines.store.dataset_dir import DatasetDir
        from schemas.contract import table_from_rows

        rows = []
        for seed in seeds:
            buffer = io.BytesIO()
            Image.fromarray(generate_scene(seed, size=size).pixels).save(buffer, format="PNG")
            rows.append(image_row(buffer.getvalue(), f"scene{seed}.png", source))
        dataset = DatasetDir(tmp_path / "ds")
        writer = dataset.shard_writer("images", "test")
        writer.write(table_from_rows("images", rows))
        writer.close()
        return dataset

    return build
