"""A run of the three test stages, as its own process so a test can SIGKILL it mid-stage.

usage: python resume_driver.py DATASET_DIR (local|ray) [describe-word]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import orchestration_stages as stages  # noqa: E402

from pipelines.engine.execute import LocalExecutor, execute_step, invalidate_changed  # noqa: E402
from pipelines.engine.stage import Resources  # noqa: E402
from pipelines.store.dataset_dir import DatasetDir  # noqa: E402

UNIT_ROWS = 20
ITEMS = 240


def steps(word: str):
    two = Resources(concurrency=2)
    make = stages.MakeInstructions(batch_size=8, resources=two)
    describe = stages.Describe(batch_size=8, resources=two, word=word)
    select = stages.SelectEven(batch_size=8, resources=two)
    # Keys chain like the planner's: a changed step changes every later key.
    keys = ["make-v1", f"describe-{word}", f"select-after-{word}"]
    return list(zip(("make", "describe_test", "select_test"), keys, (make, describe, select),
                    strict=True))


def main(path: str, mode: str, word: str = "x") -> None:
    dataset = DatasetDir(path)
    if mode == "ray":
        import ray.cloudpickle

        from pipelines.engine.ray_exec import RayExecutor, RaySettings

        ray.cloudpickle.register_pickle_by_value(stages)
        executor = RayExecutor(RaySettings(num_cpus=2, object_store_mb=128))
    else:
        executor = LocalExecutor()
    plan = steps(word)
    invalidate_changed(dataset, [(sid, key, stage.outputs) for sid, key, stage in plan])
    for step_id, key, stage in plan:
        inputs = stages.item_tables(ITEMS) if step_id == "make" else None
        print(execute_step(stage, dataset, executor=executor, step_id=step_id, key=key,
                           inputs=inputs, unit_rows=UNIT_ROWS, progress=False).summary_line(),
              flush=True)
    dataset.finalize()


if __name__ == "__main__":
    from pipelines.engine.stopping import StopRequested, exit_now, stop_message, stop_on_signals

    try:
        with stop_on_signals():  # as `segcap` does: SIGINT/SIGTERM stop cleanly
            main(*sys.argv[1:])
    except StopRequested as stop:
        print(stop_message(stop.signum), file=sys.stderr, flush=True)
        exit_now(stop.exit_code)
