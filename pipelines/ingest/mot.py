"""`mot`: MOTChallenge-layout sequences -> frames + box-mask tracks, whatever the variant.

Input: `--source` is a sequence folder or a folder of them. A sequence has `seqinfo.ini`
([Sequence] name, imDir=img1, imExt=.jpg, imWidth, imHeight, seqLength; a folder with an
`img1/` but no seqinfo.ini is read with those defaults), frames `<imDir>/000001<imExt>`, and
optionally `gt/gt.txt`. The gt columns differ by dataset, so the variant is recognised per
sequence from the file's content (and the sequence name where the content is the same):

- MOT15 (2D MOT 2015): `frame, id, x, y, w, h, conf, wx, wy, wz` — ten columns, the last three
  world coordinates or -1. There is no class column: every box gets the default class.
- MOT16 / MOT17 / MOT20: `frame, id, x, y, w, h, conf, class, visibility` — class ids 1-13 (the
  MOT17 table below), visibility in [0, 1]. The only variants whose classes are read.
- DanceTrack / SportsMOT: the same nine columns with class and visibility always 1; told apart
  by their sequence names (`dancetrack0001`, `v_<video>_c<k>`). Boxes get the default class.
- six or seven columns: boxes only, the default class.

The detected variant of every sequence is counted in stats (`mot_variant.<name>`).

MOT17 ships each sequence three times, once per public detector (`MOT17-02-DPM`, `-FRCNN`,
`-SDP`) with the same frames and gt. They are one sequence: the first copy (sorted by name) is
ingested under the sequence name without the detector (`MOT17-02`), the others are rejects
`duplicate_sequence` whose excerpt names the copy kept (and says so if their gt differs).

Every frame is an `images` row (video_id = sequence, frame_index = frame number); every gt box
is a level-0 `segments` row whose mask is the box clipped to the frame, track_id = id, score =
the conf column (MOT17: 0 = not evaluated), mask_source "gt". A track id seen twice in one frame
is a reject `duplicate_id` (the first box is kept).
"""

from __future__ import annotations

import configparser
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from pipelines.ingest.base import (
    IngestError,
    ItemError,
    ItemResult,
    ReadContext,
    box_mask,
    error_item,
)
from schemas import masks
from schemas.options.ingest import IngestOptions
from schemas.rejects import Reason

PRIMARY = "images"
MOT17_CLASSES = {
    1: "person", 2: "person_on_vehicle", 3: "car", 4: "bicycle", 5: "motorbike",
    6: "non_motorized_vehicle", 7: "static_person", 8: "distractor", 9: "occluder",
    10: "occluder_on_ground", 11: "occluder_full", 12: "reflection", 13: "crowd",
}
CLASS_VARIANTS = ("MOT16", "MOT17", "MOT20", "MOT16/17/20")
DETECTOR_COPY = re.compile(r"^(MOT17-\d+)-(DPM|FRCNN|SDP)$")


def _sequences(source: Path) -> list[Path]:
    if (source / "seqinfo.ini").is_file() or (source / "img1").is_dir():
        return [source]
    found = sorted({p.parent for p in source.glob("*/seqinfo.ini")}
                   | {p.parent for p in source.glob("*/img1") if p.is_dir()})
    if not found:
        raise IngestError(f"no MOTChallenge sequence (*/seqinfo.ini or */img1/) under {source}")
    return found


def _seqinfo(seq_dir: Path) -> dict:
    path = seq_dir / "seqinfo.ini"
    if not path.is_file():
        return {"name": seq_dir.name, "im_dir": "img1", "im_ext": ".jpg", "width": None,
                "height": None}
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
        section = parser["Sequence"]
        return {
            "name": section.get("name", seq_dir.name),
            "im_dir": section.get("imDir", "img1"),
            "im_ext": section.get("imExt", ".jpg"),
            "width": section.getint("imWidth", fallback=None),
            "height": section.getint("imHeight", fallback=None),
        }
    except (configparser.Error, KeyError, ValueError) as exc:
        raise IngestError(f"{path}: no readable [Sequence] section ({exc})") from exc


def _gt_lines(path: Path, seq: str) -> tuple[list[tuple[list[float], str]], list[str], str]:
    """([(values, ref)], refs of malformed lines, sha256 of the file); empty when there is no gt."""
    if not path.is_file():
        return [], [], ""
    data = path.read_bytes()
    parsed, bad = [], []
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        ref = f"{seq}/gt/gt.txt:{number}"
        try:
            values = [float(v) for v in line.replace(" ", "").rstrip(",").split(",")]
            if len(values) < 6:
                raise ValueError("fewer than 6 fields")
        except ValueError:
            bad.append(ref)
            continue
        parsed.append((values, ref))
    return parsed, bad, hashlib.sha256(data).hexdigest()


def detect_variant(name: str, rows: list[list[float]], gt_path: Path) -> str:
    """The MOTChallenge variant of one sequence, from its gt columns, then its name."""
    if not rows:
        return "no-gt"
    width = max(len(v) for v in rows)
    if width >= 10:
        return "MOT15"
    if width <= 7:
        return "boxes-only"
    classes_ok = all(v[7].is_integer() and int(v[7]) in MOT17_CLASSES for v in rows if len(v) > 7)
    visibility_ok = all(0.0 <= v[8] <= 1.0 for v in rows if len(v) > 8)
    if not (classes_ok and visibility_ok):
        raise IngestError(
            f"{gt_path}: columns 8-9 are neither MOT16/17/20 class ids (1-13) and visibility "
            "(0-1) nor MOT15 world coordinates (which need ten columns); fix the file or convert it")
    lowered = name.lower()
    if lowered.startswith("dancetrack"):
        return "DanceTrack"
    if lowered.startswith("v_"):
        return "SportsMOT"
    for prefix in ("MOT16", "MOT17", "MOT20"):
        if name.startswith(prefix):
            return prefix
    return "MOT16/17/20"


def _category(variant: str, values: list[float], default: str) -> str:
    if variant in CLASS_VARIANTS and len(values) > 7:
        return MOT17_CLASSES[int(values[7])]
    return default


def _detector_copies(sequences: list[Path]) -> tuple[list[Path], list[dict]]:
    """Keep one copy of each MOT17 sequence; the others become `duplicate_sequence` rejects."""
    kept: dict[str, Path] = {}
    keep, skipped = [], []
    for seq_dir in sequences:
        match = DETECTOR_COPY.match(_seqinfo(seq_dir)["name"])
        if match is None or match.group(1) not in kept:
            if match is not None:
                kept[match.group(1)] = seq_dir
            keep.append(seq_dir)
            continue
        base, first = match.group(1), kept[match.group(1)]
        same = _file_hash(first / "gt" / "gt.txt") == _file_hash(seq_dir / "gt" / "gt.txt")
        item = error_item(
            f"sequence {seq_dir.name}", Reason.DUPLICATE_SEQUENCE,
            f"{seq_dir.name} is a per-detector copy of {base} "
            f"({'same gt' if same else 'its gt.txt DIFFERS'}); ingested {first.name} as {base}, "
            "skipped this copy")
        item["counters"] = {"mot_skipped_detector_copies": 1}
        skipped.append(item)
    return keep, skipped


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def list_items(options: IngestOptions) -> Iterator[dict]:
    sequences, copies = _detector_copies(_sequences(options.source))
    yield from copies
    root = sequences[0].parent if sequences else options.source
    for seq_dir in sequences:
        yield from _sequence_items(seq_dir, root, options)


def _sequence_items(seq_dir: Path, root: Path, options: IngestOptions) -> Iterator[dict]:
    info = _seqinfo(seq_dir)
    match = DETECTOR_COPY.match(info["name"])
    video_id = match.group(1) if match else info["name"]
    gt_path = seq_dir / "gt" / "gt.txt"
    parsed, bad, _ = _gt_lines(gt_path, seq_dir.name)
    for ref in bad:
        yield error_item(ref, Reason.BAD_FIELD, "not a MOTChallenge gt line")
    variant = detect_variant(info["name"], [v for v, _ in parsed], gt_path)
    boxes: dict[int, list] = defaultdict(list)
    tracks_seen: set[tuple[int, int]] = set()
    for values, ref in parsed:
        frame, track = int(values[0]), int(values[1])
        if (frame, track) in tracks_seen:
            yield error_item(ref, Reason.DUPLICATE_ID, f"track id {track} appears twice in frame {frame} "
                             f"of {video_id}; the first box is kept | {values}")
            continue
        tracks_seen.add((frame, track))
        conf = values[6] if len(values) > 6 else 1.0
        boxes[frame].append([track, *values[2:6], conf,
                             _category(variant, values, options.mot_default_class)])
    frames = {int(p.stem): p for p in (seq_dir / info["im_dir"]).glob(f"*{info['im_ext']}")
              if p.stem.isdigit()}
    counters = {f"mot_variant.{variant}": 1}
    for frame in sorted(set(frames) | set(boxes)):
        relative = f"{seq_dir.name}/{info['im_dir']}/{frame:06d}{info['im_ext']}"
        if frame in frames:
            relative = frames[frame].relative_to(root).as_posix()
        yield {"ref": f"{seq_dir.name} frame {frame}", "root": str(root), "file": relative,
               "video_id": video_id, "frame": frame, "variant": variant,
               "size": [info["height"], info["width"]], "boxes": boxes.get(frame, []),
               "counters": counters}
        counters = {}  # a sequence is counted once, with its first frame


def decode(item: dict, ctx: ReadContext, result: ItemResult) -> None:
    image = ctx.load_image(item["file"], result, expect=tuple(item["size"]), root=Path(item["root"]),
                           video_id=item["video_id"], frame_index=item["frame"],
                           source_id=f"{item['video_id']}:{item['frame']}")
    for track, x, y, w, h, conf, category in item["boxes"]:
        ref = f"{item['ref']} track {track}"
        try:
            if w <= 0 or h <= 0:
                raise ItemError(Reason.EMPTY_MASK, f"box of size {w}x{h}")
            rle = box_mask(x, y, w, h, image.height, image.width)
        except (ItemError, masks.MaskError) as exc:
            result.reject(ref, exc.reason, f"{exc} | {[track, x, y, w, h, conf, category]}")
            continue
        result.add("segments", ctx.segment_row(
            image, ("mot", item["video_id"], item["frame"], track), rle,
            category=category, track_id=track, score=conf))

