"""One card per image (or per text-only instruction sample): everything the page shows about it.

Cards are plain data; `pages.py` turns them into HTML. Per-card caps (options) bound the size of
a card however many segments, pairs or samples an image has; what is left out is counted.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.report.media import (
    GRANULARITY_COLOUR,
    Thumbnail,
    colour,
    mask_png,
    thumbnail,
)
from pipelines.report.store import ReportStore
from schemas.grounding import CLOSE, OPEN, SEG, alignment_problems, parse_grounded
from schemas.options.report import ReportOptions
from schemas.rows import answer_text, strip_image_token


@dataclass
class Layer:
    png: str
    colour: str
    label: str
    level: int
    segment_id: str | None


@dataclass
class Sample:
    sample_id: str
    task: str
    granularity: str
    subtree: str | None
    turns: list[tuple[str, list[tuple[str, int | None]]]]  # (role, [(text, layer or None)])
    problems: list[str]
    verdicts: list[tuple[str, str]] | None = None  # per phrase (verdict, reason); None: not verified


@dataclass
class Instruction:
    sample_id: str
    source: str
    question: str
    answer: str
    scores: dict[str, float | None]
    styles: list[str]
    status: str
    status_kind: str  # selected | rejected | pool


@dataclass
class Card:
    card_id: str
    title: str
    source: str
    image_id: str | None = None
    thumb: Thumbnail | None = None
    layers: list[Layer] = field(default_factory=list)
    points: list[dict] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    scene: list[dict] = field(default_factory=list)
    instances: list[dict] = field(default_factory=list)  # + "layer": index or None
    instructions: list[Instruction] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def search_entry(self, href: str) -> list:
        phrases = " | ".join(text for s in self.samples for _, pieces in s.turns
                             for text, layer in pieces if layer is not None)
        return [self.card_id, href, self.source, sorted({s.task for s in self.samples}),
                sorted({s.granularity for s in self.samples}), phrases.lower(), self.title]


def grounded_pieces(answer: str, first_layer: int, layer_of: list[int | None]) -> list[tuple[str, int | None]]:
    """An answer -> [(plain text, None) | (phrase, layer)]; the markers themselves are dropped."""
    pieces: list[tuple[str, int | None]] = []
    last = 0
    for k, (start, end) in enumerate(parse_grounded(answer).spans):
        open_at = answer.rfind(OPEN, last, start)
        close_at = answer.find(SEG, end)
        if open_at < 0 or close_at < 0 or answer.find(CLOSE, end) > close_at:
            continue
        pieces.append((answer[last:open_at], None))
        index = first_layer + k
        pieces.append((answer[start:end], layer_of[index] if index < len(layer_of) else None))
        last = close_at + len(SEG)
    pieces.append((answer[last:], None))
    return [(text, layer) for text, layer in pieces if text]


def instruction_from_row(row: sqlite3.Row, rejects: list[sqlite3.Row]) -> Instruction:
    turns = json.loads(row["conversations"])
    question = next((strip_image_token(t["value"]) for t in turns if t["from"] == "human"), "")
    answer = next((t["value"] for t in turns if t["from"] == "gpt"), "")
    own = [r for r in rejects if r["input_ref"] == row["sample_id"]]
    if row["selected"]:
        budget = f", budget {row['budget']:g}" if row["budget"] is not None else ""
        status, kind = f"selected by {row['selection_method'] or '?'}{budget}", "selected"
    elif row["duplicate_of"]:
        status, kind = f"rejected: duplicate of {row['duplicate_of']}", "rejected"
    elif own:
        status, kind = f"rejected at {own[0]['stage']}: {own[0]['reason']}", "rejected"
    elif row["selection_method"]:
        status, kind = f"not selected by {row['selection_method']}", "rejected"
    else:
        status, kind = "in the pool (no selection run yet)", "pool"
    return Instruction(row["sample_id"], row["source"], question, answer,
                       json.loads(row["scores"]), json.loads(row["styles"]), status, kind)


class CardBuilder:
    def __init__(self, store: ReportStore, dataset_root: Path, options: ReportOptions):
        self.store = store
        self.root = dataset_root
        self.options = options

    def image_card(self, image: dict) -> Card:
        image_id = image["image_id"]
        card = Card(f"img-{image_id}", image["file_name"] or image_id, image["source"] or "?",
                    image_id=image_id)
        card.thumb = thumbnail(image.get("image"), image["width"], image["height"], self.root,
                               self.options.thumb_max_side, self.options.max_image_pixels)
        if card.thumb.note:
            card.notes.append(card.thumb.note)
        size = (card.thumb.width, card.thumb.height)
        layer_of_segment = self._segment_layers(card, size)
        self._samples(card, size, layer_of_segment)
        self._points(card, size)
        self._descriptions(card, layer_of_segment)
        sample_ids = [s.sample_id for s in card.samples]
        instruction_rows = self.store.rows_for("instructions", image_id)
        refs = [image_id, image["file_name"], *sample_ids, *(r["sample_id"] for r in instruction_rows)]
        rejects = self.store.rejects_for(refs)
        card.rejects = [dict(r) for r in rejects]
        card.instructions = [instruction_from_row(r, rejects)
                             for r in instruction_rows[: self.options.max_instructions]]
        if len(instruction_rows) > len(card.instructions):
            card.notes.append(f"{len(instruction_rows) - len(card.instructions)} more instruction samples not shown")
        return card

    def text_card(self, row: sqlite3.Row) -> Card:
        rejects = self.store.rejects_for([row["sample_id"]])
        card = Card(f"ins-{row['sample_id']}", row["sample_id"], row["source"] or "?")
        card.instructions = [instruction_from_row(row, rejects)]
        card.rejects = [dict(r) for r in rejects]
        if row["image_id"]:
            card.notes.append(f"image {row['image_id']} is not in the images config")
        return card

    # ---- parts -----------------------------------------------------------------------------
    def _add_layer(self, card: Card, rle_json: str | None, size, label: str, level: int,
                   segment_id: str | None) -> int | None:
        index = len(card.layers)
        png = mask_png(rle_json, size, colour(index))
        if png is None:
            card.notes.append(f"mask of {label!r} could not be decoded")
            return None
        card.layers.append(Layer(png, colour(index), label, level, segment_id))
        return index

    def _segment_layers(self, card: Card, size) -> dict[str, int]:
        rows = self.store.db.execute(
            "SELECT * FROM segments WHERE image_id = ? ORDER BY level, area DESC LIMIT ?",
            (card.image_id, self.options.max_layers)).fetchall()
        total = self.store.count_for("segments", card.image_id)
        if total > len(rows):
            card.notes.append(f"{total - len(rows)} deeper/smaller segments not drawn")
        layers = {}
        for row in rows:
            label = row["category"] or f"segment {row['segment_id'][:8]} (level {row['level']})"
            index = self._add_layer(card, row["mask"], size, label, row["level"], row["segment_id"])
            if index is not None:
                layers[row["segment_id"]] = index
        return layers

    def _samples(self, card: Card, size, layer_of_segment: dict[str, int]) -> None:
        rows = self.store.rows_for("segcap", card.image_id)
        for row in rows[: self.options.max_samples]:
            masks = json.loads(row["masks"])
            labels = json.loads(row["mask_labels"])
            segment_ids = json.loads(row["segment_ids"])
            layer_of: list[int | None] = []
            for k, mask in enumerate(masks):
                segment_id = segment_ids[k] if k < len(segment_ids) else None
                if segment_id in layer_of_segment:
                    layer_of.append(layer_of_segment[segment_id])
                    continue
                label = labels[k] if k < len(labels) else f"mask {k}"
                index = self._add_layer(card, mask, size, label, 0, segment_id)
                if segment_id and index is not None:
                    layer_of_segment[segment_id] = index
                layer_of.append(index)
            turns, seen = [], 0
            for turn in json.loads(row["conversations"]):
                if turn["from"] == "gpt":
                    turns.append(("gpt", grounded_pieces(turn["value"], seen, layer_of)))
                    seen += parse_grounded(turn["value"]).seg_count
                else:
                    turns.append((turn["from"], [(strip_image_token(turn["value"]), None)]))
            problems = alignment_problems(answer_text(json.loads(row["conversations"])),
                                          len(masks), len(labels))
            verdicts = json.loads(row["verification"]) if row["verification"] else None
            card.samples.append(Sample(row["sample_id"], row["task"], row["granularity"],
                                       row["subtree"], turns, problems,
                                       [tuple(v) for v in verdicts] if verdicts is not None else None))
        if len(rows) > len(card.samples):
            card.notes.append(f"{len(rows) - len(card.samples)} more segcap samples not shown")

    def _points(self, card: Card, size) -> None:
        """One slider per (point, instance, granularity definition), fine to whole.

        unsamv2 and graco pairs of the same point are different scales; mixed in one slider
        they interleaved, so a step could shrink the mask. Within one definition the masks are
        ordered by granularity, then area, so every step grows (or keeps) the mask."""
        scale = card.thumb.scale
        groups: dict[tuple, dict] = {}
        rows = self.store.rows_for("pairs", card.image_id,
                                   order="x, y, instance_id, granularity_def, granularity, area")
        for row in rows:
            key = (round(row["x"], 1), round(row["y"], 1), row["instance_id"], row["granularity_def"])
            if key not in groups:
                if len(groups) >= self.options.max_points:
                    continue
                groups[key] = {"x": row["x"] * scale, "y": row["y"] * scale,
                               "instance": row["instance_id"], "def": row["granularity_def"],
                               "masks": []}
            png = mask_png(row["mask"], size, GRANULARITY_COLOUR)
            if png is not None:
                groups[key]["masks"].append({"g": round(row["granularity"], 3), "png": png,
                                             "level": row["level"], "part": bool(row["is_part"]),
                                             "def": row["granularity_def"], "area": row["area"]})
        card.points = [g for g in groups.values() if g["masks"]]
        total = self.store.db.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT round(x, 1), round(y, 1), instance_id,"
            " granularity_def FROM pairs WHERE image_id = ?)", (card.image_id,)).fetchone()[0]
        if total > len(groups):
            card.notes.append(f"{total - len(groups)} more granularity points not shown")

    def _descriptions(self, card: Card, layer_of_segment: dict[str, int]) -> None:
        for row in self.store.rows_for("descriptions", card.image_id):
            entry = {"short": row["short"], "detailed": row["detailed"], "target": row["target_id"],
                     "layer": layer_of_segment.get(row["target_id"])}
            (card.scene if row["scope"] == "scene" else card.instances).append(entry)
