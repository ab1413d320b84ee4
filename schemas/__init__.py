"""The SegCap data contract: record types, Arrow schema, HF Features, JSON Schema, mask codec.

This package imports nothing from annotators, pipelines or flows.
"""

from schemas.contract import (
    CAPABILITIES,
    CAPABILITY_FIELDS,
    CONFIG_NAMES,
    CONFIGS,
    SCHEMA_VERSION,
    STYLES,
    arrow_schema,
    conform,
    hf_features,
    json_schema,
    table_from_rows,
)

__all__ = [
    "CAPABILITIES",
    "CAPABILITY_FIELDS",
    "CONFIG_NAMES",
    "CONFIGS",
    "SCHEMA_VERSION",
    "STYLES",
    "arrow_schema",
    "conform",
    "hf_features",
    "json_schema",
    "table_from_rows",
]
