"""Named backends in a recipe: a misspelt name is an error naming it; call bounds are merged."""

from __future__ import annotations

import pytest

from pipelines.engine.recipe import parse_recipe
from schemas.recipe import RecipeError

RECIPE = """name: t
output: out
inputs:
  - {{format: images, source: {source}}}
stages:
  - stage: describe
    backend: {name}
backends:
  vlm: {{kind: openai, base_url: "http://localhost:8000/v1", timeout_s: 7, attempts: 2,
         deadline_s: 600, max_fallback_share: 0.05}}
"""


def test_a_recipe_naming_an_undefined_backend_is_an_error_naming_it_and_its_line(tmp_path):
    with pytest.raises(RecipeError) as error:
        parse_recipe(RECIPE.format(source=tmp_path, name="vlmm"), "recipe.yaml", tmp_path)
    message = str(error.value)
    assert "recipe.yaml:7" in message and "stages.0.backend" in message
    assert "'vlmm' is not defined in `backends:` (defined: vlm)" in message


def test_a_named_backend_carries_its_call_bounds_into_the_stage_options(tmp_path):
    recipe = parse_recipe(RECIPE.format(source=tmp_path, name="vlm"), "recipe.yaml", tmp_path)
    options = recipe.stages[0].options
    assert (options.backend, options.base_url) == ("openai", "http://localhost:8000/v1")
    assert (options.timeout_s, options.attempts, options.deadline_s) == (7, 2, 600)
    assert options.max_fallback_share == 0.05
