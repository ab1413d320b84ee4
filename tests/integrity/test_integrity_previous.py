"""A command asked again replaces its previous output only when the new one is complete."""

from __future__ import annotations

import orchestration_stages as stages
import pyarrow as pa
import pytest

from pipelines.engine.runner import run_stage
from pipelines.store.dataset_dir import DatasetDir
from pipelines.store.step_state import StepState


class DescribeThenFail(stages.Describe):
    """Same step as Describe (same name), but dies half-way (a server that goes away)."""

    def process(self, batch: pa.Table):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls > 2:
            raise ConnectionError("model server went away (test)")
        return super().process(batch)


class SelectThenFail(stages.SelectEven):
    def process(self, batch: pa.Table):
        raise ConnectionError("model server went away (test)")


def snapshot(dataset: DatasetDir) -> tuple:
    return (dataset.read("instructions").to_pylist(), dataset.read("descriptions").to_pylist(),
            dataset.stats()["stages"])


@pytest.fixture
def described(tmp_path) -> DatasetDir:
    dataset = DatasetDir(tmp_path / "ds")
    run_stage(stages.MakeInstructions(batch_size=8), dataset, inputs=stages.item_tables(120),
              progress=False)
    run_stage(stages.Describe(batch_size=8), dataset, progress=False)
    run_stage(stages.SelectEven(batch_size=8), dataset, progress=False)
    return dataset


def test_integrity_failed_rerun_keeps_the_previous_output_and_its_stats(described):
    before = snapshot(described)
    with pytest.raises(ConnectionError):
        run_stage(DescribeThenFail(batch_size=8), described, progress=False)
    assert snapshot(described) == before
    assert StepState(described, "describe_test").finished() is not None

    with pytest.raises(ConnectionError):
        run_stage(SelectThenFail(batch_size=8), described, progress=False)
    assert snapshot(described) == before  # the replacing step's version is live again
    selected = [r["selected"] for r in described.read("instructions").to_pylist()]
    assert any(selected) and not all(selected)

    again = run_stage(stages.Describe(batch_size=8), described, progress=False)
    assert not again.extra.get("skipped")
    assert snapshot(described)[1] == before[1]
    assert not (described.path / ".segcap-run" / ".previous" / "describe_test").exists()


def test_integrity_rerun_of_a_replacing_step_after_a_later_one_rewrites_the_current_version(
        described):
    """score -> select -> score again (as commands): the second score rewrites the version
    select produced, and select's version is not lost or mixed in."""
    class MarkScored(stages.SelectEven):
        name = "mark_scored"

        def process(self, batch: pa.Table):  # keeps `selected`, marks the method
            from pipelines.engine.stage import StageOutput

            rows = batch.to_pylist()
            for row in rows:
                row["selection_method"] = f"{row['selection_method']}+scored"
            out = StageOutput()
            out.add_rows("instructions", rows)
            return out

    class SelectOdd(stages.SelectEven):  # the same step (select_test), other options
        def process(self, batch: pa.Table):
            out = super().process(batch)
            table = out.tables["instructions"]
            odd = [not s for s in table.column("selected").to_pylist()]
            out.tables["instructions"] = table.set_column(
                table.column_names.index("selected"), "selected", pa.array(odd))
            return out

    run_stage(MarkScored(batch_size=8), described, progress=False)
    run_stage(SelectOdd(batch_size=8), described, progress=False)  # select_test again
    run_stage(MarkScored(batch_size=8), described, progress=False)
    instructions = described.read("instructions").to_pylist()
    assert described.count("instructions") == len(instructions) == 120 - len(range(0, 120, 7))
    assert {r["selection_method"] for r in instructions} == {"even+scored"}
    # The second MarkScored read SelectOdd's version (odd selected), not an older one.
    assert all(r["selected"] == (int(r["sample_id"][1:]) % 2 == 1) for r in instructions)
