"""`segcap run --out` moves everything a run writes, and recipe paths follow the recipe file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def make_project(root: Path) -> Path:
    """recipes/r.yaml with inputs, output and export given relative to the recipe file."""
    (root / "data" / "imgs").mkdir(parents=True)
    pixels = np.random.default_rng(1).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(root / "data" / "imgs" / "a.png")
    (root / "recipes").mkdir()
    recipe = root / "recipes" / "r.yaml"
    recipe.write_text("name: outtest\noutput: ../made-out\nexport: ../made-export\n"
                      "inputs:\n  - {format: images, source: ../data/imgs}\n"
                      "ray: {enabled: false}\n")
    return recipe


def test_out_moves_the_export_beside_it(tmp_path):
    from flows.commands.run import load_or_fail

    recipe = make_project(tmp_path)
    plain = load_or_fail(recipe, None)
    assert plain.output.resolve() == tmp_path / "made-out"
    assert plain.export.resolve() == tmp_path / "made-export"
    moved = load_or_fail(recipe, tmp_path / "elsewhere" / "ds")
    assert moved.output == tmp_path / "elsewhere" / "ds"
    assert moved.export == tmp_path / "elsewhere" / "ds-export"


def test_run_from_another_folder_writes_only_under_out(tmp_path):
    recipe = make_project(tmp_path / "project")
    cwd = tmp_path / "somewhere-else"
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "PREFECT_HOME": str(tmp_path / "prefect-home"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_API_URL": "", "COLUMNS": "60"}
    before = sorted(p.name for p in (tmp_path / "project").iterdir())
    result = subprocess.run([sys.executable, "-m", "flows.cli", "run", str(recipe), "--out", "X"],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert (cwd / "X" / "images").is_dir() and (cwd / "X-export" / "README.md").is_file()
    # nothing appeared beside the recipe's project: not its output, not its export
    assert sorted(p.name for p in (tmp_path / "project").iterdir()) == before
    # the summary names the export path whole, even in a 60-column terminal
    assert f"export at {cwd / 'X-export'}" in " ".join(result.stdout.split()).replace(" ", "") \
        or str(cwd / "X-export") in result.stdout.replace("\n", "")
