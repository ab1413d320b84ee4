"""The recipe: one YAML file that describes a curation run, validated with pydantic.

A recipe names its inputs (each one an ingest), its stages in order (each with the options
model of that stage, its batch size and resources), named model backends, budgets, the output
directory, and the Ray and Prefect settings. Every model forbids unknown keys.

This module holds the parts that do not depend on which stages exist. The step models, one
per registered stage, are derived from the stage registry by `pipelines.engine.recipe`, which
builds the full `Recipe` model from `RecipeBase` and parses recipe files: schemas cannot import
the pipelines that define the stages. `parse_recipe_with` reports each problem with its key
path and its line in the YAML file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from schemas.options.ingest import IngestOptions

STEP_ID = r"^[a-z][a-z0-9_]*$"  # no '-': step ids prefix shard names, '-' separates the parts


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepResources(Strict):
    num_cpus: float = Field(1.0, gt=0)
    num_gpus: float = Field(0.0, ge=0)
    concurrency: int = Field(1, ge=1, description="actor-pool size (model stages) or parallel tasks")


class InputSpec(IngestOptions):
    """One input: an ingest of `source` in `format` (paths relative to the recipe file)."""

    id: str | None = Field(None, pattern=STEP_ID, description="step id; default ingest_<n>")

    @field_validator("source", "images", "panoptic_masks")
    @classmethod
    def _path_exists(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        base = Path((info.context or {}).get("base_dir", "."))
        resolved = value if value.is_absolute() else (base / value)
        if not resolved.exists():
            raise ValueError(f"path does not exist: {resolved}")
        return resolved.resolve()


class StepBase(Strict):
    """What every recipe step has; a stage's step adds `stage: <name>` and `options: <its model>`."""

    id: str | None = Field(None, pattern=STEP_ID, description="step id; default: the stage name")
    batch_size: int | None = Field(None, ge=1)
    resources: StepResources = Field(default_factory=StepResources)
    backend: str | None = Field(None, description="name of an entry in `backends`")


class Backend(Strict):
    """A model backend stages refer to by name; merged into the stage's options."""

    kind: Literal["template", "rules", "transformers", "openai", "vllm"]
    model: str | None = None
    base_url: str | None = None
    # How its calls may fail (see schemas/options/language.ModelCallOptions); merged like model.
    timeout_s: float | None = Field(None, gt=0)
    attempts: int | None = Field(None, ge=1)
    deadline_s: float | None = Field(None, gt=0)
    max_fallback_share: float | None = Field(None, ge=0, le=1)


class Budgets(Strict):
    selection: float | None = Field(
        None, gt=0, description="default `budget` of select stages (ratio or count)")


class RaySection(Strict):
    enabled: bool = Field(True, description="false: run every stage in this process")
    address: str | None = Field(None, description="join this cluster (else RAY_ADDRESS, else local)")
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local Ray; default: all")
    object_store_mb: int = Field(1024, ge=64, description="object store of a local Ray")


class PrefectSection(Strict):
    retries: int = Field(2, ge=0, description="retries of model and HTTP stages")
    retry_delay_seconds: float = Field(2.0, ge=0, description="first retry delay; doubles after")
    persist_results: bool = True
    cache: bool = Field(True, description="skip a task whose inputs and config are unchanged")


class RecipeBase(Strict):
    """A recipe without its `stages:` field, whose step union comes from the stage registry."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    output: Path = Field(description="the dataset directory (relative to the recipe file)")
    export: Path | None = Field(None, description="also export a publishable copy here")
    inputs: list[InputSpec] = Field(min_length=1)
    backends: dict[str, Backend] = Field(default_factory=dict)
    budgets: Budgets = Field(default_factory=Budgets)
    unit_rows: int = Field(256, ge=1, description="rows per resumable work unit")
    ray: RaySection = Field(default_factory=RaySection)
    prefect: PrefectSection = Field(default_factory=PrefectSection)

    @field_validator("output", "export")
    @classmethod
    def _relative_to_recipe(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None or value.is_absolute():
            return value
        return Path((info.context or {}).get("base_dir", ".")) / value

    def input_ids(self) -> list[str]:
        return [spec.id or f"ingest_{index}" for index, spec in enumerate(self.inputs)]

    def step_ids(self) -> list[str]:
        return [step.id or step.stage for step in self.stages]  # `stages` is the derived field


BACKEND_CALL_KEYS = ("timeout_s", "attempts", "deadline_s", "max_fallback_share")


class RecipeError(ValueError):
    """A recipe that cannot be used; the message lists every problem with its place."""


def _apply_backends_and_budgets(data: Any) -> None:
    """Merge named backends and budgets into stage options before validation (raw dicts)."""
    if not isinstance(data, dict) or not isinstance(data.get("stages"), list):
        return
    backends = data.get("backends") if isinstance(data.get("backends"), dict) else {}
    budgets = data.get("budgets") if isinstance(data.get("budgets"), dict) else {}
    for step in data["stages"]:
        if not isinstance(step, dict):
            continue
        options = step.setdefault("options", {})
        if not isinstance(options, dict):
            continue
        backend = backends.get(step.get("backend")) if step.get("backend") else None
        if isinstance(backend, dict):
            for key in ("kind", "model", "base_url", *BACKEND_CALL_KEYS):
                if backend.get(key) is not None:
                    options.setdefault("backend" if key == "kind" else key, backend[key])
        if step.get("stage") == "select" and budgets.get("selection") is not None:
            options.setdefault("budget", budgets["selection"])


def _undefined_backends(data: Any) -> list[tuple[tuple, str]]:
    """(key path, message) for every step naming a backend that `backends:` does not define:
    a misspelt name must never run the default backend silently."""
    if not isinstance(data, dict) or not isinstance(data.get("stages"), list):
        return []
    backends = data.get("backends") if isinstance(data.get("backends"), dict) else {}
    problems = []
    for index, step in enumerate(data["stages"]):
        name = step.get("backend") if isinstance(step, dict) else None
        if name is not None and name not in backends:
            defined = ", ".join(sorted(map(str, backends))) or "none"
            problems.append((("stages", index, "backend"),
                             f"backend {name!r} is not defined in `backends:` (defined: {defined})"))
    return problems


def _marks(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Line (1-based) of every key path in a composed YAML document."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, key.value)] = key.start_mark.line + 1
            _marks(value, (*path, key.value), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _marks(item, (*path, index), out)
    return out


def _place(loc: tuple, marks: dict[tuple, int], tags: set[str]) -> tuple[str, int | None]:
    """Map a pydantic error location to a dotted key path and the nearest YAML line."""
    path: tuple = ()
    for part in loc:
        if (*path, part) in marks:
            path = (*path, part)
        elif isinstance(part, str) and part in tags:
            continue  # the discriminator tag pydantic inserts for tagged unions
        else:
            return ".".join(map(str, (*path, part))), marks.get(path)
    return ".".join(map(str, path)) or "(top level)", marks.get(path)


def parse_recipe_with(model: type[RecipeBase], tags: set[str], text: str, source: str = "<recipe>",
                      base_dir: Path | None = None, overrides: dict | None = None) -> RecipeBase:
    """Validate recipe YAML against `model` (a RecipeBase with its `stages:` union, whose step
    tags are `tags`); every problem is reported at once, with its key path and YAML line."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RecipeError(f"{source}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{source}: a recipe is a YAML mapping (name, output, inputs, stages, ...)")
    data.update(overrides or {})
    _apply_backends_and_budgets(data)
    marks = _marks(node) if node is not None else {}
    errors = [(loc, message) for loc, message in _undefined_backends(data)]
    recipe = None
    try:
        recipe = model.model_validate(data, context={"base_dir": str(base_dir or Path("."))})
    except ValidationError as error:
        errors += [(tuple(item["loc"]), item["msg"]) for item in error.errors()]
    if errors:
        problems = []
        for loc, message in errors:
            key, line = _place(loc, marks, tags)
            where = f"{source}:{line}" if line else source
            problems.append(f"{where}: `{key}`: {message}")
        raise RecipeError("invalid recipe:\n  " + "\n  ".join(problems))
    return recipe
