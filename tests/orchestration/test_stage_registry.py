"""A stage declares itself once: the registry, the recipe schema and the planner follow."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pydantic import BaseModel, ConfigDict

from pipelines.engine import registry
from pipelines.engine.plan import plan_run
from pipelines.engine.recipe import parse_recipe
from pipelines.engine.stage import Stage, StageOutput
from pipelines.store.dataset_dir import DatasetDir
from schemas.recipe import RecipeError

RECIPE = "name: t\noutput: out\ninputs:\n  - {format: images, source: imgs}\nstages:\n"


@pytest.fixture
def scratch_registry(monkeypatch):
    """Stages defined by a test are forgotten after it."""
    registry.discover()
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))


class CountOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    word: str = "x"
    model: str | None = None


def test_registry_finds_every_production_stage():
    assert set(registry.recipe_stages()) == {"mine", "describe", "score", "select", "dedup",
                                              "verify", "verify_descriptions"}
    assert registry.stage_class("ingest").input_config is None  # an input, not a recipe step


def test_a_new_stage_class_is_a_recipe_step_with_its_options_and_model_flag(tmp_path, scratch_registry):
    class CountStage(Stage):
        name = "count_words"
        options_model = CountOptions
        input_config = "instructions"
        outputs = ("instructions",)
        default_batch_size = 3

        @classmethod
        def calls_model(cls, settings: CountOptions) -> bool:
            return settings.model is not None

        def process(self, batch: pa.Table) -> StageOutput:
            return StageOutput()

    (tmp_path / "imgs").mkdir()
    recipe = parse_recipe(RECIPE + "  - {stage: count_words}\n"
                          "  - {id: counted, stage: count_words, options: {model: m}}\n",
                          base_dir=tmp_path)
    steps = plan_run(recipe, DatasetDir(tmp_path / "out"))
    built = steps[1].build()
    assert isinstance(built, CountStage) and built.batch_size == 3 and built.settings.word == "x"
    assert [s.calls_models for s in steps[1:]] == [False, True]  # the one declaration, per step
    assert steps[1].outputs == ("instructions",)
    with pytest.raises(RecipeError, match=r"stages\.0\.options\.colour"):
        parse_recipe(RECIPE + "  - {stage: count_words, options: {colour: red}}\n", base_dir=tmp_path)


def test_two_stages_cannot_share_a_name(scratch_registry):
    with pytest.raises(TypeError, match="'describe' is taken"):
        class Another(Stage):  # noqa: F841
            name = "describe"


def test_building_an_ingest_step_writes_nothing_and_outputs_need_no_build(tmp_path, monkeypatch):
    from pipelines.ingest.demo_data import write_photos

    write_photos(tmp_path / "imgs")
    recipe = parse_recipe(RECIPE.replace("source: imgs", "source: imgs, embed_images: false")
                          + "  - {stage: describe}\n", base_dir=tmp_path)
    before = sorted(tmp_path.rglob("*"))
    steps = plan_run(recipe, DatasetDir(tmp_path / "out"))
    ingest = steps[0].build()
    assert ingest.name == "ingest" and ingest.step_id == "ingest.images_imgs"
    assert ingest.settings.embed_images is False and ingest.primary_output == "images"
    monkeypatch.setattr(steps[1], "build", lambda: pytest.fail("outputs built the stage"))
    assert steps[1].outputs == ("descriptions", "segcap")
    assert sorted(tmp_path.rglob("*")) == before


def test_a_stage_reads_only_the_side_inputs_it_declares(tmp_path):
    from pipelines.stages.select import SelectStage

    stage = SelectStage(budget=1)
    stage.dataset_path = str(tmp_path)
    assert stage.side.read("instructions", ["sample_id"]).num_rows == 0
    with pytest.raises(LookupError, match="does not declare it"):
        stage.side.read("images", ["image_id"])


def test_stage_subclass_without_a_name_is_not_registered(scratch_registry):
    class Base(Stage):
        input_config = "images"

    assert Base not in registry._registered.values()


def test_unknown_stage_lists_the_registered_ones(tmp_path):
    (tmp_path / "imgs").mkdir()
    with pytest.raises(RecipeError) as error:
        parse_recipe(RECIPE + "  - {stage: sharpen}\n", "recipe.yaml", tmp_path)
    assert "recipe.yaml:6" in str(error.value) and "'verify_descriptions'" in str(error.value)


def test_registry_discovers_every_stage_module():
    """Discovery imports each module of pipelines.stages: no list of stages to keep up to date."""
    import pkgutil

    import pipelines.stages

    registry.discover()
    modules = {cls.__module__ for cls in registry._registered.values()}
    stage_modules = {m.name for m in pkgutil.iter_modules(pipelines.stages.__path__, "pipelines.stages.")}
    assert {"pipelines.stages.mine", "pipelines.stages.verify"} <= modules & stage_modules
