"""Quarantine records: what a stage refused, why, and an excerpt of the input.

Every reason is a member of `Reason`, whose values are the strings stored in `rejects.reason`
and counted in stats.json. A reason that is not a member is refused by `reject_row`, so a typo
fails a test instead of becoming a new reason. README.md lists the reasons with their meanings
(a test compares that list with `MEANINGS`).
"""

from __future__ import annotations

from enum import StrEnum

RAW_EXCERPT_CHARS = 2000


class Reason(StrEnum):
    # the input's fields and ids
    BAD_FIELD = "bad_field"
    BAD_SPAN = "bad_span"
    BAD_CAPTION = "bad_caption"
    DUPLICATE_ID = "duplicate_id"
    DUPLICATE_SEQUENCE = "duplicate_sequence"
    UNKNOWN_IMAGE = "unknown_image"
    UNKNOWN_CATEGORY = "unknown_category"
    UNKNOWN_PARENT = "unknown_parent"
    UNKNOWN_ANNOTATION = "unknown_annotation"
    BOX_ONLY = "box_only"
    READER_BUG = "reader_bug"
    # masks and their hierarchy
    EMPTY_MASK = "empty_mask"
    BAD_SHAPE = "bad_shape"
    BAD_POLYGON = "bad_polygon"
    UNDECODABLE = "undecodable"
    SIZE_MISMATCH = "size_mismatch"
    MISSING_PARENT = "missing_parent"
    PARENT_CYCLE = "parent_cycle"
    NO_GT_SEGMENTS = "no_gt_segments"
    NO_MASKS = "no_masks"
    # images
    MISSING_IMAGE = "missing_image"
    PATH_ESCAPES_ROOT = "path_escapes_root"
    TOO_MANY_BYTES = "too_many_bytes"
    TOO_MANY_PIXELS = "too_many_pixels"
    OVER_PIXEL_BUDGET = "over_pixel_budget"
    TRUNCATED_IMAGE = "truncated_image"
    UNREADABLE_IMAGE = "unreadable_image"
    BAD_IMAGE = "bad_image"
    IMAGE_TOO_SMALL = "image_too_small"
    UNIFORM_IMAGE = "uniform_image"
    MISSING_FRAMES = "missing_frames"
    # conversations
    NON_STRING_TURN = "non_string_turn"
    NON_UTF8_TEXT = "non_utf8_text"
    EMPTY_TURN = "empty_turn"
    EMPTY_CONVERSATION = "empty_conversation"
    UNKNOWN_ROLE = "unknown_role"
    NO_ANSWER = "no_answer"
    # model answers
    UNUSABLE_MODEL_ANSWER = "unusable_model_answer"
    MARKERS_DO_NOT_MATCH_MASKS = "markers_do_not_match_masks"
    # exports
    UNSAFE_NAME = "unsafe_name"
    MISSING_SCENE_DESCRIPTION = "missing_scene_description"


MEANINGS: dict[Reason, str] = {
    Reason.BAD_FIELD: "a field is missing or has the wrong type or shape",
    Reason.BAD_SPAN: "a phrase's character span lies outside its caption or overlaps another",
    Reason.BAD_CAPTION: "the caption's phrase tags do not match the masks listed for it",
    Reason.DUPLICATE_ID: "an id an earlier item already used (the first one is kept)",
    Reason.DUPLICATE_SEQUENCE: "a per-detector copy of a MOT sequence already ingested",
    Reason.UNKNOWN_IMAGE: "an annotation names an image the source does not list",
    Reason.UNKNOWN_CATEGORY: "an annotation names a category the source does not define",
    Reason.UNKNOWN_PARENT: "a segment's parent is missing or was itself rejected",
    Reason.UNKNOWN_ANNOTATION: "a referring expression names annotations that are missing or unusable",
    Reason.BOX_ONLY: "an annotation has a bbox but no segmentation, and box masks are off",
    Reason.READER_BUG: "the reader failed on this item with an unexpected error (a bug, not bad input)",
    Reason.EMPTY_MASK: "a mask (or box) has no foreground pixels",
    Reason.BAD_SHAPE: "a mask array has the wrong number of dimensions",
    Reason.BAD_POLYGON: "a polygon has too few or non-finite coordinates, or no image size",
    Reason.UNDECODABLE: "a mask encoding (RLE, PNG, base64, MGLMM string) cannot be decoded",
    Reason.SIZE_MISMATCH: "a mask's or annotation's size differs from its image's",
    Reason.MISSING_PARENT: "a segment names a parent that is not in its image",
    Reason.PARENT_CYCLE: "a segment is its own ancestor",
    Reason.NO_GT_SEGMENTS: "gt mining was asked for an image without ground-truth segments",
    Reason.NO_MASKS: "mask mining produced no usable mask for the image",
    Reason.MISSING_IMAGE: "no image bytes and no image file where the row points",
    Reason.PATH_ESCAPES_ROOT: "an image path resolves outside its allowed root",
    Reason.TOO_MANY_BYTES: "an image file is larger than the byte limit",
    Reason.TOO_MANY_PIXELS: "an image has more pixels than the decode limit",
    Reason.OVER_PIXEL_BUDGET: "an image has more pixels than the mining stage's budget",
    Reason.TRUNCATED_IMAGE: "image data is incomplete or corrupt",
    Reason.UNREADABLE_IMAGE: "the data is not a decodable image, or has no pixels",
    Reason.BAD_IMAGE: "a sample's image could not be loaded for scoring",
    Reason.IMAGE_TOO_SMALL: "an image is smaller than the minimum mask area",
    Reason.UNIFORM_IMAGE: "every pixel has the same colour: nothing to segment",
    Reason.MISSING_FRAMES: "frames a video description needs could not be read",
    Reason.NON_STRING_TURN: "a conversation turn is not a {from, value} record with text",
    Reason.NON_UTF8_TEXT: "text that is not valid UTF-8",
    Reason.EMPTY_TURN: "a conversation turn has no text",
    Reason.EMPTY_CONVERSATION: "a conversation has no turns",
    Reason.UNKNOWN_ROLE: "a turn's role is not human or gpt",
    Reason.NO_ANSWER: "a conversation has no answer turn",
    Reason.UNUSABLE_MODEL_ANSWER: "the model's answer could not be parsed or used",
    Reason.MARKERS_DO_NOT_MATCH_MASKS: "the model's mask markers do not match the masks it was shown",
    Reason.UNSAFE_NAME: "a name that would not be a plain file or folder name in the export",
    Reason.MISSING_SCENE_DESCRIPTION: "a video has no scene description to export",
}


def reject_row(stage: str, input_ref: str, reason: Reason | str, raw: object = "") -> dict:
    """One `rejects` row; an unknown reason raises ValueError (a typo, or a reason to add here)."""
    reason = Reason(reason)
    text = raw if isinstance(raw, str) else repr(raw)
    if len(text) > RAW_EXCERPT_CHARS:
        text = text[:RAW_EXCERPT_CHARS] + f"... [{len(text) - RAW_EXCERPT_CHARS} more chars]"
    return {"stage": stage, "input_ref": str(input_ref), "reason": str(reason), "raw": text}
