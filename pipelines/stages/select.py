"""SelectStage: choose a budgeted subset of `instructions` (mmssr | random | deita | kmeans).

A global step: `setup` reads the score, style and source columns of the whole config and
computes the plan (the selected sample_ids); `process` applies it per batch, writing
`selected`, `selection_method` and `budget` on every row. Rows marked as duplicates
(`duplicate_of` set by the dedup stage) are not in the pool.

mmSSR ties (equal scores) are broken by ascending sample_id, so the selection does not depend on
how the rows are spread over shards. When the candidates run out before the budget, the plan's
`shortfall` says by how much (stats.json counter `shortfall`; `segcap select` exits 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotators.selection.baselines import deita_select, kmeans_select, mean_score, random_select
from annotators.selection.common import resolve_budget, summary_table
from annotators.selection.mmssr import mmssr_select, style_bins
from pipelines.engine.stage import Stage, StageOutput
from pipelines.stages.instruction_rows import capability_matrix, conversation_text
from schemas.options.scoring import SelectOptions

if TYPE_CHECKING:  # pandas loads with the plan in setup; `segcap --help` need not pay for it
    import pandas as pd


class SelectStage(Stage):
    name = "select"
    options_model = SelectOptions
    input_config = "instructions"
    side_inputs = ("instructions",)  # the plan is made over the whole config
    outputs = ("instructions",)
    primary_output = "instructions"
    replaces_input = True
    default_batch_size = 4096
    # The plan `setup` makes (or `plan` is handed); `process` only applies it.
    chosen: frozenset[str] = frozenset()
    summary: pd.DataFrame | None = None
    budget_count = 0
    method_label = ""
    plan_counters: dict[str, int] = {}
    _anchor: str | None = None

    def setup(self) -> None:
        columns = ["sample_id", "capability_scores", "styles", "source", "duplicate_of"]
        if self.settings.method == "deita" and self.settings.deita_score_column:
            column = self.settings.deita_score_column
            if column not in self.side.column_names("instructions"):
                raise ValueError(f"--deita-score-column {column!r} is not a column of instructions")
            columns.append(column)
        table = self.side.read("instructions", columns)
        self.plan(table, lambda: self.side.read("instructions", ["conversations"]))

    def plan(self, table: pa.Table, conversations=None) -> None:
        """Compute the selection from the whole config's columns (conversations read lazily)."""
        options = self.settings
        ids = np.asarray(table.column("sample_id").to_pylist(), dtype=object)
        scores = capability_matrix(table)
        styles = table.column("styles").to_pylist()
        sources = table.column("source") if "source" in table.column_names else None
        eligible = (pc.is_null(table.column("duplicate_of")).to_numpy(zero_copy_only=False)
                    if "duplicate_of" in table.column_names else np.ones(len(ids), bool))
        self.budget_count = resolve_budget(options.budget, int(eligible.sum()))
        self.plan_counters = {"pool": int(eligible.sum()), "budget": self.budget_count}
        self.method_label = options.method
        if options.method == "mmssr":
            tie_rank = np.empty(len(ids), np.int64)
            tie_rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))
            entries = style_bins(table.column("styles"), sources)
            result = mmssr_select(scores, entries, self.budget_count,
                                  eligible=eligible, threshold=options.threshold, tie_rank=tie_rank)
            selected = result.selected
            self.plan_counters.update(rounds=result.rounds, capabilities_dropped=len(result.dropped))
        elif options.method == "random":
            selected = random_select(eligible, self.budget_count, options.seed)
        else:
            vectors = self._embed(conversations)
            if options.method == "deita":
                quality = self._deita_quality(table, scores)
                selected = deita_select(quality, vectors, eligible, self.budget_count,
                                        options.deita_tau, options.seed)
            else:
                selected = kmeans_select(vectors, eligible, self.budget_count,
                                         options.kmeans_clusters, options.seed)
        self.chosen = set(ids[selected].tolist())
        self._anchor = min(ids.tolist()) if len(ids) else None
        self.plan_counters["shortfall"] = self.budget_count - len(self.chosen)
        self.summary = summary_table(scores, styles, eligible, selected, options.threshold)

    def _deita_quality(self, table: pa.Table, scores: np.ndarray) -> np.ndarray:
        """DEITA's score from the user's column (complexity x quality from DEITA's scorers), or the
        stand-in, the mean capability score; `method_label` says which."""
        column = self.settings.deita_score_column
        if column:
            values = pc.cast(table.column(column), pa.float64()).to_numpy(zero_copy_only=False)
            self.method_label = f"deita(score={column})"
            self.plan_counters["deita_score_missing"] = int(np.isnan(values).sum())
            return values
        self.method_label = "deita(score=mean_capability_score, stand-in for complexity x quality)"
        return mean_score(scores)

    def _embed(self, conversations) -> np.ndarray:
        from annotators.embeddings import TextEmbedder

        options = self.settings
        embedder = TextEmbedder(options.embedding_model, options.embedding_cache,
                                options.embedding_batch_size)
        table = conversations() if callable(conversations) else conversations
        texts = [conversation_text(c) for c in table.column("conversations").to_pylist()]
        return embedder.embed(texts)

    def process(self, batch: pa.Table) -> StageOutput:
        output = StageOutput()
        ids = batch.column("sample_id").to_pylist()
        selected = pa.array([sample_id in self.chosen for sample_id in ids], pa.bool_())
        table = batch.set_column(batch.schema.get_field_index("selected"), "selected", selected)
        table = table.set_column(table.schema.get_field_index("selection_method"), "selection_method",
                                 pa.array([self.method_label] * batch.num_rows, pa.string()))
        table = table.set_column(table.schema.get_field_index("budget"), "budget",
                                 pa.array([self.settings.budget] * batch.num_rows, pa.float32()))
        output.tables["instructions"] = table
        output.counters["selected"] += int(pc.sum(selected).as_py() or 0)
        if self._anchor in ids:  # whole-pool figures: once, with the batch holding the smallest
            output.counters.update(self.plan_counters)  # id (workers and units may be many)
        return output
