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
    plural,
)

UNKNOWN = "unknown"


def colour_phrase(evidence: InstanceEvidence) -> str:
    names = [name for name, _ in evidence.colours]
    if not names:
        return ""
    return names[0] if len(names) == 1 else f"mainly {names[0]} with some {names[1]}"


def short_phrase(evidence: InstanceEvidence) -> str:
    colour = evidence.colours[0][0] if evidence.colours else ""
    return " ".join(w for w in (evidence.size, colour, evidence.label) if w)


def scene_answer(categories: list[str | None], camera: str, is_video: bool) -> str:
    counts: dict[str, int] = {}
    for category in categories:
        if category:
            counts[category] = counts.get(category, 0) + 1
    people = sum(n for c, n in counts.items() if is_person(c))
    crowd = crowd_density(people) if counts else UNKNOWN
    opening = f"A scene captured by a {camera} camera" if camera != UNKNOWN else "A scene"
    if counts:
        listed = join_words([f"{number_word(n)} {plural(c, n)}" for c, n in counts.items()])
        sentence = f"{opening} showing {listed}."
    elif categories:
        sentence = f"{opening} with {number_word(len(categories))} unlabelled {plural('region', len(categories))}."
    else:
        sentence = f"{opening} with no annotated objects."
    answer = {"sentence": sentence, "camera_motion": camera if is_video else UNKNOWN,
              "viewpoint": UNKNOWN, "weather": UNKNOWN, "time_of_day": UNKNOWN, "place": UNKNOWN,
              "crowd_density": crowd}
    return json.dumps(answer)


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
    if evidence.parts:
        total = sum(n for _, n in evidence.parts)
        sentences.append(f"It has {number_word(total)} annotated {plural('part', total)}: "
                         f"{count_phrase(evidence.parts)}.")
    person = is_person(evidence.category)
    action = evidence.motion if evidence.frames > 1 else UNKNOWN
    answer = {"short": article(short_phrase(evidence)), "detailed": " ".join(sentences[:3]),
              "category": evidence.category or UNKNOWN, "colors": colours,
              "clothing": UNKNOWN if person else "n/a", "action": action if person or evidence.frames > 1
              else "n/a"}
    return json.dumps(answer)


def tagged_caption(opening: str, phrases: list[str], positions: list[str]) -> str:
    """"<opening> <r1>phrase</r1> at the left, <r2>...</r2> and <r3>...</r3>." for the regions."""
    items = [f"<r{i + 1}>{phrase}</r{i + 1}>" + (f" at the {pos}" if pos else "")
             for i, (phrase, pos) in enumerate(zip(phrases, positions, strict=True))]
    return f"{opening} {join_words(items)}."


def root_caption(evidences: list[InstanceEvidence]) -> str:
    phrases = [article(short_phrase(e)) for e in evidences]
    return tagged_caption("The image shows", phrases, [e.position for e in evidences])


def subtree_caption(parent: InstanceEvidence, parts: list[InstanceEvidence]) -> str:
    counts = count_phrase([(name, n) for name, n in parent.parts])
    phrases = [f"the {short_phrase(p)}" for p in parts]
    lead = f"The {parent.label} has {counts}:"
    return tagged_caption(lead, phrases, [p.position for p in parts])
