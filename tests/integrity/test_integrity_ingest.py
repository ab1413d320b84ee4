"""A real ingest through the one engine: the crash window between a shard's rename and its
marker (issue 10 item 2), and unreadable files met by validate, export and report."""

from __future__ import annotations

import numpy as np
import pytest
from integrity_helpers import segcap
from PIL import Image

from pipelines.engine.execute import execute_step
from pipelines.ingest.registry import reader_for
from pipelines.stages.ingest import IngestStage, item_batches
from pipelines.store.dataset_dir import DatasetDir
from pipelines.store.step_state import StepState
from pipelines.store.validate import validate_dataset
from schemas.options.ingest import IngestOptions


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    return folder


def ingest_photos(folder, out):
    """What a recipe's `{id: photos, format: images}` input runs: step id `photos`, one unit
    per image."""
    options = IngestOptions(format="images", source=folder)
    items = list(reader_for("images").list_items(options))
    stage = IngestStage(**options.model_dump(mode="json"))
    stage.options["created_at"] = None
    return execute_step(stage, DatasetDir(out), step_id="photos", key="photos-v1",
                        inputs=item_batches(iter(items), 1), unit_rows=1, progress=False,
                        setup_each=True)


def test_integrity_crash_between_rename_and_marker_resumes_the_ingest_exactly(photos, tmp_path):
    out = tmp_path / "ds"
    first = ingest_photos(photos, out)
    assert first.rows_out == 4
    clean = DatasetDir(out).read("images").to_pylist()
    # The state a crash after the shard's rename and before its marker leaves behind.
    state = StepState(DatasetDir(out), "photos")
    state.unit_marker(state.unit_ids()[1]).unlink()
    (state.root / "done.json").unlink()

    resumed = ingest_photos(photos, out)
    assert (resumed.rows_in, resumed.rows_out, sum(resumed.rejected.values())) == (4, 4, 0)
    assert resumed.extra["units_resumed"] == 3
    assert DatasetDir(out).read("images").to_pylist() == clean
    DatasetDir(out).finalize()
    assert validate_dataset(out).ok


def test_integrity_unreadable_files_give_one_line_naming_them(photos, tmp_path):
    out = tmp_path / "ds"
    ingest_photos(photos, out)
    DatasetDir(out).finalize()
    shard = DatasetDir(out).shard_paths("images")[2]
    shard.write_bytes(b"PAR1 this is not parquet at all")
    for args in (["validate", out], ["export", out, "--out", tmp_path / "exported"],
                 ["report", out, "--out", tmp_path / "r.html"]):
        result = segcap(*args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        text = result.stdout + result.stderr
        assert "Traceback" not in text, text
        unwrapped = "".join(text.replace("│", "").split())  # validate's table wraps long cells
        assert shard.name in unwrapped, text
    assert not (tmp_path / "exported").exists()

    shard.unlink()
    (out / "stats.json").write_text("{not json", encoding="utf-8")
    result = segcap("report", out, "--out", tmp_path / "r.html")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "stats.json is not valid JSON" in result.stderr
