"""Video cards (MOT): the video's scene description and each track's description, shown with
the track's boxes drawn over a few of its frames.

Video and track descriptions are keyed by `video_id` and track id, not by an image, so image
cards never showed them. One card per video lists them; each track gets a strip of up to
`FRAMES_PER_TRACK` frames spread over its life, with its box drawn in its colour.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as pads
from PIL import Image, ImageDraw

from annotators.images import ImageError, decode_image, encode_jpeg
from pipelines.report.media import _image_bytes, colour, data_url, display_size
from pipelines.report.store import ReportStore
from pipelines.store.dataset_dir import DatasetDir

FRAMES_PER_TRACK = 4
MAX_TRACKS = 12
FRAME_SIDE = 200  # px, longest side of a frame in a track strip


@dataclass
class TrackView:
    track_id: str
    colour: str
    category: str | None
    short: str
    detailed: str
    frames: list[tuple[int | None, str]] = field(default_factory=list)  # (frame index, data URL)
    boxes: int = 0  # frames the track appears in


@dataclass
class VideoCard:
    card_id: str
    video_id: str
    frames: int
    scene: list[tuple[str, str]] = field(default_factory=list)  # (short, detailed)
    tracks: list[TrackView] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source: str = "video"

    def search_entry(self, href: int) -> list:
        text = " | ".join([t.short for t in self.tracks] + [s for s, _ in self.scene])
        return [self.card_id, href, self.source, [], [], text.lower(), f"video {self.video_id}"]


def _evenly(items: list, count: int) -> list:
    if len(items) <= count:
        return items
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


class VideoCardBuilder:
    def __init__(self, store: ReportStore, dataset: DatasetDir, max_image_pixels: int):
        self.store, self.dataset, self.max_pixels = store, dataset, max_image_pixels

    def _frames(self, image_ids: list[str]) -> dict[str, dict]:
        """Only the frames a card draws are read (a pushed-down filter on the images shards)."""
        if not image_ids or not self.dataset.has("images"):
            return {}
        table = pads.dataset([str(p) for p in self.dataset.shard_paths("images")], format="parquet") \
            .to_table(columns=["image_id", "image"], filter=pc.field("image_id").isin(image_ids))
        return {row["image_id"]: row["image"] for row in table.to_pylist()}

    def _strip(self, boxes, images: dict[str, dict], hex_colour: str) -> list[tuple[int | None, str]]:
        strip = []
        for box in boxes:
            data, _why = _image_bytes(images.get(box["image_id"]), self.dataset.path)
            if data is None:  # a frame that cannot be read is left out of the strip
                continue
            try:
                pixels = decode_image(data, self.max_pixels).pixels
            except ImageError:
                continue
            height, width = pixels.shape[:2]
            out_w, out_h, scale = display_size(width, height, FRAME_SIDE)
            frame = Image.fromarray(pixels).resize((out_w, out_h), Image.BILINEAR)
            x, y, w, h = json.loads(box["bbox"])
            ImageDraw.Draw(frame).rectangle(
                [x * scale, y * scale, (x + w) * scale, (y + h) * scale], outline=hex_colour, width=3)
            strip.append((box["frame_index"], data_url("image/jpeg", encode_jpeg(np.asarray(frame), quality=85))))
        return strip

    def card(self, video_id: str) -> VideoCard:
        rows = self.store.video_descriptions(video_id)
        card = VideoCard(f"vid-{video_id}", video_id, len(self.store.video_frames(video_id)))
        card.scene = [(r["short"] or "", r["detailed"] or "") for r in rows if r["scope"] == "scene"]
        tracks = [r for r in rows if r["scope"] == "track"]
        if len(tracks) > MAX_TRACKS:
            card.notes.append(f"{len(tracks) - MAX_TRACKS} more track descriptions not shown")
        chosen = {}
        for index, row in enumerate(tracks[:MAX_TRACKS]):
            boxes = self.store.track_boxes(video_id, row["target_id"])
            chosen[row["target_id"]] = _evenly(boxes, FRAMES_PER_TRACK)
            card.tracks.append(TrackView(row["target_id"], colour(index),
                                         boxes[0]["category"] if boxes else None,
                                         row["short"] or "", row["detailed"] or "", boxes=len(boxes)))
        images = self._frames(sorted({b["image_id"] for boxes in chosen.values() for b in boxes}))
        for track in card.tracks:
            track.frames = self._strip(chosen[track.track_id], images, track.colour)
            if not track.frames:
                card.notes.append(f"track {track.track_id}: no frame with its box could be drawn")
        if not rows:
            card.notes.append("no video or track descriptions: run `segcap describe`")
        return card


def video_card_html(card: VideoCard) -> str:
    scene = "".join(f'<p class="scene"><b>video:</b> {escape(short)}</p>'
                    f'<details><summary>detailed</summary>{escape(detailed)}</details>'
                    for short, detailed in card.scene)
    tracks = []
    for track in card.tracks:
        frames = "".join(f'<figure><img alt="track {escape(track.track_id)}, frame {index}" src="{url}">'
                         f'<figcaption>frame {index}</figcaption></figure>' for index, url in track.frames)
        category = f" ({escape(track.category)})" if track.category else ""
        tracks.append(
            f'<div class="track" data-track="{escape(track.track_id)}" style="--c:{track.colour}">'
            f'<p><span class="swatch"></span><b>track {escape(track.track_id)}</b>{category}, '
            f'{track.boxes} frames: {escape(track.short)}</p>'
            f'<details><summary>detailed</summary>{escape(track.detailed)}</details>'
            f'<div class="track-frames">{frames}</div></div>')
    notes = "".join(f"<li>{escape(n)}</li>" for n in card.notes)
    phrases = " | ".join([t.short for t in card.tracks] + [s for s, _ in card.scene])
    return (f'<article class="card video" id="{escape(card.card_id)}" data-source="{escape(card.source)}" '
            f'data-tasks="" data-granularities="" data-phrases="{escape((phrases + " | video " + card.video_id).lower())}">'
            f'<h3>video {escape(card.video_id)} <small>{card.frames} frames · {len(card.tracks)} '
            f'described tracks</small></h3><div class="text">'
            f'{"<h4>Video</h4>" + scene if scene else ""}'
            f'{"<h4>Tracks</h4>" + "".join(tracks) if tracks else ""}'
            f'{"<ul class=notes>" + notes + "</ul>" if notes else ""}</div></article>')
