"""Pixel budgets: how many pixels one image may have where the pipeline decodes or mines it.

Two budgets, for two reasons; every default and literal in the code names one of these.
"""

from __future__ import annotations

# Refused before decoding, wherever image bytes are opened (ingest, mine, score, dedup, report):
# a decompression bomb (a small file that expands to gigapixels) must fail cleanly instead of
# exhausting memory. 64 MP holds any real photo (a 50 MP camera frame) while one decoded RGB
# copy stays under 200 MB. One value everywhere, so an image ingest accepted is never refused
# later by a stage that reads it back.
DECODE_MAX_PIXELS = 64_000_000

# Mining works on at most 2048 x 2048 pixels (larger images are downscaled or rejected, see
# MineOptions.over_budget): mask proposals cost time and memory per pixel, and the finer detail
# of a bigger image adds no granularity level worth the cost.
MINING_MAX_PIXELS = 2048 * 2048
