"""One image-bytes resolver: a path-only `images` row is read only inside the dataset directory or
an image root recorded at ingest; anything else is a `path_escapes_root` reject, never embedded."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from annotators.images import ImageError, encode_png, image_bytes, image_row
from annotators.synthetic import generate_scene
from flows.cli import app
from pipelines.store.dataset_dir import DatasetDir
from pipelines.store.image_source import DatasetImages, record_image_root, recorded_roots
from pipelines.store.publish import check_publishable, upload_plan
from schemas.contract import table_from_rows

runner = CliRunner()
SECRET = b"AWS_SECRET_ACCESS_KEY=do-not-ship-me\n"


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result, " ".join(result.output.split())


def add_path_row(dataset: DatasetDir, path: str, name: str) -> str:
    png = encode_png(generate_scene(7, (32, 32)).pixels)
    row = image_row(png, name, "hand-edited", embed=False, path=path)
    writer = dataset.shard_writer("images", "zz-hand")
    writer.write(table_from_rows("images", [row]))
    writer.close()
    dataset.finalize()
    return row["image_id"]


@pytest.fixture
def secret_file(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    secret = outside / "credentials.txt"
    secret.write_bytes(SECRET)
    return secret


def test_export_rejects_a_row_pointing_outside_the_roots_and_never_embeds_it(
        synthetic_dataset, secret_file, tmp_path):
    dataset, scenes = synthetic_dataset(seeds=(0, 1))
    bad_id = add_path_row(dataset, str(secret_file), "credentials.txt")
    out = tmp_path / "published"
    result, output = invoke("export", dataset.path, "--out", out)
    assert result.exit_code == 1, (output, result.exception)
    assert "1 image(s) not exported (path_escapes_root 1)" in output
    exported = DatasetDir(out)
    rows = exported.read("images").to_pylist()
    assert sorted(r["image_id"] for r in rows) == sorted(scenes)  # the good ones are all there
    rejects = exported.read("rejects").to_pylist()
    assert [(r["input_ref"], r["reason"]) for r in rejects] == [(bad_id, "path_escapes_root")]
    for file in out.rglob("*"):
        if file.is_file():
            assert SECRET not in file.read_bytes(), file
    check_publishable(out)  # the export is valid and publishable ...
    for planned in upload_plan(out):  # ... and nothing publish would send carries the secret
        assert SECRET not in (out / planned.path).read_bytes()


def test_a_symlink_inside_the_dataset_that_leads_outside_is_refused(synthetic_dataset, secret_file):
    dataset, _ = synthetic_dataset(seeds=(0,))
    os.symlink(secret_file, dataset.path / "innocent.png")
    with pytest.raises(ImageError) as error:
        DatasetImages(dataset.path).read({"bytes": None, "path": "innocent.png"})
    assert error.value.reason == "path_escapes_root"
    with pytest.raises(ImageError, match="path_escapes_root"):
        image_bytes({"bytes": None, "path": "../elsewhere/credentials.txt"}, dataset.path)


def test_a_root_recorded_at_ingest_is_read_and_embedded(tmp_path):
    images = tmp_path / "photos"
    images.mkdir()
    png = encode_png(generate_scene(3, (40, 40)).pixels)
    (images / "a.png").write_bytes(png)
    out = tmp_path / "data"
    result, output = invoke("ingest", "--format", "images", "--source", images, "--out", out, "--no-embed")
    assert result.exit_code == 0, output
    assert recorded_roots(out) == [str(images.resolve())]
    row = DatasetDir(out).read("images").to_pylist()[0]
    assert row["image"]["bytes"] is None
    assert DatasetImages(out).read(row["image"]) == png
    result, output = invoke("export", out, "--out", tmp_path / "published")
    assert result.exit_code == 0, output
    exported = DatasetDir(tmp_path / "published").read("images").to_pylist()[0]
    assert exported["image"]["bytes"] == png


def test_describe_rejects_an_escaping_row_and_describes_the_rest(synthetic_dataset, secret_file):
    dataset, scenes = synthetic_dataset(seeds=(0,))
    bad_id = add_path_row(dataset, str(secret_file), "credentials.txt")
    result, output = invoke("describe", dataset.path, "--tasks", "root")
    assert result.exit_code == 0, output
    reasons = {r["input_ref"]: r["reason"] for r in dataset.read("rejects").to_pylist()}
    assert reasons == {bad_id: "path_escapes_root"}
    described = {d["image_id"] for d in dataset.read("descriptions").to_pylist()}
    assert described == set(scenes)


def test_recording_a_root_twice_keeps_one_entry(tmp_path):
    record_image_root(tmp_path / "d", tmp_path / "r")
    record_image_root(tmp_path / "d", tmp_path / "r")
    assert recorded_roots(tmp_path / "d") == [str((tmp_path / "r").resolve())]
    (tmp_path / "d" / ".image_roots.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"\.image_roots\.json is unreadable"):
        recorded_roots(tmp_path / "d")


def test_export_with_a_corrupt_roots_file_is_one_line_naming_it(tmp_path):
    images = tmp_path / "photos"
    images.mkdir()
    (images / "a.png").write_bytes(encode_png(generate_scene(3, (40, 40)).pixels))
    out = tmp_path / "data"
    result, output = invoke("ingest", "--format", "images", "--source", images, "--out", out, "--no-embed")
    assert result.exit_code == 0, output
    (out / ".image_roots.json").write_text("{broken")
    result, output = invoke("export", out, "--out", tmp_path / "published")
    assert result.exit_code == 2, output
    assert "json is unreadable" in output and "image_roots" in output and "Traceback" not in output


def test_every_export_format_reads_images_under_the_one_rule(synthetic_dataset, secret_file, tmp_path):
    """The unsamv2, mglmm and llava exports read images through `exports.common.image_bytes`,
    i.e. the resolver: a row pointing outside the roots is refused with its reason, never copied."""
    from pipelines.exports.common import image_bytes as export_image_bytes

    dataset, _ = synthetic_dataset(seeds=(0,))
    bad_id = add_path_row(dataset, str(secret_file), "credentials.txt")
    bad = next(r for r in dataset.read("images").to_pylist() if r["image_id"] == bad_id)
    assert export_image_bytes(bad["image"], DatasetImages(dataset.path)) == (None, "path_escapes_root")
    writer = dataset.shard_writer("instructions", "zz-hand")
    writer.write(table_from_rows("instructions", [{
        "sample_id": "s1", "image_id": bad_id, "source": "hand", "source_id": "1",
        "conversations": [{"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "A."}],
        "capability_scores": {}, "styles": [], "selected": True}]))
    writer.close()
    dataset.finalize()
    out = tmp_path / "llava"
    result, output = invoke("export", dataset.path, "--format", "llava", "--all", "--out", out)
    assert result.exit_code == 1 and "1 samples" in output, output
    for file in out.rglob("*"):
        assert not file.is_file() or SECRET not in file.read_bytes()
    assert "path_escapes_root" in (out / "selection.json").read_text()
