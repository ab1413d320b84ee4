"""The video describer (LG-MOT): one scene description per video, one description per track.

A video is planned first (which frames to look at: a few evenly spaced frames for the scene, a
few evenly spaced boxes per track), so the caller decodes only those frames. Track evidence
(frames, motion, size, position) comes from every box of the track, colours from the sampled ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from annotators.backends.base import Backend, Request, user_message
from annotators.describe import prompts, template
from annotators.describe.asking import Job, ask_all
from annotators.describe.describer import (
    INSTANCE_PARSER,
    SCENE_PARSER,
    DescribeResult,
    instance_facts,
)
from annotators.describe.evidence import (
    InstanceEvidence,
    camera_motion,
    colour_names,
    is_person,
    normalised_box,
    position_words,
    size_word,
    track_motion,
)
from annotators.describe.rows import RowMaker
from annotators.describe.visual import bounded, box_core, crop
from schemas.rejects import Reason

# LG-MOT's person attributes (gender, shirt colour, pants colour) from box evidence. Rows of the
# box, as fractions of its height, where a standing pedestrian's torso and legs are; the central
# half of the width keeps most background out. A colour is named only when it clearly dominates
# the region over all sampled boxes; otherwise "unknown". Gender needs a model: always "unknown".
TORSO_ROWS, LEGS_ROWS = (0.2, 0.5), (0.55, 0.9)
MIN_CLOTHING_SHARE = 0.5
MIN_REGION_PIXELS = 30
UNKNOWN = "unknown"


def body_region(bbox: list[float], shape: tuple[int, int], rows: tuple[float, float]) -> np.ndarray:
    height, width = shape
    x, y, w, h = bbox
    mask = np.zeros((height, width), dtype=bool)
    x0, x1 = int(max(0, x + w / 4)), int(min(width, x + 3 * w / 4))
    y0, y1 = int(max(0, y + rows[0] * h)), int(min(height, y + rows[1] * h))
    mask[y0:y1, x0:x1] = True
    return mask


def clothing_colour(boxes: list[dict], frames: dict[str, np.ndarray], rows: tuple[float, float]) -> str:
    pixels = [frames[b["image_id"]][body_region(list(b["bbox"]), frames[b["image_id"]].shape[:2], rows)]
              for b in boxes]
    stacked = np.concatenate(pixels) if pixels else np.zeros((0, 3), np.uint8)
    if len(stacked) < MIN_REGION_PIXELS:
        return UNKNOWN
    named = colour_names(stacked[None], np.ones((1, len(stacked)), dtype=bool), max_colours=1)
    return named[0][0] if named and named[0][1] >= MIN_CLOTHING_SHARE else UNKNOWN


def person_attributes(boxes: list[dict], frames: dict[str, np.ndarray]) -> list[dict]:
    return [{"name": "gender", "value": UNKNOWN},
            {"name": "shirt_color", "value": clothing_colour(boxes, frames, TORSO_ROWS)},
            {"name": "pants_color", "value": clothing_colour(boxes, frames, LEGS_ROWS)}]


def evenly(items: list, k: int) -> list:
    if len(items) <= k:
        return list(items)
    picks = np.linspace(0, len(items) - 1, k).round().astype(int)
    return [items[i] for i in dict.fromkeys(picks.tolist())]


@dataclass
class VideoPlan:
    video_id: str
    width: int
    height: int
    scene_frames: list[str]  # image ids, in frame order
    tracks: dict[int, list[dict]] = field(default_factory=dict)  # track id -> boxes in frame order
    samples: dict[int, list[dict]] = field(default_factory=dict)  # track id -> sampled boxes

    def needed_images(self) -> set[str]:
        needed = set(self.scene_frames)
        for boxes in self.samples.values():
            needed.update(b["image_id"] for b in boxes)
        return needed


def plan_video(video_id: str, width: int, height: int, frames: list[tuple[str, int]],
               segments: list[dict], samples_per_track: int = 3) -> VideoPlan:
    """`frames`: (image_id, frame_index) of every frame; `segments`: rows with `frame_index` added."""
    ordered = [image_id for image_id, _ in sorted(frames, key=lambda f: f[1])]
    plan = VideoPlan(video_id, width, height, evenly(ordered, samples_per_track))
    for segment in sorted(segments, key=lambda s: (s["frame_index"], s["segment_id"])):
        if segment.get("track_id") is not None and segment["level"] == 0:
            plan.tracks.setdefault(int(segment["track_id"]), []).append(segment)
    plan.samples = {tid: evenly(boxes, samples_per_track) for tid, boxes in plan.tracks.items()}
    return plan


class VideoDescriber:
    def __init__(self, backend: Backend, *, max_retries: int = 2, fallback: bool = True):
        self.backend, self.max_retries, self.fallback = backend, max_retries, fallback
        self.rows = RowMaker(backend)

    def describe(self, plans: list[VideoPlan], frames: dict[str, np.ndarray]) -> DescribeResult:
        result = DescribeResult()
        jobs, owners = [], []
        for plan in plans:
            missing = plan.needed_images() - set(frames)
            if missing:
                result.rejects.append((f"video:{plan.video_id}", Reason.MISSING_FRAMES,
                                       ", ".join(sorted(missing))[:500]))
                continue
            jobs.append(self._scene_job(plan, frames))
            owners.append((plan, None, []))
            for track_id in plan.tracks:
                evidence = self._track_evidence(plan, track_id, frames)
                jobs.append(self._track_job(plan, track_id, evidence, frames))
                person = (person_attributes(plan.samples[track_id], frames)
                          if is_person(evidence.category) else [])
                owners.append((plan, evidence, person))
        answers = ask_all(self.backend, jobs, max_retries=self.max_retries, fallback=self.fallback)
        for (plan, evidence, person), answer in zip(owners, answers, strict=True):
            ref = f"scene:{plan.video_id}" if evidence is None else f"track:{plan.video_id}:{evidence.target_id}"
            if not answer.ok:
                result.rejects.append((ref, Reason.UNUSABLE_MODEL_ANSWER, f"{answer.problem}: {answer.raw}"))
            elif evidence is None:
                result.descriptions.append(self.rows.scene(answer, video_id=plan.video_id))
            else:
                row = self.rows.instance(answer, evidence, video_id=plan.video_id, scope="track")
                row["attributes"].extend(person)
                result.descriptions.append(row)
        return result

    def _scene_job(self, plan: VideoPlan, frames: dict[str, np.ndarray]) -> Job:
        pictures = [frames[i] for i in plan.scene_frames]
        camera = camera_motion(pictures)
        categories = [boxes[0].get("category") for boxes in plan.tracks.values()]
        facts = (f"{len(plan.tracks)} tracked objects: "
                 + (", ".join(c or "unlabelled" for c in categories) or "none")
                 + f"; measured camera motion: {camera}")
        text = prompts.SCENE.render(n_images=len(pictures), kind="video", facts=facts)
        return Job(Request(messages=[user_message(text, len(pictures))],
                           images=[bounded(p) for p in pictures], json_schema=prompts.SCENE_SCHEMA,
                           template_answer=template.scene_answer(categories, camera, True)),
                   SCENE_PARSER)

    def _track_evidence(self, plan: VideoPlan, track_id: int, frames: dict[str, np.ndarray]) -> InstanceEvidence:
        boxes = plan.tracks[track_id]
        centres = [(b["bbox"][0] + b["bbox"][2] / 2, b["bbox"][1] + b["bbox"][3] / 2) for b in boxes]
        mean_x = float(np.mean([c[0] for c in centres]))
        mean_y = float(np.mean([c[1] for c in centres]))
        pixels, masks = [], []
        for box in plan.samples[track_id]:
            frame = frames[box["image_id"]]
            pixels.append(frame)
            masks.append(box_core(list(box["bbox"]), frame.shape[:2]))
        stacked = np.concatenate([p[m] for p, m in zip(pixels, masks, strict=True)])[None]
        middle = boxes[len(boxes) // 2]
        return InstanceEvidence(
            target_id=str(track_id), category=boxes[0].get("category"),
            colours=colour_names(stacked, np.ones(stacked.shape[:2], dtype=bool)),
            size=size_word(int(np.median([b["area"] for b in boxes])), plan.width * plan.height),
            position=position_words(mean_x, mean_y, plan.width, plan.height),
            box_normalised=normalised_box(list(middle["bbox"]), plan.width, plan.height),
            frames=len(boxes), motion=track_motion(centres, plan.width, plan.height))

    def _track_job(self, plan: VideoPlan, track_id: int, evidence: InstanceEvidence,
                   frames: dict[str, np.ndarray]) -> Job:
        crops = [crop(frames[b["image_id"]], list(b["bbox"])) for b in plan.samples[track_id]]
        text = prompts.INSTANCE.render(plural="s (crops of one track)", box=evidence.box_normalised,
                                       facts=instance_facts(evidence))
        return Job(Request(messages=[user_message(text, len(crops))], images=crops,
                           json_schema=prompts.INSTANCE_SCHEMA,
                           template_answer=template.instance_answer(evidence)), INSTANCE_PARSER)
