"""The contract's conventions, each written once in schemas/: id recipes, row builders, answer
text, the panoptic sentence, the hierarchy rule, pixel budgets and the report's derived types."""

from types import SimpleNamespace

import numpy as np
import pytest

from annotators.masks.gt import HierarchyError, from_segment_rows
from pipelines.ingest.base import ItemResult, LoadedImage, ReadContext
from pipelines.ingest.coco import decode_annotations
from pipelines.report.store import _column_definitions
from schemas import budgets, hierarchy
from schemas.contract import (
    CONFIGS,
    DOMAINS,
    ID_COLUMNS,
    column_names,
    sqlite_type,
    table_from_rows,
)
from schemas.grounding import alignment_problems, panoptic_sentence
from schemas.ids import (
    derived_segment_id,
    described_sample_id,
    ingested_sample_id,
    ingested_segment_id,
)
from schemas.masks import encode_array
from schemas.options.ingest import IngestOptions
from schemas.options.masks import MineOptions
from schemas.options.report import ReportOptions
from schemas.rows import answer_text, conversation, segcap_row, segment_row


def test_id_recipes_keep_the_stored_ids():
    # Values computed with the recipes as they were inlined before they moved to schemas.ids:
    # a changed recipe would orphan every id already stored.
    assert ingested_segment_id("coco:x", "abc", ("coco", 1)) == "df029b3ad63013b5"
    assert derived_segment_id("abc", "sam", "XYZ", None, 0) == "c86d2386e009b00c"
    assert derived_segment_id("abc", "sam", "XYZ", 3, 1) == "c9dc9c0114993485"
    assert ingested_sample_id("src", "abc", "panoptic", "panoptic") == "2a3574fe25ea53a6"
    assert described_sample_id("abc", "mgsc", "subtree", "cup", "Q?", ["s1", "s2"]) == "6120feebb1fe027a"


def test_builders_fill_every_contract_column():
    mask = encode_array(np.pad(np.ones((2, 3)), 1))
    segment = segment_row(segment_id="s", image_id="i", mask=mask)
    assert set(segment) == set(column_names("segments"))
    assert segment["bbox"] == [1.0, 1.0, 3.0, 2.0] and segment["area"] == 6
    answer = panoptic_sentence(["cup"])
    sample = segcap_row(sample_id="x", image_id="i", task="panoptic", question="Q?",
                        answer=answer.text, masks=[mask], labels=["cup"], spans=answer.spans,
                        segment_ids=["s"], source="t", provenance={}, source_id=7)
    assert set(column_names("segcap")) - set(sample) == {"verification", "coverage"}
    assert sample["source_id"] == "7" and sample["conversations"] == conversation("Q?", answer.text)
    assert table_from_rows("segments", [segment]).num_rows == 1


def test_panoptic_sentence_and_answer_text():
    text = panoptic_sentence(["person-1", "person-2", "sky"])
    assert text.text == ("Sure, the image contains <p> person-1 </p> [SEG], <p> person-2 </p> [SEG]"
                         " and <p> sky </p> [SEG].")
    assert [text.text[a:b] for a, b in text.spans] == ["person-1", "person-2", "sky"]
    turns = [{"from": "human", "value": "<image>\nQ1"}, {"from": "gpt", "value": "<p> a </p> [SEG]"},
             {"from": "human", "value": "Q2"}, {"from": "gpt", "value": "<p> b </p> [SEG]"}]
    # every answer turn counts: the second turn's [SEG] is the second mask
    assert answer_text(turns) == "<p> a </p> [SEG]\n<p> b </p> [SEG]"
    assert alignment_problems(answer_text(turns), 2, 2, [[4, 5], [21, 22]]) == []
    assert answer_text(None) == ""


def test_one_hierarchy_rule():
    forest = hierarchy.resolve({"a": None, "b": "a", "c": "b", "x": "gone", "y": "x",
                                "p": "q", "q": "p", "r": "p", "s": "s"})
    assert forest.depth == {"a": 0, "b": 1, "c": 2}
    assert forest.broken == {"x": "missing_parent", "y": "missing_parent", "p": "parent_cycle",
                             "q": "parent_cycle", "r": "parent_cycle", "s": "parent_cycle"}


def _coco_ctx():
    ctx = SimpleNamespace(source="t", options=SimpleNamespace(box_masks=False))
    ctx.segment_row = ReadContext.segment_row.__get__(ctx)
    return ctx


def test_coco_ingest_rejects_cycles_and_what_hangs_under_them():
    square = [[0, 0, 4, 0, 4, 4, 0, 4]]
    annotations = [{"id": 1, "category_id": 1, "segmentation": square, "parent_id": 2},
                   {"id": 2, "category_id": 1, "segmentation": square, "parent_id": 1},
                   {"id": 3, "category_id": 1, "segmentation": square, "parent_id": 1},
                   {"id": 4, "category_id": 1, "segmentation": square},
                   {"id": 5, "category_id": 1, "segmentation": square, "parent_id": 4},
                   {"id": 6, "category_id": 1, "segmentation": square, "parent_id": 6},
                   {"id": 7, "category_id": 1, "segmentation": square, "parent_id": 99}]
    result = ItemResult()
    kept = decode_annotations(annotations, {"1": {"name": "thing", "parent": None}},
                              LoadedImage("img", 8, 8), _coco_ctx(), result)
    assert sorted(kept) == ["4", "5"]
    assert [(r["level"], r["parent_id"]) for r in result.rows["segments"]] == [
        (0, None), (1, kept["4"]["segment_id"])]
    assert sorted((ref, reason) for ref, reason, _ in result.rejects) == [
        ("annotation 1", "parent_cycle"), ("annotation 2", "parent_cycle"),
        ("annotation 3", "parent_cycle"), ("annotation 6", "parent_cycle"),
        ("annotation 7", "unknown_parent")]


def test_mined_gt_refuses_the_same_broken_hierarchies():
    mask = encode_array(np.ones((4, 4)))
    rows = [{"segment_id": "a", "parent_id": "b", "mask": mask},
            {"segment_id": "b", "parent_id": "a", "mask": mask}]
    with pytest.raises(HierarchyError) as cycle:
        from_segment_rows(rows, 4, 4)
    assert cycle.value.reason == "parent_cycle"
    with pytest.raises(HierarchyError) as missing:
        from_segment_rows([{"segment_id": "a", "parent_id": "z", "mask": mask}], 4, 4)
    assert missing.value.reason == "missing_parent"


def test_pixel_budgets_are_the_defaults():
    assert IngestOptions(format="images", source=".").max_pixels == budgets.DECODE_MAX_PIXELS
    mine = MineOptions()
    assert (mine.max_pixels, mine.decode_max_pixels) == (budgets.MINING_MAX_PIXELS,
                                                         budgets.DECODE_MAX_PIXELS)
    assert ReportOptions().max_image_pixels == budgets.DECODE_MAX_PIXELS


def test_contract_facts_cover_the_configs():
    assert set(ID_COLUMNS) <= set(CONFIGS)
    for config, column in ID_COLUMNS.items():
        assert column in column_names(config)
    for config, column in DOMAINS:
        assert column in column_names(config)
    assert sqlite_type("segments", "level") == "INTEGER" and sqlite_type("segments", "mask") == "TEXT"
    assert _column_definitions("images").startswith("image_id TEXT PRIMARY KEY, ord INTEGER")
