"""Recipe errors and publishing through the real command line (typer runner, real files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()
GOOD = """\
name: t
output: out
inputs:
  - format: images
    source: imgs
stages:
  - stage: select
    options: {budget: 0.5}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "imgs").mkdir(exist_ok=True)
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text,expected", [
    (GOOD.replace("  - format: images\n", "  - format: images\n    colour: red\n"),
     ["recipe.yaml:5", "inputs.0.colour", "Extra inputs"]),
    (GOOD.replace("{budget: 0.5}", "{budget: lots}"),
     ["recipe.yaml:8", "stages.0.options.budget", "valid number"]),
    (GOOD.split("inputs:")[0] + "stages: []\n", ["inputs", "Field required"]),
    (GOOD.replace("source: imgs", "source: no/such/dir"),
     ["recipe.yaml:5", "inputs.0.source", "path does not exist"]),
    (GOOD.replace("stage: select", "stage: sharpen"), ["stages.0", "sharpen"]),
], ids=["unknown-key", "wrong-type", "missing-input", "bad-path", "unknown-stage"])
def test_orchestration_recipe_errors_name_key_and_line(tmp_path, text, expected):
    result = runner.invoke(app, ["run", str(write(tmp_path, text))])
    assert result.exit_code != 0
    message = " ".join(result.output.split())
    for fragment in expected:
        assert fragment in message, message


def test_orchestration_missing_recipe_file(tmp_path):
    result = runner.invoke(app, ["run", str(tmp_path / "nope.yaml")])
    assert result.exit_code != 0 and "does not exist" in " ".join(result.output.split())


def test_orchestration_every_bundled_recipe_parses(tmp_path):
    import yaml

    from pipelines.engine.recipe import parse_recipe

    recipes = sorted(Path(__file__).parents[2].joinpath("recipes").glob("*.yaml"))
    assert {p.stem for p in recipes} >= {"demo", "coco_parts", "mot", "llava_select", "vllm_cluster"}
    for path in recipes:
        data = yaml.safe_load(path.read_text())
        # Input paths are checked against the disk; everything else must validate as written.
        for spec in data["inputs"]:
            spec["source"], spec["images"] = str(tmp_path), None
        recipe = parse_recipe(yaml.safe_dump(data), path.name, tmp_path)
        assert recipe.stages, path.name


def _finished_dataset(tmp_path: Path) -> Path:
    from pipelines.engine.execute import execute_step
    from pipelines.ingest.demo_data import write_photos
    from pipelines.ingest.registry import reader_for
    from pipelines.stages.ingest import IngestStage, item_batches
    from pipelines.store.dataset_dir import DatasetDir
    from schemas.options.ingest import IngestOptions

    write_photos(tmp_path / "photos")
    options = IngestOptions(format="images", source=tmp_path / "photos")
    dataset = DatasetDir(tmp_path / "ds")
    execute_step(IngestStage(**options.model_dump(mode="json")), dataset,
                 inputs=item_batches(iter(reader_for("images").list_items(options)), 4),
                 progress=False)
    dataset.finalize()
    return dataset.path


def test_orchestration_publish_dry_run_lists_files_without_token(tmp_path, monkeypatch, prefect_server):
    monkeypatch.setenv("HF_TOKEN", "")
    path = _finished_dataset(tmp_path)
    result = runner.invoke(app, ["publish", str(path), "--repo-id", "org/name", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "README.md" in result.output and "images/" in result.output
    assert ".segcap-run" not in result.output


def test_orchestration_publish_refuses_invalid_dataset_and_missing_token(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    path = _finished_dataset(tmp_path)
    result = runner.invoke(app, ["publish", str(path), "--repo-id", "org/name"])
    assert result.exit_code != 0 and "HF_TOKEN" in " ".join(result.output.split())
    (path / "README.md").unlink()
    result = runner.invoke(app, ["publish", str(path), "--repo-id", "org/name", "--dry-run"])
    assert result.exit_code != 0 and "validate" in " ".join(result.output.split())


def test_orchestration_publish_flow_uploads_visible_files(tmp_path, prefect_server):
    from flows.publish import publish

    class HubStandIn:
        """THE stand-in for the Hugging Face Hub itself (unreachable here): records the calls."""

        def __init__(self):
            self.calls = []

        def create_repo(self, repo_id, *, repo_type, private, exist_ok):
            self.calls.append(("create_repo", repo_id, repo_type, private))

        def upload_folder(self, *, repo_id, folder_path, repo_type, ignore_patterns, commit_message):
            self.calls.append(("upload_folder", repo_id, folder_path, repo_type, tuple(ignore_patterns)))

    path = _finished_dataset(tmp_path)
    hub = HubStandIn()
    result = publish(str(path), "org/name", private=True, api=hub)
    assert result["uploaded"] and result["url"].endswith("datasets/org/name")
    assert hub.calls[0] == ("create_repo", "org/name", "dataset", True)
    assert hub.calls[1][:4] == ("upload_folder", "org/name", str(path), "dataset")
    assert ".*" in hub.calls[1][4]
    names = {f["path"] for f in result["files"]}
    assert {"README.md", "schema.json"} <= names and not any(n.startswith(".") for n in names)
