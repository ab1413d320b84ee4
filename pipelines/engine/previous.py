"""A command asked again keeps its previous output until the new one is complete.

`segcap describe DIR` run a second time recomputes the step; if the new run fails (a dead model
server, a bad option found late), the previous output must still be there, and stats.json must
still describe it. So the previous version is set aside, not deleted: the step's shards, its
resume state, its stats entry, and for a replacing step its live version of the config (the
version before it goes back in place as the new run's input). On success the set-aside copy is
deleted; on failure it is put back exactly. A stopped run (SIGINT) keeps both: the next run of
the same command resumes the new version, and deletes the old one when that completes.
Every move is a rename inside the dataset directory.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from pipelines.store.dataset_dir import RUN_STATE, DatasetDir, atomic_write_text
from pipelines.store.step_state import StepState


def previous_dir(dataset: DatasetDir, step_id: str) -> Path:
    return dataset.path / RUN_STATE / ".previous" / step_id


def set_aside(state: StepState, outputs: tuple[str, ...], replaced: str | None) -> Path:
    dataset = state.dataset
    backup = previous_dir(dataset, state.step_id)
    shutil.rmtree(backup, ignore_errors=True)
    (backup / "shards").mkdir(parents=True)
    for config in (*outputs, "rejects"):
        if config == replaced:
            continue
        for shard in dataset.config_dir(config).glob(f"{state.step_id}-*.parquet"):
            (backup / "shards" / config).mkdir(exist_ok=True)
            os.replace(shard, backup / "shards" / config / shard.name)
    if replaced and state.before_dir(replaced).is_dir():
        (backup / "live").mkdir()
        if dataset.config_dir(replaced).exists():
            os.replace(dataset.config_dir(replaced), backup / "live" / replaced)
        os.replace(state.before_dir(replaced), dataset.config_dir(replaced))
    entry = _stats_entry(dataset, state.step_id)
    if entry is not None:
        atomic_write_text(backup / "stats-entry.json", json.dumps(entry))
    os.replace(state.root, backup / "state")
    return backup


def restore(state: StepState, outputs: tuple[str, ...], replaced: str | None) -> None:
    """The new run failed: drop what it wrote, put the previous version back as it was."""
    dataset = state.dataset
    backup = previous_dir(dataset, state.step_id)
    if not (backup / "state").is_dir():
        return
    for config in (*outputs, "rejects"):
        if config != replaced:
            dataset.remove_shards(config, state.step_id)
    shutil.rmtree(state.root, ignore_errors=True)
    os.replace(backup / "state", state.root)
    if replaced and (backup / "live" / replaced).exists():
        state.before_dir(replaced).parent.mkdir(parents=True, exist_ok=True)
        os.replace(dataset.config_dir(replaced), state.before_dir(replaced))
        os.replace(backup / "live" / replaced, dataset.config_dir(replaced))
    for folder in (backup / "shards").iterdir():
        for shard in folder.iterdir():
            os.replace(shard, dataset.config_dir(folder.name) / shard.name)
    entry = backup / "stats-entry.json"
    if entry.is_file():
        dataset.record_stage(state.step_id, json.loads(entry.read_text(encoding="utf-8")))
    shutil.rmtree(backup, ignore_errors=True)


def discard(dataset: DatasetDir, step_id: str) -> None:
    shutil.rmtree(previous_dir(dataset, step_id), ignore_errors=True)


def _stats_entry(dataset: DatasetDir, step_id: str) -> dict | None:
    try:
        return dataset.stats().get("stages", {}).get(step_id)
    except ValueError:
        return None
