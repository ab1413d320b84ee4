"""Dataset-level plots (matplotlib, object API: no pyplot global state), as SVG data: URLs.

Each function takes small aggregates (counters) and returns a `Plot`; a plot without data is
returned with a note that says which config or stage would fill it.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (after choosing the headless backend)
from matplotlib.ticker import MaxNLocator  # noqa: E402

from pipelines.report.media import data_url  # noqa: E402
from schemas.contract import CAPABILITY_FIELDS, STYLES  # noqa: E402

matplotlib.rcParams["svg.hashsalt"] = "segcap-report"  # stable ids: same data, same file
POOL, SELECTED = "#4363d8", "#f58231"


@dataclass
class Plot:
    title: str
    url: str | None = None
    note: str | None = None
    wide: bool = False  # spans the whole row of the plot grid


def _svg(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg")
    return data_url("image/svg+xml", buffer.getvalue())


def bars_figure(title: str, counts: dict[int, int], xlabel: str, ylabel: str = "images") -> Figure:
    """A histogram over integer values. The x axis is numeric, not one category per value:
    with 50 distinct mask counts, one label per bar overlapped; the integer locator picks as
    many ticks as fit the axis."""
    figure = Figure(figsize=(5, 3))
    axes = figure.add_subplot()
    keys = sorted(counts)
    axes.bar(keys, [counts[k] for k in keys], width=0.8, color=POOL)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, nbins="auto"))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True, nbins="auto"))
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    figure.tight_layout()
    return figure


def _bars(title: str, counts: dict, xlabel: str, ylabel: str = "images") -> Plot:
    return Plot(title, _svg(bars_figure(title, counts, xlabel, ylabel)))


def granularity_histogram(by_def: dict[str, Counter]) -> Plot:
    title = "Granularity of mined pairs"
    if not by_def:
        return Plot(title, note="no granularity_pairs config: run `segcap mine` to fill it")
    figure = Figure(figsize=(5, 3))
    axes = figure.add_subplot()
    width = 0.05 / max(1, len(by_def))
    for i, (name, counts) in enumerate(sorted(by_def.items())):
        keys = sorted(counts)
        axes.bar([k + i * width for k in keys], [counts[k] for k in keys], width=width,
                 label=name, align="edge")
    axes.set_xlabel("granularity (0.1 = finest part, 1.0 = whole object)")
    axes.set_ylabel("pairs")
    axes.legend(title="definition")
    axes.set_title(title)
    return Plot(title, _svg(figure))


def masks_per_image(histogram: dict[int, int], has_segments: bool) -> Plot:
    title = "Masks per image"
    if not has_segments:
        return Plot(title, note="no segments config: run `segcap mine` or ingest ground truth")
    return _bars(title, histogram, "segments in the image")


def hierarchy_depth(histogram: dict[int, int], has_segments: bool) -> Plot:
    title = "Hierarchy depth"
    if not has_segments:
        return Plot(title, note="no segments config: nothing to nest")
    return _bars(title, histogram, "levels in the image's mask tree (0 = no masks)")


def capability_scores(pool: dict[str, Counter], selected: dict[str, Counter]) -> Plot:
    title = "Capability scores: pool vs selection"
    if not pool:
        return Plot(title, note="no capability scores: run `segcap score` to fill them")
    figure = Figure(figsize=(14, 5))
    for i, name in enumerate(CAPABILITY_FIELDS):
        axes = figure.add_subplot(2, 7, i + 1)
        for counts, colour, label, offset in ((pool.get(name, Counter()), POOL, "pool", -0.12),
                                              (selected.get(name, Counter()), SELECTED, "selected", 0.12)):
            total = sum(counts.values())
            if total:
                keys = sorted(counts)
                axes.bar([k + offset for k in keys], [counts[k] / total for k in keys],
                         width=0.24, color=colour, label=label)
        axes.set_title(name.replace("_", " "), fontsize=8)
        axes.tick_params(labelsize=7)
    figure.axes[0].legend(fontsize=7)
    figure.supylabel("share of samples")
    return Plot(title, _svg(figure), wide=True)


def style_mix(pool: Counter, selected: Counter) -> Plot:
    title = "Style mix: pool vs selection"
    if not pool:
        return Plot(title, note="no styles: run `segcap score` to tag instruction styles")
    names = [s for s in STYLES if s in pool] + sorted(set(pool) - set(STYLES))
    figure = Figure(figsize=(6, 0.35 * len(names) + 1.2))
    axes = figure.add_subplot()
    for counts, colour, label, offset in ((pool, POOL, "pool", -0.2), (selected, SELECTED, "selected", 0.2)):
        total = sum(counts.values()) or 1
        axes.barh([i + offset for i in range(len(names))], [counts[n] / total for n in names],
                  height=0.4, color=colour, label=label)
    axes.set_yticks(range(len(names)), names)
    axes.invert_yaxis()
    axes.set_xlabel("share of style tags")
    axes.legend()
    axes.set_title(title)
    return Plot(title, _svg(figure))


def rejects_by_reason(rejects: Counter, limit: int = 25) -> Plot:
    title = "Rejects by stage and reason"
    if not rejects:
        return Plot(title, note="no rejects: every input was kept (or no stage has run)")
    top = rejects.most_common(limit)
    figure = Figure(figsize=(6, 0.35 * len(top) + 1.2))
    axes = figure.add_subplot()
    axes.barh(range(len(top)), [n for _, n in top], color="#e6194b")
    axes.set_yticks(range(len(top)), [f"{stage}: {reason}" for (stage, reason), _ in top])
    axes.invert_yaxis()
    axes.set_xlabel("rows")
    axes.set_title(title if len(rejects) <= limit else f"{title} (top {limit})")
    return Plot(title, _svg(figure))


def stage_timing(stages: dict[str, dict]) -> Plot:
    title = "Seconds per stage (stats.json)"
    timed = {name: entry.get("seconds") for name, entry in stages.items()
             if isinstance(entry, dict) and isinstance(entry.get("seconds"), int | float)}
    if not timed:
        return Plot(title, note="no stats.json stage timings: no stage has recorded a run")
    figure = Figure(figsize=(6, 0.35 * len(timed) + 1.2))
    axes = figure.add_subplot()
    names = list(timed)
    axes.barh(range(len(names)), [timed[n] for n in names], color=POOL)
    axes.set_yticks(range(len(names)), names)
    axes.invert_yaxis()
    axes.set_xlabel("seconds")
    axes.set_title(title)
    return Plot(title, _svg(figure))
