"""A tiny column-type language: each type knows its Arrow type, its HF feature and its JSON Schema.

The dataset contract is written once in this language (see `contract.py`); the Arrow schema, the
`datasets.Features` and the JSON Schema are all derived from it, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


class ColumnType:
    def arrow(self) -> pa.DataType:
        raise NotImplementedError

    def feature(self) -> Any:
        raise NotImplementedError

    def json_schema(self) -> dict:
        raise NotImplementedError

    def sqlite(self) -> str:
        """The SQLite column type; nested values (lists, structs) are stored as JSON text."""
        return "TEXT"


@dataclass(frozen=True)
class Scalar(ColumnType):
    name: str  # the HF Value dtype: string, int32, int64, float32, bool, binary

    _ARROW = {
        "string": pa.string(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "float32": pa.float32(),
        "bool": pa.bool_(),
        "binary": pa.binary(),
    }
    _JSON = {
        "string": {"type": "string"},
        "int32": {"type": "integer"},
        "int64": {"type": "integer"},
        "float32": {"type": "number"},
        "bool": {"type": "boolean"},
        "binary": {"type": "string", "contentEncoding": "base64"},
    }

    _SQLITE = {"int32": "INTEGER", "int64": "INTEGER", "bool": "INTEGER", "float32": "REAL",
               "binary": "BLOB"}

    def arrow(self) -> pa.DataType:
        return self._ARROW[self.name]

    def sqlite(self) -> str:
        return self._SQLITE.get(self.name, "TEXT")

    def feature(self) -> Any:
        from datasets import Value

        return Value(self.name)

    def json_schema(self) -> dict:
        return dict(self._JSON[self.name])


@dataclass(frozen=True)
class ListOf(ColumnType):
    item: ColumnType
    length: int | None = None  # fixed length, e.g. a bbox has 4

    def arrow(self) -> pa.DataType:
        if self.length is None:
            return pa.list_(self.item.arrow())
        return pa.list_(self.item.arrow(), self.length)

    def feature(self) -> Any:
        from datasets import List

        return List(self.item.feature(), length=self.length if self.length is not None else -1)

    def json_schema(self) -> dict:
        schema = {"type": "array", "items": self.item.json_schema()}
        if self.length is not None:
            schema["minItems"] = schema["maxItems"] = self.length
        return schema


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = False
    doc: str = ""


@dataclass(frozen=True)
class StructOf(ColumnType):
    columns: tuple[Column, ...] = field(default_factory=tuple)

    def arrow(self) -> pa.DataType:
        return pa.struct([pa.field(c.name, c.type.arrow(), nullable=True) for c in self.columns])

    def feature(self) -> Any:
        return {c.name: c.type.feature() for c in self.columns}

    def json_schema(self) -> dict:
        return object_schema(self.columns)


@dataclass(frozen=True)
class ImageType(ColumnType):
    """HF `Image()`: struct{bytes, path}; bytes are embedded by default."""

    def arrow(self) -> pa.DataType:
        return pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])

    def feature(self) -> Any:
        from datasets import Image

        return Image()

    def json_schema(self) -> dict:
        return {
            "type": "object",
            "properties": {
                "bytes": {"type": ["string", "null"], "contentEncoding": "base64"},
                "path": {"type": ["string", "null"]},
            },
        }


def column_json_schema(column: Column) -> dict:
    schema = column.type.json_schema()
    if column.nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    if column.doc:
        schema["description"] = column.doc
    return schema


def object_schema(columns: tuple[Column, ...]) -> dict:
    return {
        "type": "object",
        "properties": {c.name: column_json_schema(c) for c in columns},
        "required": [c.name for c in columns],
    }


STRING = Scalar("string")
INT32 = Scalar("int32")
INT64 = Scalar("int64")
FLOAT32 = Scalar("float32")
BOOL = Scalar("bool")
