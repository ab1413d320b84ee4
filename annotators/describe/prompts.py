"""Prompt templates (id + text) and the JSON schemas of the answers they ask for.

Each template's id and sha256 go into provenance; changing a template's text changes its sha,
which changes the cache key, so cached answers of an old prompt are never reused.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.provenance import prompt_sha256


@dataclass(frozen=True)
class Prompt:
    prompt_id: str
    text: str

    @property
    def sha256(self) -> str:
        return prompt_sha256(self.text)

    def render(self, **values) -> str:
        return self.text.format(**values)


SCENE_ATTRIBUTES = ("camera_motion", "viewpoint", "weather", "time_of_day", "place", "crowd_density")

SCENE = Prompt("scene-v1", (
    "You see {n_images} frame(s) of one {kind}. Describe the scene as JSON with the keys "
    '"sentence" (one sentence in the style "A scene captured by a static camera from a medium '
    'viewpoint on a sunny day."), "camera_motion" ("static" or "moving"), "viewpoint" ("low", '
    '"medium" or "high"), "weather", "time_of_day", "place", "crowd_density" ("no people", '
    '"sparse", "moderate" or "dense"). Write "unknown" for what the image does not show. '
    "Known facts: {facts}"))

SCENE_SCHEMA = {
    "type": "object",
    "properties": {"sentence": {"type": "string"},
                   **{name: {"type": "string"} for name in SCENE_ATTRIBUTES}},
    "required": ["sentence", *SCENE_ATTRIBUTES],
}

# MGLMM's per-mask annotation prompt: the object highlighted plus its normalised box.
INSTANCE = Prompt("instance-v1", (
    "The highlighted object in the image{plural} is at the normalised box (x1, y1, w, h) = "
    "{box}. Known facts: {facts}. Answer as JSON with the keys "
    '"short" (a Short Description of a few words), "detailed" (a Detailed Caption of 2-3 '
    'sentences), "category", "colors" (a list of colour names), "clothing" and "action" (for a '
    'person; otherwise "n/a").'))

INSTANCE_SCHEMA = {
    "type": "object",
    "properties": {
        "short": {"type": "string"}, "detailed": {"type": "string"},
        "category": {"type": "string"}, "colors": {"type": "array", "items": {"type": "string"}},
        "clothing": {"type": "string"}, "action": {"type": "string"},
    },
    "required": ["short", "detailed", "category", "colors"],
}

# MGLMM's fixed SegCap questions (root: all objects; subtree: the parts of one object).
ROOT_QUESTION = Prompt("mglmm-root-v1", (
    "Please provide a detailed description of all the objects in the image. Please respond "
    "with interleaved segmentation masks for the corresponding phrases."))
SUBTREE_QUESTION = Prompt("mglmm-subtree-v1", (
    "Please provide a detailed description of all the parts for {label} in the image. Please "
    "respond with interleaved segmentation masks for the corresponding phrases."))

# What the LMM is asked when it writes a grounded caption: every region is tagged by its key,
# and the keys' order in the caption decides the masks' order (GLaMM/MGSC `<KEY>` style).
GROUNDED_CAPTION = Prompt("grounded-caption-v1", (
    "{question}\nThe regions are:\n{regions}\nWrite one caption of 1-3 sentences that mentions "
    "every region exactly once, wrapping the words for region K as <K>words</K> (for example "
    "<r1>a red car</r1>). Use only these tags."))

REPAIR = Prompt("repair-v1", (
    "Your answer could not be used: {problem}. Answer again, following the instructions exactly."))

REFERRING_QUESTION = Prompt("referring-v1", "Please segment {expression} in this image.")
REGION_QUESTION = Prompt("region-caption-v1",
                         "Can you describe the region at the normalised box {box} in detail?")
PANOPTIC_QUESTION = Prompt("panoptic-v1", "Please segment all the objects in this image.")
