"""The `curate` flow: one Prefect task per recipe step, each step executed by Ray Data.

Prefect is the control plane (ordering, retries with backoff for model/HTTP steps, persisted
results, caching, schedules); Ray Data, started inside the tasks, is the data plane. We chose
Ray Data inside tasks over prefect-ray's RayTaskRunner: a step is one Ray Data job over many
work units, with its own actor pools and streaming back-pressure, which a task runner that maps
one Prefect task to one Ray task cannot express; and resume lives in the dataset directory,
so a retried task only redoes the units that had not committed.

The cache key of a step is its resume key (its config and every upstream config and input
file fingerprint) plus a sha256 of the output directory's path (stable across processes, unlike
Python's `hash()`); a step whose committed output is missing or fails its checksums is always
refreshed, so a deleted or damaged dataset is never answered from the cache.

A run holds the dataset directory's writer lock from start to end, stops cleanly on SIGINT /
SIGTERM (the Prefect temporary server and a Ray it started are shut down too), and removes the
Ray session folder of a local Ray it started.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.tasks import exponential_backoff

from pipelines.engine.execute import LocalExecutor, execute_step, invalidate_changed
from pipelines.engine.lock import writer_lock
from pipelines.engine.plan import Step, plan_run, ray_address
from pipelines.engine.ray_exec import RayExecutor, RaySettings
from pipelines.engine.recipe import load_recipe
from pipelines.engine.stopping import on_hard_exit
from pipelines.store.dataset_dir import DatasetDir
from pipelines.store.step_state import StepState
from schemas.recipe import PrefectSection, RecipeBase


def _run_step(step: Step, dataset_path: str, executor, unit_rows: int, progress: bool) -> dict:
    stage = step.build()
    inputs = step.inputs() if step.inputs is not None else None
    stats = execute_step(stage, DatasetDir(dataset_path), executor=executor, step_id=step.step_id,
                         key=step.key, inputs=inputs, unit_rows=unit_rows, progress=progress,
                         setup_each=step.per_unit_setup)
    get_run_logger().info(stats.summary_line())
    return {"step": step.step_id, "stage": step.stage_name, **stats.as_json()}


def step_task(step: Step, dataset: DatasetDir, settings: PrefectSection):
    """The Prefect task for one step: retries for model steps, cache keyed on the resume key."""
    retries = settings.retries if step.calls_models else 0
    cache_key = step_cache_key(step, dataset)
    options = dict(
        name=step.step_id,
        task_run_name=step.step_id,
        retries=retries,
        retry_delay_seconds=exponential_backoff(settings.retry_delay_seconds)(retries) if retries else 0,
        persist_result=settings.persist_results,
        result_serializer="json",
    )
    if settings.cache:
        options.update(cache_key_fn=lambda *_: cache_key, refresh_cache=_needs_run(step, dataset))
    else:
        options.update(cache_policy=None)
    return task(_run_step).with_options(**options)


def step_cache_key(step: Step, dataset: DatasetDir) -> str:
    """The same in every process for the same step config and directory."""
    where = hashlib.sha256(str(dataset.path.resolve()).encode("utf-8")).hexdigest()[:16]
    return f"segcap-{step.step_id}-{step.key}-{where}"


def _needs_run(step: Step, dataset: DatasetDir) -> bool:
    """Refresh the cache unless the step finished under this key and its shards verify."""
    state = StepState(dataset, step.step_id)
    if state.finished() is None or state.key() != step.key:
        return True
    return any(state.unit_problems(unit) for unit in state.unit_ids())


def run_steps(steps: list[Step], dataset: DatasetDir, settings: PrefectSection, executor,
              unit_rows: int, progress: bool = True) -> list[dict]:
    """Invalidate changed steps (latest first), then run every step in order as a task."""
    wiped = invalidate_changed(dataset, [(s.step_id, s.key, s.outputs) for s in steps])
    if wiped:
        get_run_logger().info("config changed, redoing: %s", ", ".join(wiped))
    results = []
    for step in steps:
        results.append(step_task(step, dataset, settings)(step, str(dataset.path), executor,
                                                          unit_rows, progress))
    dataset.finalize()
    return results


def make_executor(recipe: RecipeBase, address: str | None):
    if not recipe.ray.enabled:
        return LocalExecutor()
    return RayExecutor(RaySettings(address=ray_address(recipe, address),
                                   num_cpus=recipe.ray.num_cpus,
                                   object_store_mb=recipe.ray.object_store_mb))


@flow(name="segcap-curate", log_prints=True)
def curate(recipe_path: str, out: str | None = None, ray_address: str | None = None,
           progress: bool = True, export: str | None = None) -> list[dict]:
    """Run a recipe: ingest every input, run every stage, export if asked. Resumes.

    `out` / `export` replace the recipe's `output:` / `export:` (`segcap run --out`)."""
    overrides = {"output": str(Path(out).resolve())} if out else {}
    if export:
        overrides["export"] = str(Path(export).resolve())
    recipe = load_recipe(recipe_path, overrides=overrides or None)
    return curate_recipe(recipe, ray_address, progress)


def curate_recipe(recipe: RecipeBase, ray_address: str | None = None, progress: bool = True) -> list[dict]:
    """The body of `curate` for an already validated recipe (also used by `segcap demo`)."""
    dataset = DatasetDir(recipe.output)
    on_hard_exit(stop_prefect_servers)
    executor = make_executor(recipe, ray_address)
    try:
        with writer_lock(dataset.path):
            results = run_steps(plan_run(recipe, dataset), dataset, recipe.prefect, executor,
                                recipe.unit_rows, progress)
    finally:
        close = getattr(executor, "close", None)
        if close is not None:
            close()
    if recipe.export is not None:
        results.append(export_task(str(recipe.output), str(recipe.export)))
    return results


def stop_prefect_servers() -> None:
    """Kill the Prefect temporary server(s) this process started (the watchdog's exit skips
    Prefect's own atexit clean-up, and a server would outlive the run)."""
    from prefect.server.api.server import SubprocessASGIServer

    for server in list(SubprocessASGIServer._instances.values()):
        process = getattr(server, "server_process", None)
        if process is not None and process.poll() is None:
            process.kill()


@task(name="export", persist_result=True, result_serializer="json", cache_policy=None)
def export_task(source: str, out: str) -> dict:
    from pipelines.exports.dataset import export_dataset

    export_dataset(source, out)
    return {"step": "export", "stage": "export", "out": out}
