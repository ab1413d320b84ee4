"""Runs a stage in this process over a dataset directory (Ray execution builds on the same parts)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from pipelines.dataset_dir import DatasetDir, ShardWriter
from pipelines.progress import progress_bar
from pipelines.stage import Stage, StageOutput


@dataclass
class StageStats:
    stage: str
    rows_in: int = 0
    rows_out: int = 0
    rejected: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    outputs: dict[str, int] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    counters: Counter = field(default_factory=Counter)

    def as_json(self) -> dict:
        counters = {"counters": dict(sorted(self.counters.items()))} if self.counters else {}
        return {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rejected": dict(self.rejected),
            "seconds": round(self.seconds, 3),
            "outputs": self.outputs,
            **counters,
            **self.extra,
        }

    def summary_line(self) -> str:
        return (f"{self.stage}: {self.rows_in} in, {self.rows_out} out, "
                f"{sum(self.rejected.values())} rejected ({self.seconds:.1f}s)")


class OutputWriters:
    """One bounded shard writer per output config (plus rejects), all under one prefix."""

    def __init__(self, dataset: DatasetDir, prefix: str, staged: dict | None = None):
        self.dataset, self.prefix, self.staged = dataset, prefix, staged or {}
        self.writers: dict[str, ShardWriter] = {}

    def writer(self, config: str) -> ShardWriter:
        if config not in self.writers:
            if config in self.staged:
                self.writers[config] = ShardWriter(self.staged[config], config, self.prefix)
            else:
                self.writers[config] = self.dataset.shard_writer(config, self.prefix)
        return self.writers[config]

    def write(self, output: StageOutput) -> None:
        for config, table in output.tables.items():
            self.writer(config).write(table)
        if output.rejects:
            from schemas.contract import table_from_rows

            self.writer("rejects").write(table_from_rows("rejects", output.rejects))

    def close(self) -> dict[str, int]:
        for w in self.writers.values():
            w.close()
        return {config: w.rows_written for config, w in self.writers.items()}

    def abort(self) -> None:
        for w in self.writers.values():
            w.abort()


def run_stage(stage: Stage, dataset: DatasetDir, inputs: Iterable[pa.Table] | None = None,
              total: int | None = None, progress: bool = True, finalize: bool = True) -> StageStats:
    """Run `stage` over `inputs` (default: its input config) and commit its outputs.

    Earlier outputs of the same stage are replaced, so a re-run never duplicates rows.
    """
    started = time.monotonic()
    dataset.mark_incomplete()
    stage.dataset_path = str(dataset.path)
    stage.setup()
    if inputs is None:
        if stage.input_config is None:
            raise ValueError(f"stage {stage.name} needs explicit inputs")
        total = dataset.count(stage.input_config)
        inputs = dataset.iter_batches(stage.input_config, stage.batch_size)
    stats = StageStats(stage.name)
    for config in (*stage.outputs, "rejects"):
        if not (stage.replaces_input and config == stage.input_config):
            dataset.remove_shards(config, stage.name)
    # The shards just removed may have been a recipe step's; its "done" marker must not outlive them.
    dataset.forget_step(stage.name)
    if stage.replaces_input:
        # The input is read lazily from the old shards while the new ones go to staging.
        with dataset.replacing(stage.input_config) as staging:
            writers = OutputWriters(dataset, stage.name, staged={stage.input_config: staging})
            _write_all(stage, inputs, total, progress, writers, stats)
    else:
        _write_all(stage, inputs, total, progress, OutputWriters(dataset, stage.name), stats)
    stats.seconds = time.monotonic() - started
    dataset.record_stage(stage.name, stats.as_json())
    if finalize:
        dataset.finalize()
    return stats


def _write_all(stage, inputs, total, progress, writers: OutputWriters, stats: StageStats) -> None:
    try:
        _drive(stage, inputs, total, progress, writers, stats)
    except BaseException:
        writers.abort()
        raise
    stats.outputs = writers.close()


def _drive(stage: Stage, inputs, total, progress, writers: OutputWriters, stats: StageStats) -> None:
    primary = stage.primary_output or (stage.outputs[0] if stage.outputs else None)
    with progress_bar(stage.name, total, enabled=progress) as bar:
        for batch in inputs:
            output = stage.process(batch)
            writers.write(output)
            stats.rows_in += batch.num_rows
            stats.rows_out += output.rows_out(primary) if primary else 0
            stats.rejected.update(r["reason"] for r in output.rejects)
            stats.counters.update(output.counters)
            bar.advance(batch.num_rows)
