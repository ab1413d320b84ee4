"""The SegCap dataset contract: every config of a dataset directory, defined once.

`arrow_schema`, `hf_features`, `json_schema` (and `sqlite_type`) derive the views from `CONFIGS`;
`ID_COLUMNS` and `DOMAINS` are the facts `validate` checks rows against.
Columns may be added; the ones listed in ARCHITECTURE.md are never renamed or retyped.
"""

from __future__ import annotations

import json
from functools import cache

import pyarrow as pa

from schemas.types import (
    BOOL,
    FLOAT32,
    INT32,
    INT64,
    STRING,
    Column,
    ImageType,
    ListOf,
    StructOf,
    object_schema,
)

SCHEMA_VERSION = "1.1.0"

CAPABILITIES: tuple[str, ...] = (
    "object spatial understanding",
    "attribute identification",
    "logical deduction",
    "scene understanding",
    "fine-grained recognition",
    "language generation",
    "in-context learning",
    "comparative analysis",
    "activity recognition",
    "causal reasoning",
    "humanities",
    "stem knowledge",
    "data understanding",
    "optical character recognition",
)


def snake_case(name: str) -> str:
    return name.replace("-", "_").replace(" ", "_").lower()


CAPABILITY_FIELDS: tuple[str, ...] = tuple(snake_case(c) for c in CAPABILITIES)

STYLES: tuple[str, ...] = (
    "multi-choice",
    "coordinate",
    "yes/no",
    "word/short-phrase",
    "short description",
    "detailed description",
    "comparison",
    "chain-of-thought",
    "specified style",
)

TASKS = ("mgsc", "gcg", "panoptic", "referring", "semantic", "region_caption")
SCOPES = ("scene", "instance", "track")
MASK_SOURCES = ("gt", "superpixel", "sam", "sam2", "unsamv2", "box")
VERDICTS = ("pass", "fail", "unsure")
GRANULARITY_DEFS = ("unsamv2", "graco")
# A segcap sample describes the whole image ("root") or one object and its parts ("subtree").
GRANULARITIES = ("root", "subtree")

RLE = StructOf(
    (
        Column("size", ListOf(INT32, 2), doc="(height, width)"),
        Column("counts", STRING, doc="COCO compressed RLE counts, ASCII"),
    )
)

PROVENANCE = StructOf(
    tuple(
        Column(name, STRING)
        for name in (
            "pipeline_version",
            "annotator",
            "backend",
            "model",
            "prompt_id",
            "prompt_sha256",
            "params_json",
            "created_at",
        )
    )
)

CONVERSATIONS = ListOf(StructOf((Column("from", STRING), Column("value", STRING))))

SOURCE_ID = Column(
    "source_id", STRING, nullable=True,
    doc="the record's id in its source file (or its position there when it has none)",
)

# One verdict per grounded phrase (segcap) or per description; null until `verify` ran.
VERIFICATION = ListOf(
    StructOf(
        (
            Column("target", STRING, doc="phrase index (segcap) or description field checked"),
            Column("score", FLOAT32, nullable=True),
            Column("verdict", STRING, doc=" | ".join(VERDICTS)),
            Column("reason", STRING, nullable=True, doc="why: the evidence that decided it"),
            Column("verifier", STRING, doc="rules | clip | lmm"),
            Column("provenance", PROVENANCE),
        )
    )
)

# Exhaustivity of a caption meant to describe everything (root / panoptic / gcg); null otherwise.
COVERAGE = StructOf(
    (
        Column("image_share", FLOAT32, doc="share of the image inside the caption's masks"),
        Column("instance_share", FLOAT32, nullable=True,
               doc="share of the instances (subtree: of the object's parts) at least half covered"),
        Column("uncovered", ListOf(STRING), doc="largest uncovered instances, segment ids"),
    )
)

CONFIGS: dict[str, tuple[Column, ...]] = {
    "images": (
        Column("image_id", STRING, doc="stable: sha256 of the encoded image bytes, first 16 hex"),
        Column("image", ImageType(), doc="HF Image: struct{bytes, path}"),
        Column("file_name", STRING, doc="name in the source"),
        Column("width", INT32),
        Column("height", INT32),
        Column("sha256", STRING),
        Column("source", STRING, doc="dataset or source name"),
        Column("video_id", STRING, nullable=True),
        Column("frame_index", INT32, nullable=True),
        SOURCE_ID,
    ),
    "segments": (
        Column("segment_id", STRING),
        Column("image_id", STRING),
        Column("parent_id", STRING, nullable=True),
        Column("level", INT32, doc="0 = whole object/instance, 1 = part, ..."),
        Column("mask", RLE),
        Column("bbox", ListOf(FLOAT32, 4), doc="x, y, w, h"),
        Column("area", INT64),
        Column("category", STRING, nullable=True),
        Column("mask_source", STRING, doc=" | ".join(MASK_SOURCES)),
        Column("score", FLOAT32, nullable=True),
        Column("track_id", INT64, nullable=True),
        Column("is_crowd", BOOL, nullable=True,
               doc="a crowd region (COCO iscrowd): never one instance; an ignore region"),
    ),
    "granularity_pairs": (
        Column("pair_id", STRING),
        Column("image_id", STRING),
        Column("instance_id", STRING, doc="root segment of the tree"),
        Column("segment_id", STRING),
        Column("point", ListOf(FLOAT32, 2), doc="x, y in pixels"),
        Column("mask", RLE),
        Column("granularity", FLOAT32, doc="in [0.1, 1.0]"),
        Column("granularity_def", STRING, doc=" | ".join(GRANULARITY_DEFS)),
        Column("level", INT32),
        Column("is_part", BOOL),
        Column("area", INT64),
        Column("mask_source", STRING),
        Column("is_residual", BOOL, nullable=True,
               doc="graco: the mask is the instance minus the segment_id mask (a residual proposal)"),
    ),
    "descriptions": (
        Column("description_id", STRING),
        Column("image_id", STRING, nullable=True),
        Column("video_id", STRING, nullable=True),
        Column("scope", STRING, doc=" | ".join(SCOPES)),
        Column("target_id", STRING, nullable=True, doc="segment_id or track id"),
        Column("short", STRING),
        Column("detailed", STRING),
        Column(
            "attributes",
            ListOf(StructOf((Column("name", STRING), Column("value", STRING)))),
        ),
        Column("provenance", PROVENANCE),
        Column("verification", VERIFICATION, nullable=True),
    ),
    "segcap": (
        Column("sample_id", STRING),
        Column("image_id", STRING),
        Column("task", STRING, doc=" | ".join(TASKS)),
        Column("granularity", STRING, doc=" | ".join(GRANULARITIES)),
        Column("subtree", STRING, nullable=True, doc="focus label of a subtree sample"),
        Column("conversations", CONVERSATIONS),
        Column("masks", ListOf(RLE), doc="k-th mask belongs to the k-th [SEG]"),
        Column("mask_labels", ListOf(STRING)),
        Column("phrase_spans", ListOf(ListOf(INT32, 2)), doc="character spans in the answer"),
        Column("segment_ids", ListOf(STRING)),
        Column("source", STRING),
        Column("provenance", PROVENANCE),
        SOURCE_ID,
        Column("verification", VERIFICATION, nullable=True),
        Column("coverage", COVERAGE, nullable=True),
    ),
    "instructions": (
        Column("sample_id", STRING),
        Column("image_id", STRING, nullable=True),
        Column("conversations", CONVERSATIONS),
        Column("source", STRING),
        Column(
            "capability_scores",
            StructOf(tuple(Column(name, FLOAT32, nullable=True) for name in CAPABILITY_FIELDS)),
        ),
        Column("styles", ListOf(STRING)),
        Column("selected", BOOL),
        Column("selection_method", STRING, nullable=True),
        Column("budget", FLOAT32, nullable=True),
        Column("duplicate_of", STRING, nullable=True),
        SOURCE_ID,
        # who scored the row: backend, model, prompt id + sha256; null until `score` ran
        Column("provenance", PROVENANCE, nullable=True),
    ),
    "rejects": (
        Column("stage", STRING),
        Column("input_ref", STRING),
        Column("reason", STRING),
        Column("raw", STRING, doc="truncated excerpt"),
    ),
}

CONFIG_NAMES: tuple[str, ...] = tuple(CONFIGS)

# The column that identifies a row of each config (unique within the dataset directory).
ID_COLUMNS: dict[str, str] = {
    "images": "image_id", "segments": "segment_id", "granularity_pairs": "pair_id",
    "descriptions": "description_id", "segcap": "sample_id", "instructions": "sample_id",
}

# Closed value sets of string columns: (config, column) -> the allowed values.
DOMAINS: dict[tuple[str, str], tuple[str, ...]] = {
    ("segcap", "task"): TASKS, ("segcap", "granularity"): GRANULARITIES,
    ("segments", "mask_source"): MASK_SOURCES, ("granularity_pairs", "mask_source"): MASK_SOURCES,
    ("granularity_pairs", "granularity_def"): GRANULARITY_DEFS, ("descriptions", "scope"): SCOPES,
}


def _columns(config: str) -> tuple[Column, ...]:
    try:
        return CONFIGS[config]
    except KeyError:
        raise KeyError(f"unknown config {config!r}; known: {', '.join(CONFIGS)}") from None


@cache
def hf_features(config: str):
    from datasets import Features

    return Features({c.name: c.type.feature() for c in _columns(config)})


@cache
def arrow_schema(config: str) -> pa.Schema:
    """The Arrow schema, carrying the HF features in its metadata so `datasets` restores Image()."""
    fields = [pa.field(c.name, c.type.arrow(), nullable=True) for c in _columns(config)]
    metadata = {"huggingface": json.dumps({"info": {"features": hf_features(config).to_dict()}})}
    return pa.schema(fields, metadata=metadata)


@cache
def _json_schema(config: str) -> str:
    schema = object_schema(_columns(config))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = config
    return json.dumps(schema)


def json_schema(config: str) -> dict:
    return json.loads(_json_schema(config))


def column_names(config: str) -> list[str]:
    return [c.name for c in _columns(config)]


def sqlite_type(config: str, column: str) -> str:
    """The SQLite type of a contract column (a fourth derived view, for the report's store)."""
    for c in _columns(config):
        if c.name == column:
            return c.type.sqlite()
    raise KeyError(f"{config} has no contract column {column!r}")


def empty_capability_scores() -> dict[str, float | None]:
    return {name: None for name in CAPABILITY_FIELDS}


def table_from_rows(config: str, rows: list[dict]) -> pa.Table:
    """Rows (dicts) -> an Arrow table of the config's schema; extra keys become extra columns."""
    schema = arrow_schema(config)
    if not rows:
        return schema.empty_table()
    known = set(schema.names)
    extras = [k for k in rows[0] if k not in known]
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    table = pa.Table.from_pydict(columns, schema=schema)
    for name in extras:
        table = table.append_column(name, pa.array([row.get(name) for row in rows]))
    return conform(config, table)


def conform(config: str, table: pa.Table) -> pa.Table:
    """Cast a table to the contract: contract columns in order and type, extra columns kept after."""
    schema = arrow_schema(config)
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise ValueError(f"{config}: missing contract columns {missing}")
    contract = table.select(schema.names).cast(schema)
    extras = [n for n in table.column_names if n not in schema.names]
    if not extras:
        return contract.replace_schema_metadata(schema.metadata)
    for name in extras:
        contract = contract.append_column(name, table.column(name))
    return contract.replace_schema_metadata(_metadata_with_extras(config, contract.schema, extras))


def _metadata_with_extras(config: str, schema: pa.Schema, extras: list[str]) -> dict:
    from datasets import Features

    features = dict(hf_features(config))
    features.update(Features.from_arrow_schema(pa.schema([schema.field(n) for n in extras])))
    return {"huggingface": json.dumps({"info": {"features": Features(features).to_dict()}})}
