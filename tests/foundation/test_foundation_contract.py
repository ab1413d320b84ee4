"""The contract: Arrow schema, HF Features and JSON Schema are derived consistently from one definition."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from datasets import Features

from schemas.contract import (
    CAPABILITY_FIELDS,
    CONFIG_NAMES,
    SCHEMA_VERSION,
    arrow_schema,
    column_names,
    conform,
    hf_features,
    json_schema,
    table_from_rows,
)


@pytest.mark.parametrize("config", CONFIG_NAMES)
def test_three_views_agree(config):
    schema = arrow_schema(config)
    features = hf_features(config)
    spec = json_schema(config)
    assert schema.names == list(features) == list(spec["properties"]) == column_names(config)
    assert spec["required"] == column_names(config)
    assert Features.from_arrow_schema(schema) == features  # metadata carries the HF view
    assert features.arrow_schema.names == schema.names
    for name in schema.names:
        assert features.arrow_schema.field(name).type == schema.field(name).type, name


def test_extra_columns_kept_contract_columns_typed():
    row = {"stage": "x", "input_ref": "r", "reason": "why", "raw": "", "note": 3}
    table = table_from_rows("rejects", [row])
    assert table.column_names == ["stage", "input_ref", "reason", "raw", "note"]
    with pytest.raises(ValueError, match="missing contract columns"):
        conform("rejects", pa.table({"stage": ["x"]}))


def test_capabilities_and_version():
    assert len(CAPABILITY_FIELDS) == 14 and "optical_character_recognition" in CAPABILITY_FIELDS
    assert SCHEMA_VERSION.count(".") == 2
    mask = json.dumps(json_schema("segments")["properties"]["mask"])
    assert "counts" in mask and "size" in mask
