"""A stage with no command module of its own still gets `segcap <stage>`, generated from its
declaration: the options model's flags, --batch-size from default_batch_size, the run, the summary."""

from __future__ import annotations

import pyarrow as pa
import pytest
import typer
from pydantic import BaseModel, ConfigDict, Field
from typer.testing import CliRunner

from flows.commands import any_stage, verify
from pipelines.engine import registry
from pipelines.engine.stage import Stage, StageOutput
from pipelines.ingest.demo_data import write_scenes
from pipelines.stages.ingest import ingest
from schemas.rejects import Reason


class NarrowOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_width: int = Field(10, ge=1, description="images narrower than this are rejected")


@pytest.fixture
def narrow_stage(monkeypatch):
    registry.discover()
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))

    class NarrowStage(Stage):
        """Reject the images narrower than --min-width."""

        name = "reject_narrow"
        options_model = NarrowOptions
        input_config = "images"
        default_batch_size = 5

        def process(self, batch: pa.Table) -> StageOutput:
            output = StageOutput()
            for row in batch.select(["image_id", "width"]).to_pylist():
                if row["width"] < self.settings.min_width:
                    output.reject(self.name, row["image_id"], Reason.BAD_FIELD, row["width"])
                output.counters["images_seen"] += 1
            return output

    return NarrowStage


def _app() -> typer.Typer:
    app = typer.Typer()
    verify.register(app)
    any_stage.register_uncovered(app, [verify])
    return app


def test_a_new_stage_gets_a_command_with_its_generated_flags(narrow_stage):
    app = _app()
    names = {info.name for info in app.registered_commands}
    assert "reject-narrow" in names
    # Stages that command modules cover get no second, generated command.
    assert not names & {"verify-descriptions", "verify_descriptions"}
    help_text = CliRunner().invoke(app, ["reject-narrow", "--help"], env={"COLUMNS": "200"}).output
    assert "Reject the images narrower than --min-width." in help_text
    assert "--min-width" in help_text and "images narrower than this are rejected" in help_text
    assert "--batch-size" in help_text and "default: 5" in help_text


def test_the_generated_command_runs_the_stage_and_refuses_bad_values(narrow_stage, tmp_path):
    write_scenes(tmp_path / "src", 3, seed=1, size=(40, 64))
    out = tmp_path / "ds"
    ingest("images", tmp_path / "src" / "images", None, out, progress=False)
    runner = CliRunner()
    result = runner.invoke(_app(), ["reject-narrow", str(out), "--min-width", "100"])
    assert result.exit_code == 0, result.output
    rejects = pa.concat_tables(pa.parquet.read_table(p) for p in sorted(out.glob("rejects/*.parquet")))
    assert sorted(rejects.column("stage").to_pylist()).count("reject_narrow") == 3
    bad = runner.invoke(_app(), ["reject-narrow", str(out), "--min-width", "0"])
    assert bad.exit_code == 2 and "--min-width" in bad.output
    missing = runner.invoke(_app(), ["reject-narrow", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
