"""Verified commits: damaged shards are named by validate and redone by a resume, exactly the
units that fail; corrupt bookkeeping files neither block a resume nor end in a traceback."""

from __future__ import annotations

import json

from integrity_helpers import STEPS, rows, run_driver, uncommitted_files

from pipelines.store.dataset_dir import DatasetDir
from pipelines.store.step_state import StepState
from pipelines.store.validate import validate_dataset


def committed(path, step: str, config: str) -> list:
    """(unit id, shard path) of every shard `step` committed into `config`."""
    state = StepState(DatasetDir(path), step)
    return [(unit, DatasetDir(path).config_dir(config) / shard["name"])
            for unit in state.unit_ids()
            for shard in state.unit_record(unit)["shards"] if shard["config"] == config]


def test_integrity_damaged_shards_are_named_and_exactly_their_units_redone(tmp_path, clean_rows):
    path = tmp_path / "ds"
    assert run_driver(path).returncode == 0
    (_, truncated), (_, altered) = committed(path, "describe_test", "descriptions")[1:3]
    _, deleted = committed(path, "make", "rejects")[4]
    truncated.write_bytes(truncated.read_bytes()[:200])
    data = bytearray(altered.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte different
    altered.write_bytes(bytes(data))
    deleted.unlink()
    stray = altered.parent / "describe_test-s00099-r00000000-00000.parquet"
    stray.write_bytes(altered.read_bytes())  # a shard no commit record lists

    messages = [v.message for v in validate_dataset(path).violations if v.check == "commits"]
    assert any(str(truncated) in m and "truncated" in m for m in messages), messages
    assert any(str(altered) in m and "altered" in m for m in messages), messages
    assert any(str(deleted) in m and "missing" in m for m in messages), messages
    assert any(str(stray) in m and "in no commit record" in m for m in messages), messages
    assert len(messages) == 4

    resumed = run_driver(path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "redoing 2 committed unit(s)" in resumed.stderr and str(altered) in resumed.stderr
    stats = DatasetDir(path).stats()["stages"]
    assert stats["describe_test"]["units_repaired"] == 2
    assert stats["make"]["units_repaired"] == 1
    assert stats["describe_test"]["units_resumed"] == stats["describe_test"]["units"] - 2
    assert rows(path) == clean_rows
    assert "commits" not in validate_dataset(path).checks_failed()
    assert uncommitted_files(path) == []


def test_integrity_corrupt_bookkeeping_files_do_not_block_a_resume(tmp_path, clean_rows):
    path = tmp_path / "ds"
    assert run_driver(path).returncode == 0
    state = StepState(DatasetDir(path), "describe_test")
    marker = state.unit_marker(state.unit_ids()[3])
    marker.write_text('{"rows_in": 1', encoding="utf-8")
    done = StepState(DatasetDir(path), "select_test").root / "done.json"
    done.write_bytes(b"\xff\xfe not json")
    (StepState(DatasetDir(path), "make").root / "key").write_bytes(b"\xff\x00")
    (path / "stats.json").write_text("[1, 2", encoding="utf-8")

    messages = [v.message for v in validate_dataset(path).violations]
    assert any(str(marker) in m for m in messages), messages
    assert any(str(done) in m for m in messages), messages
    assert any(str(path / "stats.json") in m for m in messages), messages

    resumed = run_driver(path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Traceback" not in resumed.stderr
    assert rows(path) == clean_rows
    stats = json.loads((path / "stats.json").read_text(encoding="utf-8"))["stages"]
    assert set(STEPS) <= set(stats)
    assert validate_dataset(path).checks_failed() <= {"references"}
