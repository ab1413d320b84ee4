"""Foundation-test fixtures; the helpers live in foundation_fixtures.py (importable from here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # importlib mode: make foundation_fixtures importable

from foundation_fixtures import photo, save  # noqa: E402


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    root = tmp_path / "imgs"
    save(root / "astronaut.png", photo("astronaut"))
    save(root / "sub" / "coffee.jpg", photo("coffee"))
    save(root / "chelsea.png", photo("chelsea"))
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    return root
