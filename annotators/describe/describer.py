"""The image describer: scene and instance descriptions, then grounded root/subtree captions,
then the derived tasks (panoptic, referring, region caption), for a batch of images at once.

Every model call of a batch goes to the backend as one list (real batching); every answer is
checked, repaired or replaced by its template answer (see `asking.py`); every segcap row is
checked for marker/mask alignment before it is returned.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from annotators.backends.base import Backend, Request, user_message
from annotators.describe import prompts, template
from annotators.describe.asking import Answer, Job, ask_all, json_parser, tagged_caption_parser
from annotators.describe.evidence import (
    InstanceEvidence,
    colour_names,
    mask_centre,
    normalised_box,
    part_counts,
    position_words,
    size_word,
)
from annotators.describe.rows import RowMaker
from annotators.describe.segcap import (
    definite,
    panoptic_answer,
    referring_answer,
    region_answer,
    row_problems,
    segcap_row,
)
from annotators.describe.sources import ANNOTATED, pick_mask_source
from annotators.describe.visual import bounded, highlight
from schemas.grounding import text_label
from schemas.masks import decode
from schemas.rejects import Reason

TASKS = ("root", "subtree", "panoptic", "referring", "region_caption")


@dataclass
class ImageItem:
    image_id: str
    pixels: np.ndarray
    segments: list[dict]  # `segments` rows of this image
    source: str = ""


@dataclass
class DescribeResult:
    descriptions: list[dict] = field(default_factory=list)
    segcap: list[dict] = field(default_factory=list)
    rejects: list[tuple[str, str, str]] = field(default_factory=list)  # (input_ref, reason, raw)
    counters: Counter = field(default_factory=Counter)  # which mask source, what was left out

    def extend(self, other: DescribeResult) -> None:
        self.descriptions += other.descriptions
        self.segcap += other.segcap
        self.rejects += other.rejects
        self.counters.update(other.counters)


@dataclass
class _Image:
    """What is described of one image: its instances from one mask source, and the scene facts."""

    instances: list[_Instance]
    categories: list[str | None]  # every non-crowd root of that source (scene counts)
    crowds: list[str]
    mined: bool


@dataclass
class _Instance:
    segment: dict
    mask: np.ndarray
    evidence: InstanceEvidence
    parts: list[_Instance] = field(default_factory=list)
    description: dict | None = None


SCENE_PARSER = json_parser(("sentence", *prompts.SCENE_ATTRIBUTES))
INSTANCE_PARSER = json_parser(("short", "detailed", "category", "colors"), ("colors",))


class ImageDescriber:
    def __init__(self, backend: Backend, *, max_retries: int = 2, fallback: bool = True,
                 max_instances: int = 20, max_subtrees: int = 3, tasks: tuple[str, ...] = TASKS,
                 mask_source: str = "auto"):
        self.backend, self.max_retries, self.fallback = backend, max_retries, fallback
        self.max_instances, self.max_subtrees, self.tasks = max_instances, max_subtrees, tasks
        self.mask_source = mask_source
        self.rows = RowMaker(backend)

    def describe(self, items: list[ImageItem]) -> DescribeResult:
        result = DescribeResult()
        described = [self._image(item, result) for item in items]
        trees = [image.instances for image in described]
        jobs, owners = [], []
        for item, image, instances in zip(items, described, trees, strict=True):
            jobs.append(self._scene_job(item, image))
            owners.append((item, None))
            for instance in instances:
                jobs.append(self._instance_job(item, instance))
                owners.append((item, instance))
        answers = ask_all(self.backend, jobs, max_retries=self.max_retries, fallback=self.fallback)
        for (item, instance), answer in zip(owners, answers, strict=True):
            if instance is None:
                self._keep(result, answer, f"scene:{item.image_id}",
                           lambda a, it=item: self.rows.scene(a, image_id=it.image_id))
            else:
                row = self._keep(result, answer, f"instance:{instance.segment['segment_id']}",
                                 lambda a, it=item, ins=instance: self.rows.instance(
                                     a, ins.evidence, image_id=it.image_id))
                instance.description = row
        self._captions(items, trees, result)
        for item, instances in zip(items, trees, strict=True):
            self._derived(item, instances, result)
        return result

    # ---- evidence --------------------------------------------------------------------------
    def _image(self, item: ImageItem, result: DescribeResult) -> _Image:
        """One mask source per image (see sources.py); crowd regions are never an instance."""
        source, segments = pick_mask_source(item.segments, self.mask_source)
        result.counters[f"images_described_from.{source or 'no_masks'}"] += 1
        mined = source is not None and source not in ANNOTATED
        height, width = item.pixels.shape[:2]
        all_roots = [s for s in segments if s["level"] == 0]
        crowds = [s for s in all_roots if s.get("is_crowd")]
        if crowds:
            result.counters["crowd_regions_not_described"] += len(crowds)
        roots = [s for s in all_roots if not s.get("is_crowd")]
        categories = [s.get("category") for s in sorted(roots, key=lambda s: s["segment_id"])]
        roots = sorted(roots, key=lambda s: -int(s["area"]))[: self.max_instances]
        by_parent: dict[str, list[dict]] = {}
        for segment in segments:
            if segment["level"] == 1 and segment.get("parent_id"):
                by_parent.setdefault(segment["parent_id"], []).append(segment)
        instances = []
        for segment in sorted(roots, key=lambda s: s["segment_id"]):
            instance = self._instance(item.pixels, segment, width, height, mined=mined)
            if instance is None:
                continue
            for part in by_parent.get(segment["segment_id"], []):
                made = self._instance(item.pixels, part, width, height, mined=mined, is_part=True)
                if made is not None:
                    instance.parts.append(made)
            instance.evidence.parts = part_counts([p.evidence.label for p in instance.parts])
            instances.append(instance)
        return _Image(instances, categories, [c.get("category") or "" for c in crowds], mined)

    @staticmethod
    def _instance(pixels, segment: dict, width: int, height: int, *, mined: bool = False,
                  is_part: bool = False) -> _Instance | None:
        mask = decode(segment["mask"]).astype(bool)
        if mask.shape != (height, width) or not mask.any():
            return None
        cx, cy = mask_centre(mask)
        evidence = InstanceEvidence(
            target_id=segment["segment_id"], category=segment.get("category"),
            colours=colour_names(pixels, mask), size=size_word(int(mask.sum()), width * height),
            position=position_words(cx, cy, width, height),
            box_normalised=normalised_box(list(segment["bbox"]), width, height),
            mined=mined, is_part=is_part)
        return _Instance(segment, mask, evidence)

    # ---- jobs ------------------------------------------------------------------------------
    def _scene_job(self, item: ImageItem, image: _Image) -> Job:
        categories = image.categories
        if image.mined:
            facts = "no annotated objects (only automatically mined regions)"
        else:
            facts = f"{len(categories)} annotated objects: " + (
                ", ".join(text_label(c) or "unlabelled" for c in categories) or "none")
        if image.crowds and not image.mined:
            facts += "; crowd regions (several objects each): " + ", ".join(
                text_label(c) or "unlabelled" for c in image.crowds)
        text = prompts.SCENE.render(n_images=1, kind="image", facts=facts)
        answer = template.scene_answer(categories, template.UNKNOWN, False, crowds=image.crowds,
                                       mined=image.mined)
        return Job(Request(messages=[user_message(text, 1)], images=[bounded(item.pixels)],
                           json_schema=prompts.SCENE_SCHEMA, template_answer=answer), SCENE_PARSER)

    def _instance_job(self, item: ImageItem, instance: _Instance) -> Job:
        evidence = instance.evidence
        facts = instance_facts(evidence)
        text = prompts.INSTANCE.render(plural="", box=evidence.box_normalised, facts=facts)
        return Job(Request(messages=[user_message(text, 1)],
                           images=[highlight(item.pixels, instance.mask)],
                           json_schema=prompts.INSTANCE_SCHEMA,
                           template_answer=template.instance_answer(evidence)), INSTANCE_PARSER)

    def _keep(self, result: DescribeResult, answer: Answer, ref: str, make) -> dict | None:
        if not answer.ok:
            result.rejects.append((ref, Reason.UNUSABLE_MODEL_ANSWER, f"{answer.problem}: {answer.raw}"))
            return None
        row = make(answer)
        result.descriptions.append(row)
        return row

    # ---- grounded captions ---------------------------------------------------------------
    def _captions(self, items: list[ImageItem], trees: list[list[_Instance]], result: DescribeResult) -> None:
        jobs, plans = [], []
        for item, instances in zip(items, trees, strict=True):
            if "root" in self.tasks and instances:
                question = prompts.ROOT_QUESTION.render()
                named = _distinct(instances)
                jobs.append(self._caption_job(item, question, named,
                                              template.root_caption([i.evidence for i in named])))
                plans.append((item, "root", None, question, named))
            if "subtree" not in self.tasks:
                continue
            with_parts = sorted((i for i in instances if i.parts), key=lambda i: -int(i.segment["area"]))
            for instance in with_parts[: self.max_subtrees]:
                label = instance.evidence.label
                question = prompts.SUBTREE_QUESTION.render(label=f"the {label}")
                parts = _distinct(instance.parts)
                jobs.append(self._caption_job(item, question, parts,
                                              template.subtree_caption(instance.evidence, [p.evidence for p in parts]),
                                              focus=instance.mask))
                plans.append((item, "subtree", label, question, parts))
        answers = ask_all(self.backend, jobs, max_retries=self.max_retries, fallback=self.fallback)
        for (item, granularity, subtree, question, regions), answer in zip(plans, answers, strict=True):
            ref = f"{granularity}:{item.image_id}:{subtree or ''}"
            if not answer.ok:
                result.rejects.append((ref, Reason.UNUSABLE_MODEL_ANSWER, f"{answer.problem}: {answer.raw}"))
                continue
            caption = answer.value
            by_key = {f"r{k + 1}": region for k, region in enumerate(regions)}
            ordered = [by_key[key] for key in caption.keys]
            prompt = prompts.ROOT_QUESTION if granularity == "root" else prompts.SUBTREE_QUESTION
            row = segcap_row(
                image_id=item.image_id, task="mgsc", granularity=granularity,
                subtree=subtree, question=question, answer=caption.text,
                masks=[r.segment["mask"] for r in ordered],
                labels=[r.evidence.label for r in ordered], spans=caption.spans,
                segment_ids=[r.segment["segment_id"] for r in ordered], source=item.source,
                provenance=self.rows.provenance(f"describe/{granularity}", prompt, answer))
            self._add_checked(result, row, ref, caption.text)

    def _caption_job(self, item: ImageItem, question: str, regions: list[_Instance], answer: str,
                     focus: np.ndarray | None = None) -> Job:
        lines = []
        for k, region in enumerate(regions):
            short = (region.description or {}).get("short") or template.short_phrase(region.evidence)
            lines.append(f"r{k + 1}: {region.evidence.label} at box {region.evidence.box_normalised}, "
                         f"{short}")
        text = prompts.GROUNDED_CAPTION.render(question=question, regions="\n".join(lines))
        pixels = bounded(item.pixels) if focus is None else highlight(item.pixels, focus)
        keys = [f"r{k + 1}" for k in range(len(regions))]
        return Job(Request(messages=[user_message(text, 1)], images=[pixels], template_answer=answer),
                   tagged_caption_parser(keys))

    @staticmethod
    def _add_checked(result: DescribeResult, row: dict, ref: str, raw: str) -> None:
        problems = row_problems(row)
        if problems:
            result.rejects.append((ref, Reason.MARKERS_DO_NOT_MATCH_MASKS, "; ".join(problems) + ": " + raw))
        else:
            result.segcap.append(row)

    # ---- derived tasks -------------------------------------------------------------------
    def _derived(self, item: ImageItem, instances: list[_Instance], result: DescribeResult) -> None:
        # Panoptic as MGLMM: grouped by class (we have names, not ids), cleaned names, repeats
        # numbered; regions without a class are not named in a panoptic answer.
        labelled = sorted((i for i in instances if i.evidence.category),
                          key=lambda i: i.evidence.label)
        if "panoptic" in self.tasks and labelled:
            text = panoptic_answer([i.evidence.label for i in labelled])
            self._add_checked(result, self._derived_row(
                item, "panoptic", prompts.PANOPTIC_QUESTION.render(), text, labelled,
                self.rows.rules_provenance("describe/panoptic", prompts.PANOPTIC_QUESTION)),
                f"panoptic:{item.image_id}", text.text)
        described = [i for i in instances if i.description is not None]
        shorts = [definite(i.description["short"]).lower() for i in described]
        for instance, short in zip(described, shorts, strict=True):
            if "referring" in self.tasks and shorts.count(short) == 1:
                self._add_instance_task(
                    result, item, instance, "referring", prompts.REFERRING_QUESTION,
                    prompts.REFERRING_QUESTION.render(expression=short), referring_answer(short))
            if "region_caption" in self.tasks:
                self._add_instance_task(
                    result, item, instance, "region_caption", prompts.REGION_QUESTION,
                    prompts.REGION_QUESTION.render(box=instance.evidence.box_normalised),
                    region_answer(instance.description["short"], instance.description["detailed"]))

    def _add_instance_task(self, result: DescribeResult, item: ImageItem, instance: _Instance,
                           task: str, prompt, question: str, text) -> None:
        """A one-region sample derived from an instance description, keeping its provenance."""
        provenance = {**instance.description["provenance"], "annotator": f"describe/{task}",
                      "prompt_id": prompt.prompt_id, "prompt_sha256": prompt.sha256}
        self._add_checked(result, self._derived_row(item, task, question, text, [instance], provenance),
                          f"{task}:{instance.segment['segment_id']}", text.text)

    @staticmethod
    def _derived_row(item: ImageItem, task: str, question: str, text, regions: list[_Instance],
                     provenance: dict) -> dict:
        return segcap_row(image_id=item.image_id, task=task, granularity="root", subtree=None,
                          question=question, answer=text.text,
                          masks=[r.segment["mask"] for r in regions],
                          labels=(list(text.phrases) if task == "panoptic"  # numbered names
                                  else [r.evidence.label for r in regions]), spans=text.spans,
                          segment_ids=[r.segment["segment_id"] for r in regions],
                          source=item.source, provenance=provenance)


def _distinct(regions: list[_Instance]) -> list[_Instance]:
    return [regions[k] for k in template.distinct_regions([r.evidence for r in regions])]


def instance_facts(evidence: InstanceEvidence) -> str:
    unknown = "unknown (an automatically mined region)" if evidence.mined else "unknown"
    facts = [f"category {text_label(evidence.category) or unknown}",
             "colours " + (", ".join(n for n, _ in evidence.colours) or "unknown"),
             f"{evidence.size}, at the {evidence.position}"]
    if evidence.parts:
        facts.append("parts: " + ", ".join(f"{n} x {name}" for name, n in evidence.parts))
    if evidence.frames > 1:
        facts.append(f"tracked over {evidence.frames} frames, {evidence.motion}")
    return "; ".join(facts)
