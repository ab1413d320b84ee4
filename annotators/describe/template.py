"""Template answers written from evidence only (the weight-free describer and the fallback).

Each function returns the same text form an LMM is asked for (JSON for descriptions, `<rK>` tags
for grounded captions), so template answers go through exactly the same parsing and checks.
Unknown facts are written "unknown", never guessed.
"""

from __future__ import annotations

import json

from annotators.describe.evidence import (
    InstanceEvidence,
    article,
    count_phrase,
    crowd_density,
    is_person,
    join_words,
    number_word,
    part_counts,
    plural,
)
from schemas.grounding import text_label

UNKNOWN = "unknown"


def colour_phrase(evidence: InstanceEvidence) -> str:
    names = [name for name, _ in evidence.colours]
    if not names:
        return ""
    return names[0] if len(names) == 1 else f"mainly {names[0]} with some {names[1]}"


def short_phrase(evidence: InstanceEvidence) -> str:
    colour = evidence.colours[0][0] if evidence.colours else ""
    return " ".join(w for w in (evidence.size, colour, evidence.label) if w)


def scene_answer(categories: list[str | None], camera: str, is_video: bool, *,
                 crowds: list[str] | tuple = (), mined: bool = False) -> str:
    """The scene sentence. `categories`: one entry per annotated instance (never per mask of a
    mined hierarchy); `crowds`: classes of crowd regions (each several objects, never counted as
    one); `mined`: the image has no annotations, only mined regions, which are not objects."""
    counts: dict[str, int] = {}
    for category in categories:
        name = text_label(category)
        if name:
            counts[name] = counts.get(name, 0) + 1
    people = sum(n for c, n in counts.items() if is_person(c))
    crowd = crowd_density(people) if counts else UNKNOWN
    opening = f"A scene captured by a {camera} camera" if camera != UNKNOWN else "A scene"
    unlabelled = sum(1 for c in categories if not text_label(c))
    if mined:
        sentence = f"{opening} without annotated objects."
    elif counts:
        listed = [f"{number_word(n)} {plural(c, n)}" for c, n in counts.items()]
        if unlabelled:
            listed.append(f"{number_word(unlabelled)} unlabelled {plural('region', unlabelled)}")
        sentence = f"{opening} showing {join_words(listed)}"
    elif categories:
        sentence = f"{opening} with {number_word(len(categories))} unlabelled {plural('region', len(categories))}"
    else:
        sentence = f"{opening} with no annotated objects"
    if crowds and not mined:
        groups = [f"a crowd of {plural(text_label(c) or 'object', 2)}" for c in dict.fromkeys(crowds)]
        sentence += f", and {join_words(groups)}"
    if not sentence.endswith("."):
        sentence += "."
    answer = {"sentence": sentence, "camera_motion": camera if is_video else UNKNOWN,
              "viewpoint": UNKNOWN, "weather": UNKNOWN, "time_of_day": UNKNOWN, "place": UNKNOWN,
              "crowd_density": crowd}
    return json.dumps(answer)


def parts_sentence(evidence: InstanceEvidence) -> str | None:
    """What is known of the parts: their names when annotated, only their number otherwise."""
    if not evidence.parts:
        return None
    total = sum(n for _, n in evidence.parts)
    named = [(name, n) for name, n in evidence.parts if name != "part"]
    if evidence.mined or not named:
        return f"It has {number_word(total)} {plural('part', total)}."
    return (f"It has {number_word(total)} annotated {plural('part', total)}: "
            f"{count_phrase(evidence.parts)}.")


def instance_answer(evidence: InstanceEvidence) -> str:
    colours = [name for name, _ in evidence.colours]
    first = f"{article(evidence.label).capitalize()}"
    colour = colour_phrase(evidence)
    sentences = []
    if evidence.frames > 1:
        sentences.append(f"{first}{', ' + colour + ',' if colour else ''} tracked over "
                         f"{evidence.frames} frames around the {evidence.position} of the frame.")
        sentences.append(f"Over the track it {evidence.motion}.")
    else:
        sentences.append(f"{first}{', ' + colour + ',' if colour else ''} at the "
                         f"{evidence.position} of the image.")
        sentences.append(f"It is {evidence.size} in the frame.")
    parts = parts_sentence(evidence)
    if parts:
        sentences.append(parts)
    person = is_person(evidence.category)
    action = evidence.motion if evidence.frames > 1 else UNKNOWN
    answer = {"short": article(short_phrase(evidence)), "detailed": " ".join(sentences[:3]),
              "category": evidence.category or UNKNOWN, "colors": colours,
              "clothing": UNKNOWN if person else "n/a", "action": action if person or evidence.frames > 1
              else "n/a"}
    return json.dumps(answer)


def tagged_caption(opening: str, phrases: list[str], positions: list[str]) -> str:
    """"<opening> <r1>phrase</r1> at the left, <r2>...</r2> and <r3>...</r3>." for the regions.

    A phrase that occurs more than once carries its position inside the tag ("a small grey part
    at the top left"), so no two grounded phrases of one caption read the same.
    """
    repeated = {p for p in phrases if phrases.count(p) > 1}
    items = []
    for i, (phrase, pos) in enumerate(zip(phrases, positions, strict=True)):
        inside = phrase in repeated and pos
        tagged = f"<r{i + 1}>{phrase}{' at the ' + pos if inside else ''}</r{i + 1}>"
        items.append(tagged + (f" at the {pos}" if pos and not inside else ""))
    return f"{opening} {join_words(items)}."


def root_caption(evidences: list[InstanceEvidence]) -> str:
    phrases = [article(short_phrase(e)) for e in evidences]
    return tagged_caption("The image shows", phrases, [e.position for e in evidences])


def subtree_caption(parent: InstanceEvidence, parts: list[InstanceEvidence]) -> str:
    counts = count_phrase(part_counts([p.label for p in parts]))
    phrases = [f"the {short_phrase(p)}" for p in parts]
    lead = f"The {parent.label} has {counts}:"
    return tagged_caption(lead, phrases, [p.position for p in parts])


def distinct_regions(evidences: list[InstanceEvidence]) -> list[int]:
    """Indices of the regions a caption names: a region whose phrase and position both repeat an
    earlier one's would be indistinguishable in the text, so it is left out of that caption."""
    seen, keep = set(), []
    for index, evidence in enumerate(evidences):
        key = (short_phrase(evidence), evidence.position)
        if key not in seen:
            seen.add(key)
            keep.append(index)
    return keep
