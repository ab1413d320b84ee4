"""The one stage shape every pipeline step has.

A stage declares itself once, on its class: a name, its options model, the config whose
batches it processes, the configs it reads besides (`side_inputs`, read only through
`self.side`), the configs it writes, whether it calls a model, and its default batch size.
Defining the class registers it (`pipelines.engine.registry`); the recipe schema, the planner
and the CLI are derived from these declarations.

Behaviour: an optional `setup` that loads models once per worker, `process`: one Arrow batch in,
rows per output config plus rejects out, and an optional `teardown` that frees what `setup`
took (closes clients, stops servers). CPU stages run as Ray tasks, model stages
(`calls_model(settings)`) as Ray actor pools, and their recipe steps are retried. A stage knows
nothing of Prefect, and `process` is pure per batch (other configs are read only through the
declared side inputs), which is what makes shard-wise resume work.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel

from pipelines.store.side_inputs import SideInputs
from schemas.contract import table_from_rows
from schemas.rejects import Reason, reject_row


class StepResultError(RuntimeError):
    """The step ran, but its result is not what was asked (e.g. mostly template fallbacks)."""


@dataclass
class Resources:
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    concurrency: int = 1  # actor-pool size for model stages, max parallel tasks for CPU stages


@dataclass
class StageOutput:
    """What one batch produced: rows for each output config, and the rejects."""

    tables: dict[str, pa.Table] = field(default_factory=dict)
    rejects: list[dict] = field(default_factory=list)
    # Events that are neither rows nor rejects (e.g. masks dropped by reason); summed into stats.json.
    counters: Counter = field(default_factory=Counter)

    def add_rows(self, config: str, rows: list[dict]) -> None:
        if rows:
            table = table_from_rows(config, rows)
            previous = self.tables.get(config)
            self.tables[config] = (
                table if previous is None
                else pa.concat_tables([previous, table], promote_options="permissive")
            )

    def reject(self, stage: str, input_ref: str, reason: Reason, raw: Any = "") -> None:
        self.rejects.append(reject_row(stage, input_ref, reason, raw))

    def rows_out(self, config: str) -> int:
        table = self.tables.get(config)
        return 0 if table is None else table.num_rows


class Stage:
    """Subclass, declare the class attributes, override `setup` and `process`.

    `name`: the stage's name (recipe `stage:`, CLI command, default step id); declaring it
    registers the class. A class without its own `name` is a base for other stages.
    `input_config`: the config whose batches `process` receives (None: the runner is handed
    explicit input tables, e.g. a reader's item list for ingest; such a stage is not a recipe
    step).
    `side_inputs`: the other configs (or the input config read whole) the stage looks up,
    only through `self.side`.
    `outputs`: the configs this stage writes. With `replaces_input=True` the stage rewrites its
    input config (e.g. scores added to `instructions`) and the new version is swapped in whole.
    """

    name: ClassVar[str] = "stage"
    input_config: ClassVar[str | None] = None
    side_inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()
    primary_output: ClassVar[str | None] = None
    replaces_input: ClassVar[bool] = False
    default_batch_size: ClassVar[int] = 64
    # The stage's pydantic options model: options are validated (unknown keys refused) and
    # defaults filled in once here, so the fingerprint covers the effective settings.
    options_model: ClassVar[type[BaseModel] | None] = None
    default_batch_size: ClassVar[int] = 64  # rows per batch when none is given (the CLI default)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:  # a subclass that only changes behaviour keeps its parent's
            from pipelines.engine.registry import register

            register(cls)

    @classmethod
    def calls_model(cls, settings: BaseModel | None) -> bool:
        """Whether a stage with these settings loads or calls a model. Such a stage runs as a Ray
        actor pool (the model loads once per worker) and its recipe step is retried with backoff
        (servers and downloads fail transiently). Override where the options choose a model."""
        return False

    def __init__(self, batch_size: int | None = None, resources: Resources | None = None,
                 **options: Any):
        self.batch_size = batch_size or self.default_batch_size
        self.resources = resources or Resources()
        self.settings: BaseModel | None = None
        if self.options_model is not None:
            if "batch_size" in self.options_model.model_fields:  # ingest's options carry it
                options["batch_size"] = self.batch_size
            self.settings = self.options_model(**options)
            options = self.settings.model_dump()
        self.options = options
        self.dataset_path: str | None = None  # set by the engine before `setup`
        self._step_id: str | None = None

    @property
    def side(self) -> SideInputs:
        """The one way to read configs besides the batch: those declared in `side_inputs`, of
        the dataset directory the engine runs this stage on."""
        return SideInputs(self.dataset_path or ".", self.side_inputs, self.step_id)

    @property
    def step_id(self) -> str:
        """The run step this stage executes as (its shards are `<step_id>-<unit>-NNNNN`).

        Set by the engine before `setup`; a single-stage command runs as step
        `default_step_id()`. A stage that reads its own output configs (e.g. ingest skipping
        images other steps wrote) tells its own step's shards apart by this prefix
        (`self.side.read(..., others_only=True)`), never by its `name`.
        """
        return self._step_id or self.default_step_id()

    @step_id.setter
    def step_id(self, value: str) -> None:
        self._step_id = value

    def default_step_id(self) -> str:
        """The step a single-stage command runs as: the stage's name (ingest: one per source)."""
        return self.name

    def setup(self) -> None:
        """Load models or plans once per worker. Called before the first `process`."""

    def teardown(self) -> None:
        """Free what `setup` took. Called once after the step's last unit in this process, also
        when the step fails or is stopped (Ray workers free theirs when the worker exits)."""

    @classmethod
    def input_batches(cls, settings: BaseModel) -> Iterator[pa.Table]:
        """For a stage without an `input_config`: the tables the engine feeds `process` (ingest:
        its reader's work items). Declared here so the planner needs no import of the stage."""
        raise NotImplementedError(f"stage {cls.name!r} reads `{cls.input_config}`, not explicit inputs")

    def process(self, batch: pa.Table) -> StageOutput:
        raise NotImplementedError

    def config_fingerprint(self) -> str:
        """A hash of everything that changes this stage's output, for caching and resume."""
        # `created_at` is provenance, pinned per step by the engine: not part of the config.
        options = {k: v for k, v in self.options.items() if k != "created_at"}
        payload = json.dumps(
            {"stage": self.name, "batch_size": self.batch_size, "options": options},
            sort_keys=True, default=str,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
