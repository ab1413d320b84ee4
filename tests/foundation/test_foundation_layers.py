"""The layers the folders show: imports go one way, across packages and inside `pipelines/`.

schemas <- annotators <- pipelines <- flows; inside pipelines, store <- engine <- stages,
exports <- training, and no two folders import each other (statically, at any depth).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYERS = ["schemas", "annotators", "pipelines", "flows"]
# What each folder of pipelines/ may import from its siblings (everything else is refused).
PIPELINES_MAY_IMPORT = {
    "store": set(),
    "engine": {"store"},
    "ingest": {"store"},
    "stages": {"engine", "store", "ingest"},
    "exports": {"engine", "store"},
    "training": {"exports", "store"},
    "report": {"store"},
}


def _imports(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
    return modules


def test_top_level_packages_import_one_way():
    problems = []
    for rank, package in enumerate(LAYERS):
        for path in (REPO / package).rglob("*.py"):
            for module in _imports(path):
                top = module.split(".")[0]
                if top in LAYERS and LAYERS.index(top) > rank:
                    problems.append(f"{path.relative_to(REPO)} imports {module}")
    assert problems == []


def test_pipelines_folders_import_one_way_without_cycles():
    edges: dict[str, set[str]] = defaultdict(set)
    problems = []
    for path in (REPO / "pipelines").rglob("*.py"):
        parts = path.relative_to(REPO / "pipelines").parts
        if len(parts) < 2:  # pipelines/__init__.py
            continue
        folder = parts[0]
        assert folder in PIPELINES_MAY_IMPORT, f"new folder pipelines/{folder}: give it a place here"
        for module in _imports(path):
            names = module.split(".")
            if names[0] != "pipelines" or len(names) < 2 or names[1] == folder:
                continue
            edges[folder].add(names[1])
            if names[1] not in PIPELINES_MAY_IMPORT[folder]:
                problems.append(f"{path.relative_to(REPO)} imports {module}")
    assert problems == []
    for folder, targets in edges.items():  # the allowed table itself must stay acyclic
        for target in targets:
            assert folder not in edges.get(target, set()), f"{folder} <-> {target}"
