"""`segcap validate`: does a dataset directory honour the contract?

Checks, streaming each config in batches: completeness (README.md, schema.json), the schema of
every shard (contract columns present with the contract types), unique ids, value domains,
mask sizes equal to their image's size, `[SEG]` count == masks == labels, phrase spans reading
their phrases, granularity in [0.1, 1], and every reference (image_id, segment_id, parent_id,
instance_id) resolving, and each segment's level being its depth. Memory: the id sets, image
sizes and segment levels, never the pixels or masks at once.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.store.dataset_dir import (
    COMPLETION_FILES,
    RUN_STATE,
    SHARD_ADVICE,
    DatasetDir,
    DatasetFileError,
)
from pipelines.store.step_state import StepState
from schemas.contract import (
    CONFIG_NAMES,
    DOMAINS,
    ID_COLUMNS,
    SCHEMA_VERSION,
    VERDICTS,
    arrow_schema,
)
from schemas.grounding import alignment_problems
from schemas.rows import answer_text

BATCH_ROWS = 1024


@dataclass
class Violation:
    check: str
    config: str
    message: str


@dataclass
class ValidationReport:
    path: Path
    violations: list[Violation] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    verdicts: Counter = field(default_factory=Counter)  # verification verdicts, all configs

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, check: str, config: str, message: str) -> None:
        self.violations.append(Violation(check, config, message))

    def by_check(self) -> dict[tuple[str, str], list[str]]:
        grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
        for v in self.violations:
            grouped[(v.check, v.config)].append(v.message)
        return grouped

    def checks_failed(self) -> set[str]:
        return {v.check for v in self.violations}


def validate_dataset(path: str | Path) -> ValidationReport:
    dataset = DatasetDir(path)
    report = ValidationReport(Path(path))
    if not dataset.path.is_dir():
        report.add("completeness", "-", f"{path} is not a directory")
        return report
    _check_completeness(dataset, report)
    _check_commits(dataset, report)
    present = [c for c in dataset.configs() if _check_schema(dataset, c, report)]
    report.counts = {c: dataset.count(c) for c in present}
    try:
        _check_rows(dataset, present, report)
    except DatasetFileError as exc:  # a shard whose footer reads but whose data does not
        report.add("schema", "-", str(exc))
    return report


def _check_rows(dataset: DatasetDir, present: list[str], report: ValidationReport) -> None:
    ids: dict[str, set] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for config in ("images", "segments"):  # referenced by the others: read their ids first
        if config in present:
            ids[config] = _unique_ids(dataset, config, report)
    if "images" in present:
        for batch in dataset.iter_batches("images", BATCH_ROWS, ["image_id", "height", "width"]):
            for image_id, h, w in zip(*(batch.column(n).to_pylist() for n in
                                        ("image_id", "height", "width")), strict=True):
                sizes[image_id] = (h, w)
    if "segments" in present:
        _check_levels(dataset, report)
    checker = _RowChecker(report, ids, sizes)
    for config in present:
        if config not in ids and config in ID_COLUMNS:
            ids[config] = _unique_ids(dataset, config, report)
        for batch in dataset.iter_batches(config, BATCH_ROWS):
            for row in batch.to_pylist():
                checker.check(config, row)


def _check_levels(dataset: DatasetDir, report: ValidationReport) -> None:
    """A segment's `level` is its depth: 0 for a root, its parent's + 1 (in the same image)
    otherwise. A level-1 row without a parent would look like a part and be trained as one."""
    columns = ["segment_id", "parent_id", "level", "image_id"]
    table = dataset.read("segments", columns=columns)
    rows = dict(zip(table.column("segment_id").to_pylist(),
                    zip(*(table.column(c).to_pylist() for c in columns[1:]), strict=True), strict=True))
    for segment_id, (parent_id, level, image_id) in rows.items():
        if parent_id is None:
            if level != 0:
                report.add("levels", "segments", f"segment_id {segment_id}: a root at level {level}")
            continue
        parent = rows.get(parent_id)
        if parent is None:
            continue  # the references check names a parent that does not resolve
        if parent[2] != image_id:
            report.add("levels", "segments", f"segment_id {segment_id}: parent {parent_id} is in "
                       f"another image")
        elif level != parent[1] + 1:
            report.add("levels", "segments", f"segment_id {segment_id}: level {level} under a "
                       f"level-{parent[1]} parent")


def _check_commits(dataset: DatasetDir, report: ValidationReport) -> None:
    """Every shard a unit marker lists is on disk with the committed rows, size and sha256."""
    try:
        dataset.stats()
    except DatasetFileError as exc:
        report.add("completeness", "-", str(exc))
    run_state = dataset.path / RUN_STATE
    if not run_state.is_dir():
        return
    for step_dir in sorted(p for p in run_state.iterdir() if p.is_dir()):
        state = StepState(dataset, step_dir.name)
        done = step_dir / "done.json"
        if done.exists() and state.finished() is None:
            report.add("commits", step_dir.name, f"{done} is not valid JSON: rerun the run or "
                       "stage (the step is checked and its record rewritten)")
        for unit_id in state.unit_ids():
            for problem in state.unit_problems(unit_id):
                report.add("commits", step_dir.name, problem)
        for path in state.uncommitted_files():
            report.add("commits", step_dir.name, f"{path}: in no commit record (left by an "
                       "interrupted run: rerun it, the step deletes it; or delete it)")


def _check_completeness(dataset: DatasetDir, report: ValidationReport) -> None:
    for name in COMPLETION_FILES:
        if not (dataset.path / name).is_file():
            report.add("completeness", "-", f"{name} is missing (the directory is not finalised)")
    schema_file = dataset.path / "schema.json"
    if schema_file.is_file():
        try:
            schema = json.loads(schema_file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            report.add("completeness", "-", f"{schema_file} is not JSON ({exc}): rerun the last "
                       "step or `segcap export` to rewrite it")
            return
        if not isinstance(schema, dict):
            report.add("completeness", "-", f"{schema_file} is not a JSON object: rerun the last "
                       "step or `segcap export` to rewrite it")
            return
        if schema.get("schema_version") != SCHEMA_VERSION:
            report.add("completeness", "-", f"schema_version {schema.get('schema_version')!r}, "
                       f"expected {SCHEMA_VERSION!r}")
        missing = [c for c in dataset.configs() if c not in schema.get("configs", {})]
        if missing:
            report.add("completeness", "-", f"schema.json lacks configs {missing}")
    readme = dataset.path / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8", errors="replace")
        for config in dataset.configs():
            if f"config_name: {config}" not in text:
                report.add("completeness", config, "README.md `configs:` does not list it")
    strays = [p.name for p in dataset.path.iterdir() if p.is_dir() and not p.name.startswith(".")
              and p.name not in CONFIG_NAMES]
    if strays:
        report.add("completeness", "-", f"unknown config folders {strays}")


def _check_schema(dataset: DatasetDir, config: str, report: ValidationReport) -> bool:
    expected = arrow_schema(config)
    good = True
    for shard in dataset.shard_paths(config):
        try:
            actual = pq.read_schema(shard)
        except Exception as exc:  # pyarrow raises several types for a corrupt footer
            report.add("schema", config, f"{shard} is not readable Parquet ({exc}); {SHARD_ADVICE}")
            good = False
            continue
        for field_ in expected:
            if field_.name not in actual.names:
                report.add("schema", config, f"{shard.name}: missing column `{field_.name}`")
                good = False
            elif not actual.field(field_.name).type.equals(field_.type):
                report.add("schema", config, f"{shard.name}: `{field_.name}` is "
                           f"{actual.field(field_.name).type}, contract says {field_.type}")
                good = False
    return good


def _unique_ids(dataset: DatasetDir, config: str, report: ValidationReport) -> set:
    column = ID_COLUMNS[config]
    seen, duplicates = set(), Counter()
    for batch in dataset.iter_batches(config, BATCH_ROWS * 16, [column]):
        for value in batch.column(column).to_pylist():
            if value is None:
                report.add("ids", config, f"a row has no {column}")
            elif value in seen:
                duplicates[value] += 1
            else:
                seen.add(value)
    for value, n in duplicates.items():
        report.add("ids", config, f"{column} {value} appears {n + 1} times")
    return seen


class _RowChecker:
    def __init__(self, report: ValidationReport, ids: dict[str, set], sizes: dict):
        self.report, self.ids, self.sizes = report, ids, sizes

    def check(self, config: str, row: dict) -> None:
        ref = f"{ID_COLUMNS.get(config, 'row')} {row.get(ID_COLUMNS.get(config, ''), '')}".strip()
        for (domain_config, column), allowed in DOMAINS.items():
            if domain_config == config and row.get(column) not in allowed:
                self.report.add("values", config, f"{ref}: {column}={row.get(column)!r} not in {allowed}")
        handler = getattr(self, f"_{config}", None)
        if handler is not None:
            handler(row, ref)

    def _ref(self, config: str, target: str, value, ref: str, column: str, nullable=False) -> bool:
        if value is None and nullable:
            return True
        if target not in self.ids or value not in self.ids[target]:
            self.report.add("references", config, f"{ref}: {column} {value} does not resolve in {target}")
            return False
        return True

    def _mask_size(self, config: str, mask: dict, image_id: str, ref: str) -> None:
        size = self.sizes.get(image_id)
        if size is not None and tuple(mask["size"]) != size:
            self.report.add("mask_size", config, f"{ref}: mask {tuple(mask['size'])} vs image {size}")

    def _segments(self, row: dict, ref: str) -> None:
        if self._ref("segments", "images", row["image_id"], ref, "image_id"):
            self._mask_size("segments", row["mask"], row["image_id"], ref)
        self._ref("segments", "segments", row["parent_id"], ref, "parent_id", nullable=True)

    def _granularity_pairs(self, row: dict, ref: str) -> None:
        if self._ref("granularity_pairs", "images", row["image_id"], ref, "image_id"):
            self._mask_size("granularity_pairs", row["mask"], row["image_id"], ref)
        self._ref("granularity_pairs", "segments", row["segment_id"], ref, "segment_id")
        self._ref("granularity_pairs", "segments", row["instance_id"], ref, "instance_id")
        if row["granularity"] is None or not 0.1 - 1e-6 <= row["granularity"] <= 1.0 + 1e-6:
            self.report.add("granularity", "granularity_pairs",
                            f"{ref}: granularity {row['granularity']} outside [0.1, 1]")

    def _descriptions(self, row: dict, ref: str) -> None:
        self._ref("descriptions", "images", row["image_id"], ref, "image_id", nullable=True)
        self._verification("descriptions", row.get("verification"), 1, ref)

    def _verification(self, config: str, entries: list | None, expected: int, ref: str) -> None:
        """Verdicts from `segcap verify`: one per phrase (segcap) or description, in the domain."""
        if entries is None:
            return
        if len(entries) != expected:
            self.report.add("verification", config,
                            f"{ref}: {len(entries)} verdicts for {expected} checked items")
        for entry in entries:
            if entry["verdict"] not in VERDICTS:
                self.report.add("verification", config, f"{ref}: verdict {entry['verdict']!r}")
            self.report.verdicts[entry["verdict"]] += 1

    def _instructions(self, row: dict, ref: str) -> None:
        self._ref("instructions", "images", row["image_id"], ref, "image_id", nullable=True)

    def _segcap(self, row: dict, ref: str) -> None:
        if self._ref("segcap", "images", row["image_id"], ref, "image_id"):
            for mask in row["masks"]:
                self._mask_size("segcap", mask, row["image_id"], ref)
        for segment_id in row["segment_ids"]:
            self._ref("segcap", "segments", segment_id, ref, "segment_ids")
        answer = answer_text(row["conversations"])
        for problem in alignment_problems(answer, len(row["masks"]), len(row["mask_labels"]),
                                          row["phrase_spans"]):
            self.report.add("grounding", "segcap", f"{ref}: {problem}")
        self._verification("segcap", row.get("verification"), len(row["masks"]), ref)

