"""Conformance-suite fixtures; the writers live in conformance_fixtures.py (importable from here)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # importlib mode: make the helpers importable
