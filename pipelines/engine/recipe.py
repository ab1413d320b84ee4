"""The recipe model, derived from the stage registry, and the functions that read recipe files.

`stages:` is a list of steps tagged by `stage:`. Each registered recipe stage (one that reads a
config and has an options model) contributes one step model: the common step fields
(`schemas.recipe.StepBase`), `stage: Literal[<name>]` and `options: <its options model>`,
defaulted when every option has a default. So a new stage is a recipe step as soon as its
class exists; nothing here names a stage.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, create_model

from pipelines.engine.registry import recipe_stages
from pipelines.engine.stage import Stage
from schemas.recipe import RecipeBase, RecipeError, StepBase, parse_recipe_with


def recipe_model() -> type[RecipeBase]:
    """The full `Recipe` model for the stages registered now."""
    return _model_for(tuple(recipe_stages().items()))


@lru_cache(maxsize=8)
def _model_for(stages: tuple[tuple[str, type[Stage]], ...]) -> type[RecipeBase]:
    steps = tuple(_step_model(name, cls) for name, cls in stages)
    step = Annotated[Union[steps], Field(discriminator="stage")]  # noqa: UP007 (a runtime tuple)
    return create_model("Recipe", __base__=RecipeBase,
                        stages=(list[step], Field(default_factory=list)))


def _step_model(name: str, cls: type[Stage]) -> type[StepBase]:
    options = cls.options_model
    # all defaults: `options:` may be left out; else (select's budget) it is required
    required = any(field.is_required() for field in options.model_fields.values())
    return create_model(
        "".join(part.title() for part in name.split("_")) + "Step", __base__=StepBase,
        stage=(Literal[name], ...),
        options=(options, ... if required else Field(default_factory=options)))


def parse_recipe(text: str, source: str = "<recipe>", base_dir: Path | None = None,
                 overrides: dict | None = None) -> RecipeBase:
    return parse_recipe_with(recipe_model(), set(recipe_stages()), text, source, base_dir,
                             overrides)


def load_recipe(path: str | Path, overrides: dict | None = None) -> RecipeBase:
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file {path} does not exist")
    return parse_recipe(path.read_text(encoding="utf-8"), str(path), path.parent.resolve(), overrides)
