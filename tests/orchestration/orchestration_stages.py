"""Small real stages for the orchestration tests: a source, a per-row stage, a replacing stage.

They follow the production stage shape exactly; they only stand in for the heavier stages so
resume and Ray execution can be checked on a few hundred rows in seconds.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa

from pipelines.engine.stage import Stage, StageOutput
from schemas.contract import empty_capability_scores
from schemas.provenance import make_provenance
from schemas.rejects import Reason


def item_tables(n: int, per_table: int = 50) -> list[pa.Table]:
    return [pa.table({"n": list(range(start, min(n, start + per_table)))})
            for start in range(0, n, per_table)]


def _slow_down() -> None:
    # Lets a test kill the run mid-stage at a chosen point without racing the whole run.
    time.sleep(float(os.environ.get("SEGCAP_TEST_BATCH_SLEEP", "0")))


class MakeInstructions(Stage):
    """Explicit items -> `instructions`; every 7th item is rejected."""

    name = "make"
    outputs = ("instructions",)

    def process(self, batch: pa.Table) -> StageOutput:
        _slow_down()
        out = StageOutput()
        rows = []
        for n in batch.column("n").to_pylist():
            if n % 7 == 0:
                out.reject(self.name, f"item:{n}", Reason.BAD_FIELD, str(n))  # every 7th: a test rule
                continue
            rows.append({
                "sample_id": f"s{n:05d}", "image_id": None, "source": "test",
                "conversations": [{"from": "human", "value": f"<image>\nwhat is {n}?"},
                                  {"from": "gpt", "value": f"{n} {self.options.get('word', 'x')}"}],
                "capability_scores": empty_capability_scores(), "styles": [],
                "selected": False, "selection_method": None, "budget": None, "duplicate_of": None,
            })
        out.add_rows("instructions", rows)
        return out


class Describe(Stage):
    """`instructions` -> one `descriptions` row each."""

    name = "describe_test"
    input_config = "instructions"
    outputs = ("descriptions",)

    def process(self, batch: pa.Table) -> StageOutput:
        _slow_down()
        out = StageOutput()
        prov = make_provenance(annotator="test", created_at="2024-01-01T00:00:00+00:00")
        out.add_rows("descriptions", [
            {"description_id": f"d-{sid}", "image_id": None, "video_id": None, "scope": "scene",
             "target_id": sid, "short": conv[-1]["value"], "detailed": conv[-1]["value"] * 2,
             "attributes": [], "provenance": prov}
            for sid, conv in zip(batch.column("sample_id").to_pylist(),
                                 batch.column("conversations").to_pylist(), strict=True)])
        return out


class SelectEven(Stage):
    """Replaces `instructions`, marking even samples selected (a global-style replacing stage)."""

    name = "select_test"
    input_config = "instructions"
    outputs = ("instructions",)
    replaces_input = True

    @classmethod
    def calls_model(cls, settings) -> bool:
        return True  # exercised as an actor pool on Ray

    def setup(self) -> None:
        self.loaded_pid = os.getpid()

    def process(self, batch: pa.Table) -> StageOutput:
        _slow_down()
        rows = batch.to_pylist()
        for row in rows:
            row["selected"] = int(row["sample_id"][1:]) % 2 == 0
            row["selection_method"] = "even"
        out = StageOutput()
        out.add_rows("instructions", rows)
        return out


class FailsOnce(Describe):
    """Fails its first attempt (recorded in a file), then behaves like Describe."""

    name = "fails_once"

    def process(self, batch: pa.Table) -> StageOutput:
        flag = Path(self.options["flag"])
        if not flag.exists():
            flag.write_text("failed once", encoding="utf-8")
            raise RuntimeError("transient failure (test)")
        return super().process(batch)
