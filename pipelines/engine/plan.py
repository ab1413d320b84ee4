"""The run planner: a recipe -> an ordered list of steps, each with its stage and resume key.

A step's key hashes its own spec (stage, options, batch size) with the key of the step before
it, and an ingest step's key also hashes its source files' names, sizes and times. Changing a
step's config therefore changes its key and every later key, and nothing earlier: exactly the
steps that must be redone.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from pipelines.engine.registry import stage_class
from pipelines.engine.stage import Resources, Stage
from pipelines.store.dataset_dir import DatasetDir
from schemas.recipe import InputSpec, RecipeBase


@dataclass
class Step:
    step_id: str
    stage_name: str
    key: str
    build: Callable[[], Stage]
    inputs: Callable[[], Iterator[pa.Table]] | None = None  # explicit inputs (ingest)
    calls_models: bool = False  # retried with backoff by the flow (`Stage.calls_model`)
    per_unit_setup: bool = False  # reader state must not carry from one unit to the next

    @property
    def outputs(self) -> tuple[str, ...]:
        """A class declaration: read without building the stage."""
        return stage_class(self.stage_name).outputs


def _digest(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def source_fingerprint(*paths: Path | None) -> str:
    """Names, sizes and modification times of every file under `paths` (no content reads)."""
    entries = []
    for root in (p for p in paths if p is not None):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        entries.extend((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    return _digest(entries)


def _ingest_step(spec: InputSpec, step_id: str) -> Step:
    # The step, not the stage, is per input: one ingest stage class, one step id per source.
    ingest = stage_class("ingest")
    options = spec.model_dump(mode="json", exclude={"id"})
    key = _digest({"step": step_id, "options": options,
                   "files": source_fingerprint(spec.source, spec.images, spec.panoptic_masks)})

    def build() -> Stage:
        stage = ingest(**options)
        stage.options["created_at"] = None  # the engine pins it per step (same on resume)
        return stage

    def inputs() -> Iterator[pa.Table]:
        return ingest.input_batches(spec)

    return Step(step_id, "ingest", key, build, inputs=inputs, per_unit_setup=True)


def plan_run(recipe: RecipeBase, dataset: DatasetDir) -> list[Step]:
    steps = [_ingest_step(spec, step_id)
             for spec, step_id in zip(recipe.inputs, recipe.input_ids(), strict=True)]
    previous = _digest([s.key for s in steps])
    for spec, step_id in zip(recipe.stages, recipe.step_ids(), strict=True):
        options = spec.options.model_dump(mode="json")
        key = _digest({"step": step_id, "stage": spec.stage, "options": options,
                       "batch_size": spec.batch_size, "after": previous})
        previous = key
        resources = Resources(**spec.resources.model_dump())
        cls = stage_class(spec.stage)

        def build(cls=cls, spec=spec, options=options, resources=resources) -> Stage:
            return cls(spec.batch_size, resources, **options)

        steps.append(Step(step_id, spec.stage, key, build,
                          calls_models=cls.calls_model(spec.options)))
    _check_unique(steps)
    return steps


def _check_unique(steps: list[Step]) -> None:
    seen = set()
    for step in steps:
        if step.step_id in seen:
            raise ValueError(f"two steps are named {step.step_id!r}; give one an `id:`")
        seen.add(step.step_id)


def ray_address(recipe: RecipeBase, override: str | None) -> str | None:
    return override or recipe.ray.address or os.environ.get("RAY_ADDRESS")
