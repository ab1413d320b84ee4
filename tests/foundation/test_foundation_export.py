"""Export: bounded shards, embedded images, load_dataset round trip, atomicity under SIGKILL."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from foundation_fixtures import blob, mglmm_string, photo, save, write_json

from pipelines.exports.dataset import ExportError, export_dataset
from pipelines.stages.ingest import ingest
from pipelines.store.dataset_dir import DatasetDir
from schemas.contract import hf_features

H, W = 48, 64


@pytest.fixture
def rich_dataset(image_dir: Path, tmp_path: Path) -> Path:
    """images + segments + segcap (mgsc, gcg) + instructions + rejects, ingested from 3 formats."""
    out = tmp_path / "work"
    mgsc = write_json(tmp_path / "mgsc.json", [
        {"file_name": name, "label": "root", "gcg_caption": f"A <a>thing {k}</a> and <b>more</b>.",
         "gcg_labels": ["a", "b"], "a": {"mask": mglmm_string(blob(H, W, (2, 2, 20 + k, 30))),
                                          "label": "thing"},
         "b": {"mask": mglmm_string(blob(H, W, (30, 5, 60, 40), hole=True)), "label": "more"}}
        for k, name in enumerate(["astronaut.png", "sub/coffee.jpg", "chelsea.png", "broken.png"])
    ])
    ingest("mgsc", mgsc, image_dir, out, progress=False)
    llava = write_json(tmp_path / "llava.json", [
        {"id": str(k), "image": "chelsea.png", "conversations": [
            {"from": "human", "value": f"<image>\nQuestion {k}?"}, {"from": "gpt", "value": "Yes."}]}
        for k in range(3)])
    ingest("llava", llava, image_dir, out, progress=False)
    save(image_dir / "rocket.png", photo("rocket"))  # only this ingest sees it: a path-only row
    ingest("images", image_dir, None, out, progress=False, embed_images=False)
    return out


def hf_records(out: Path, config: str) -> list[dict]:
    # A fresh cache per load: the HF cache can key two same-named temp exports alike.
    ds = datasets.load_dataset(str(out), config, split="train", cache_dir=tempfile.mkdtemp())
    if config == "images":
        ds = ds.cast_column("image", datasets.Image(decode=False))
    return ds.to_list()


def test_export_loads_identical_records(rich_dataset: Path, tmp_path: Path):
    out = tmp_path / "published"
    stats = export_dataset(rich_dataset, out, max_rows_per_shard=2)
    assert any(r["image"]["bytes"] is None for r in DatasetDir(rich_dataset).read("images").to_pylist())
    exported = DatasetDir(out)
    assert exported.is_complete() and set(exported.configs()) == {
        "images", "segments", "segcap", "instructions", "rejects"}
    source = DatasetDir(rich_dataset)
    for config in exported.configs():
        expected = source.read(config).to_pylist()
        if config == "images":  # path-only images were resolved into bytes
            for row in expected:
                if row["image"]["bytes"] is None:
                    path = Path(row["image"]["path"])
                    row["image"] = {"bytes": path.read_bytes(), "path": path.name}
        assert hf_records(out, config) == expected, config
        assert len({r.get("image_id") for r in expected}) == len(expected) or config != "images"
        assert all(pq.ParquetFile(p).metadata.num_rows <= 2 for p in exported.shard_paths(config))
    assert stats.outputs["segcap"] == source.count("segcap") == 3
    carried = json.loads((out / "stats.json").read_text())["stages"]
    assert "export" in carried and any(name.startswith("ingest.mgsc") for name in carried)
    card = (out / "README.md").read_text()
    assert "config_name: segcap" in card and "segcap/*.parquet" in card
    schema = json.loads((out / "schema.json").read_text())
    assert set(schema["configs"]) == set(exported.configs())
    assert datasets.load_dataset(str(out), "segcap", split="train").features == hf_features("segcap")


def test_export_bounds_shards_by_bytes(rich_dataset: Path, tmp_path: Path):
    out = tmp_path / "small-shards"
    export_dataset(rich_dataset, out, max_bytes_per_shard=1)
    exported = DatasetDir(out)
    assert len(exported.shard_paths("images")) == exported.count("images")


def test_export_refuses_bad_sources(tmp_path: Path, rich_dataset: Path):
    with pytest.raises(ExportError, match="not a dataset directory"):
        export_dataset(tmp_path / "nothing", tmp_path / "out")
    with pytest.raises(ExportError, match="must not be inside"):
        export_dataset(rich_dataset, rich_dataset / "inner")


KILLER = textwrap.dedent("""
    import os, signal, sys
    from pipelines.store import dataset_dir
    from pipelines.exports.dataset import export_dataset

    original = dataset_dir.ShardWriter.write
    calls = {"n": 0}

    def write_then_die(self, table):
        original(self, table)
        calls["n"] += 1
        if calls["n"] == int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)  # a crash mid-export: no cleanup code runs

    dataset_dir.ShardWriter.write = write_then_die
    export_dataset(sys.argv[1], sys.argv[2], max_rows_per_shard=1)
""")


@pytest.mark.parametrize("die_after", [1, 4])
def test_killed_export_leaves_no_complete_looking_directory(rich_dataset, tmp_path, die_after):
    out = tmp_path / "killed"
    result = subprocess.run([sys.executable, "-c", KILLER, str(rich_dataset), str(out), str(die_after)],
                            cwd=Path(__file__).resolve().parents[2], capture_output=True, timeout=300)
    assert result.returncode == -9, result.stderr.decode()[-2000:]
    assert not out.exists()
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".killed")]
    assert leftovers and not any(DatasetDir(p).is_complete() for p in leftovers)
    # A previous complete export survives a crashed re-export untouched.
    export_dataset(rich_dataset, out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    subprocess.run([sys.executable, "-c", KILLER, str(rich_dataset), str(out), "1"],
                   cwd=Path(__file__).resolve().parents[2], capture_output=True, timeout=300)
    assert DatasetDir(out).is_complete()
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert hf_records(out, "segcap") == DatasetDir(rich_dataset).read("segcap").to_pylist()

