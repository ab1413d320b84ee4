"""`mot`: MOTChallenge sequences (MOT17, DanceTrack, SportsMOT) -> frames + box-mask tracks.

Input: `--source` is a sequence folder or a folder of them. A sequence has `seqinfo.ini`
([Sequence] name, imDir=img1, imExt=.jpg, imWidth, imHeight, seqLength), frames
`<imDir>/000001<imExt>`, and optionally `gt/gt.txt` with lines
`frame, id, bb_left, bb_top, bb_width, bb_height, conf, class, visibility`.

Every frame is an `images` row (video_id = sequence name, frame_index = frame number); every
gt box is a level-0 `segments` row whose mask is the box (clipped to the frame), with
track_id = id, score = the conf flag (MOT17: 0 = not evaluated), mask_source "gt", and the
category from the MOT17 class table ("person" when the class is absent).
"""

from __future__ import annotations

import configparser
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from pipelines.ingest.base import IngestError, ItemError, ItemResult, ReadContext, error_item
from schemas import masks
from schemas.options.ingest import IngestOptions

PRIMARY = "images"
MOT17_CLASSES = {
    1: "person", 2: "person_on_vehicle", 3: "car", 4: "bicycle", 5: "motorbike",
    6: "non_motorized_vehicle", 7: "static_person", 8: "distractor", 9: "occluder",
    10: "occluder_on_ground", 11: "occluder_full", 12: "reflection", 13: "crowd",
}


def _sequences(source: Path) -> list[Path]:
    if (source / "seqinfo.ini").is_file():
        return [source]
    found = sorted(p.parent for p in source.glob("*/seqinfo.ini"))
    if not found:
        raise IngestError(f"no MOTChallenge sequence (*/seqinfo.ini) under {source}")
    return found


def _seqinfo(path: Path) -> dict:
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
        section = parser["Sequence"]
    except (configparser.Error, KeyError) as exc:
        raise IngestError(f"{path}: no readable [Sequence] section ({exc})") from exc
    return {
        "name": section.get("name", path.parent.name),
        "im_dir": section.get("imDir", "img1"),
        "im_ext": section.get("imExt", ".jpg"),
        "width": section.getint("imWidth", fallback=None),
        "height": section.getint("imHeight", fallback=None),
    }


def _gt_rows(path: Path, seq: str) -> Iterator[tuple[int | None, list | None, str]]:
    """(frame, [id, x, y, w, h, conf, class, visibility], ref) per line; frame None if malformed."""
    if not path.is_file():
        return
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        ref = f"{seq}/gt/gt.txt:{number}"
        try:
            values = [float(v) for v in line.replace(" ", "").split(",")]
            if len(values) < 6:
                raise ValueError("fewer than 6 fields")
        except ValueError:
            yield None, None, ref
            continue
        padded = values + [1.0, 1.0, 1.0][: max(0, 9 - len(values))]
        yield int(padded[0]), [int(padded[1]), *padded[2:6], padded[6], int(padded[7]), padded[8]], ref


def list_items(options: IngestOptions) -> Iterator[dict]:
    sequences = _sequences(options.source)
    root = sequences[0].parent
    for seq_dir in sequences:
        info = _seqinfo(seq_dir / "seqinfo.ini")
        boxes = defaultdict(list)
        for frame, box, ref in _gt_rows(seq_dir / "gt" / "gt.txt", seq_dir.name):
            if frame is None:
                yield error_item(ref, "bad_field", "not a MOTChallenge gt line")
            else:
                boxes[frame].append(box)
        frames = {int(p.stem): p for p in (seq_dir / info["im_dir"]).glob(f"*{info['im_ext']}")
                  if p.stem.isdigit()}
        for frame in sorted(set(frames) | set(boxes)):
            relative = f"{seq_dir.name}/{info['im_dir']}/{frame:06d}{info['im_ext']}"
            if frame in frames:
                relative = frames[frame].relative_to(root).as_posix()
            yield {"ref": f"{seq_dir.name} frame {frame}", "root": str(root), "file": relative,
                   "video_id": info["name"], "frame": frame,
                   "size": [info["height"], info["width"]], "boxes": boxes.get(frame, [])}


def decode(item: dict, ctx: ReadContext, result: ItemResult) -> None:
    image = ctx.load_image(item["file"], result, expect=tuple(item["size"]), root=Path(item["root"]),
                           video_id=item["video_id"], frame_index=item["frame"])
    for track, x, y, w, h, conf, cls, _visibility in item["boxes"]:
        ref = f"{item['ref']} track {track}"
        try:
            if w <= 0 or h <= 0:
                raise ItemError("empty_mask", f"box of size {w}x{h}")
            box = [x, y, x + w, y, x + w, y + h, x, y + h]
            rle = masks.from_polygons([box], image.height, image.width).rle
        except (ItemError, masks.MaskError) as exc:
            result.reject(ref, exc.reason, f"{exc} | {[track, x, y, w, h, conf, cls]}")
            continue
        result.add("segments", ctx.segment_row(
            image, ("mot", item["video_id"], item["frame"], track), rle,
            category=MOT17_CLASSES.get(cls, "person"), track_id=track, score=conf))
