"""The parts every step's execution shares: its stats, its output writers, and `run_stage`,
the single-stage entry point (a thin door into the one engine in `pipelines.engine.execute`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from pipelines.engine.stage import Stage, StageOutput
from pipelines.store.dataset_dir import DatasetDir, ShardWriter


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
    """Run `stage` as a single-stage command: the one engine (`pipelines.engine.execute`), as step
    `stage.step_id`, with its units, commits, lock and resume. `total` is kept for callers; the
    engine counts the units' rows itself."""
    from pipelines.engine.execute import (
        run_single_stage,  # execute imports this module's StageStats
    )

    return run_single_stage(stage, dataset, inputs, progress=progress, finalize=finalize)
