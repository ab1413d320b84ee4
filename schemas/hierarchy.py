"""Parent links -> a forest, under one rule for every producer of a `segments` hierarchy.

A node belongs to the forest when following its parents reaches a root (parent None). Otherwise
it is broken, for the reason its chain of parents ends in:
- "missing_parent": a parent id that is not among the nodes;
- "parent_cycle": the chain loops (a node that is its own parent included).
A node below a broken one is broken for the same reason: a part cannot hang under nothing.
Ingest rejects broken annotations one by one; `from_segment_rows` refuses the whole image.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from schemas.rejects import Reason

MISSING_PARENT = Reason.MISSING_PARENT
PARENT_CYCLE = Reason.PARENT_CYCLE


@dataclass
class Forest:
    depth: dict[str, int]  # node -> level (0 = root), nodes of the forest only
    broken: dict[str, str]  # node -> MISSING_PARENT | PARENT_CYCLE


def resolve(parents: Mapping[str, str | None]) -> Forest:
    """{node: parent or None} -> each node's depth, or why it has none. Linear in the nodes."""
    depth: dict[str, int] = {}
    broken: dict[str, str] = {}
    for start in parents:
        chain: list[str] = []
        on_chain: set[str] = set()
        node: str | None = start
        while (node is not None and node in parents and node not in depth
               and node not in broken and node not in on_chain):
            chain.append(node)
            on_chain.add(node)
            node = parents[node]
        if node is None or node in depth:
            level = -1 if node is None else depth[node]
            for member in reversed(chain):
                level += 1
                depth[member] = level
            continue
        reason = (broken[node] if node in broken
                  else PARENT_CYCLE if node in on_chain else MISSING_PARENT)
        for member in chain:
            broken[member] = reason
    return Forest(depth, broken)
