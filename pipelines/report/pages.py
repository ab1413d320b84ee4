"""HTML for the report: the page frame, navigation, filters, the overview and the cards.

Plain f-strings with `html.escape` on every value from the data: the report is static and the
markup is small, so a template engine would add a dependency without removing any code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape

from pipelines.report.cards import Card, Instruction, Sample
from pipelines.report.plots import Plot
from schemas.contract import CAPABILITY_FIELDS

SCORE_MAX = 5.0  # the scorers' scale (integers 0-5); larger values stretch the bar scale


@dataclass
class PageLinks:
    """Where page files live relative to each other: page 1 is the main file, others beside it."""

    main_name: str  # e.g. report.html
    folder_name: str  # e.g. report_files

    def href(self, page: int, from_page: int) -> str:
        if page == 1:
            return self.main_name if from_page == 1 else f"../{self.main_name}"
        name = f"page-{page:04d}.html"
        return f"{self.folder_name}/{name}" if from_page == 1 else name

    def assets(self, from_page: int) -> str:
        return f"{self.folder_name}/" if from_page == 1 else ""


def _json_script(value) -> str:
    # "</" inside a <script> element would end it early; JSON allows "<\/" for the same text.
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def navigation(page: int, pages: int, links: PageLinks) -> str:
    def link(target: int, text: str, cls: str) -> str:
        if target < 1 or target > pages or target == page:
            return f'<span class="{cls} disabled">{text}</span>'
        return f'<a class="{cls}" href="{links.href(target, page)}">{text}</a>'

    options = "".join(
        f'<option value="{links.href(p, page)}"{" selected" if p == page else ""}>page {p}</option>'
        for p in range(1, pages + 1))
    return (f'<nav class="pager">{link(1, "« first", "first")}{link(page - 1, "‹ prev", "prev")}'
            f'<span class="where">page {page} of {pages}</span>'
            f'{link(page + 1, "next ›", "next")}{link(pages, "last »", "last")}'
            f'<select class="jump" aria-label="jump to page">{options}</select></nav>')


def filters(values: dict[str, list[str]]) -> str:
    def select(name: str, label: str) -> str:
        options = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values[name])
        return (f'<label>{label} <select data-filter="{name}"><option value="">all</option>'
                f'{options}</select></label>')

    return ('<section id="filters">'
            f'{select("source", "source")}{select("task", "task")}{select("granularity", "granularity")}'
            '<label>phrase <input type="search" data-filter="q" placeholder="search phrases, names"></label>'
            '<div id="matches" aria-live="polite"></div></section>')


def page(title: str, body: str, page_number: int, pages: int, links: PageLinks,
         filter_values: dict[str, list[str]]) -> str:
    assets = links.assets(page_number)
    nav = navigation(page_number, pages, links)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} — page {page_number} of {pages}</title>
<link rel="stylesheet" href="{assets}report.css">
</head>
<body data-page="{page_number}" data-pages="{pages}" data-main="{escape(links.href(1, page_number))}"
 data-folder="{escape(assets)}">
<header><h1>{escape(title)}</h1>
<a href="{links.href(1, page_number)}#overview">overview</a>{nav}</header>
{filters(filter_values)}
{body}
<footer>{nav}</footer>
<script src="{assets}search-index.js"></script>
<script src="{assets}report.js"></script>
</body></html>
"""


# ---- overview ---------------------------------------------------------------------------------
def overview(name: str, counts: dict[str, int], missing: dict[str, str], stages: dict,
             plots: list[Plot], rejects: list[dict], rejects_total: int) -> str:
    rows = "".join(f"<tr><td>{escape(c)}</td><td>{n:,}</td></tr>" for c, n in counts.items())
    notes = "".join(f"<li><b>{escape(c)}</b> missing: {escape(why)}</li>" for c, why in missing.items())
    stage_rows = "".join(
        f"<tr><td>{escape(s)}</td><td>{e.get('rows_in', '')}</td><td>{e.get('rows_out', '')}</td>"
        f"<td>{sum((e.get('rejected') or {}).values())}</td><td>{e.get('seconds', '')}</td></tr>"
        for s, e in stages.items() if isinstance(e, dict))
    stage_table = (f'<table><tr><th>stage</th><th>in</th><th>out</th><th>rejected</th><th>s</th></tr>'
                   f'{stage_rows}</table>') if stage_rows else '<p class="note">no stats.json stages recorded</p>'
    figures = "".join(
        f'<figure class="plot{" wide" if p.wide else ""}"><img alt="{escape(p.title)}" src="{p.url}"></figure>'
        if p.url else f'<figure class="plot empty"><figcaption>{escape(p.title)}</figcaption>'
                      f'<p class="note">{escape(p.note or "")}</p></figure>'
        for p in plots)
    reject_rows = "".join(
        f"<tr><td>{escape(r['stage'])}</td><td>{escape(r['reason'])}</td><td>{escape(r['input_ref'])}</td>"
        f"<td><code>{escape((r['raw'] or '')[:200])}</code></td></tr>" for r in rejects)
    reject_table = (f'<h3>Rejects ({rejects_total:,}{", first " + str(len(rejects)) + " listed" if rejects_total > len(rejects) else ""})</h3>'
                    f'<table class="rejects"><tr><th>stage</th><th>reason</th><th>input</th><th>raw</th></tr>{reject_rows}</table>'
                    ) if rejects else ""
    return (f'<section id="overview"><h2>Overview of {escape(name)}</h2>'
            f'<div class="tables"><table><tr><th>config</th><th>rows</th></tr>{rows}</table>{stage_table}</div>'
            f'{"<ul class=notes>" + notes + "</ul>" if notes else ""}'
            f'<div class="plots">{figures}</div>{reject_table}</section>')


# ---- cards ------------------------------------------------------------------------------------
def _pieces(pieces: list[tuple[str, int | None]], colours: list[str]) -> str:
    out = []
    for text, layer in pieces:
        if layer is None:
            out.append(escape(text))
        else:
            out.append(f'<span class="phrase" data-layer="{layer}" style="--c:{colours[layer]}" '
                       f'tabindex="0">{escape(text)}</span>')
    return "".join(out)


def _verdicts(verdicts: list[tuple[str, str]] | None) -> str:
    """`segcap verify`'s verdicts under a caption: the counts, then each failed phrase's reason."""
    if verdicts is None:
        return ""
    counts = {v: sum(1 for verdict, _ in verdicts if verdict == v) for v in ("pass", "fail", "unsure")}
    line = " · ".join(f"{n} {v}" for v, n in counts.items())
    failed = "".join(f'<p class="verdict fail">✗ phrase {k + 1}: {escape(reason)}</p>'
                     for k, (verdict, reason) in enumerate(verdicts) if verdict == "fail")
    state = "fail" if counts["fail"] else "pass" if counts["pass"] else "unsure"
    return f'<p class="verdict {state}">verification: {line}</p>{failed}'


def _sample(sample: Sample, colours: list[str]) -> str:
    turns = "".join(f'<p class="turn {escape(role)}"><b>{escape(role)}:</b> {_pieces(pieces, colours)}</p>'
                    for role, pieces in sample.turns)
    problems = "".join(f'<p class="warn">⚠ {escape(p)}</p>' for p in sample.problems)
    problems += _verdicts(sample.verdicts)
    subtree = f'<span class="tag">subtree: {escape(sample.subtree)}</span>' if sample.subtree else ""
    return (f'<div class="sample" data-sample="{escape(sample.sample_id)}"><div class="tags">'
            f'<span class="tag task">{escape(sample.task)}</span>'
            f'<span class="tag gran">{escape(sample.granularity)}</span>{subtree}</div>{turns}{problems}</div>')


def _scores(scores: dict[str, float | None]) -> str:
    top = max([SCORE_MAX, *(v for v in scores.values() if v is not None)])
    rows = []
    for name in CAPABILITY_FIELDS:
        value = scores.get(name)
        if value is None:
            rows.append(f'<div class="score none"><span>{escape(name.replace("_", " "))}</span>'
                        f'<span class="bar"></span><span class="v">n/a</span></div>')
        else:
            width = max(0.0, min(100.0, 100 * value / top))
            rows.append(f'<div class="score"><span>{escape(name.replace("_", " "))}</span>'
                        f'<span class="bar"><i style="width:{width:.0f}%"></i></span>'
                        f'<span class="v">{value:g}</span></div>')
    return f'<div class="scores">{"".join(rows)}</div>'


def _instruction(item: Instruction) -> str:
    styles = "".join(f'<span class="tag style">{escape(s)}</span>' for s in item.styles)
    return (f'<div class="instruction"><div class="status {item.status_kind}">{escape(item.status)}</div>'
            f'<p class="turn human"><b>human:</b> {escape(item.question[:600])}</p>'
            f'<p class="turn gpt"><b>gpt:</b> {escape(item.answer[:600])}</p>'
            f'<div class="tags">{styles or "<span class=note>no styles</span>"}</div>{_scores(item.scores)}</div>')


def _descriptions(card: Card, colours: list[str]) -> str:
    parts = []
    for entry in card.scene:
        parts.append(f'<p class="scene"><b>scene:</b> {escape(entry["short"] or "")}</p>'
                     f'<details><summary>detailed</summary>{escape(entry["detailed"] or "")}</details>')
    items = []
    for entry in card.instances:
        layer = entry["layer"]
        swatch = (f'<span class="swatch" data-layer="{layer}" style="--c:{colours[layer]}"></span>'
                  if layer is not None else "")
        items.append(f'<li>{swatch}{escape(entry["short"] or "")}'
                     f'<details><summary>detailed</summary>{escape(entry["detailed"] or "")}</details></li>')
    if items:
        parts.append(f'<ul class="instances">{"".join(items)}</ul>')
    return f'<div class="descriptions"><h4>Descriptions</h4>{"".join(parts)}</div>' if parts else ""


def _level_buttons(card: Card) -> str:
    """One button per hierarchy level present, to show one level at a time (or all)."""
    levels = sorted({layer.level for layer in card.layers})
    if len(levels) < 2:
        return ""
    names = {0: "whole objects"}
    buttons = "".join(
        f'<button type="button" class="level-btn" data-level="{level}">'
        f'{names.get(level, f"level {level}")} ({sum(1 for x in card.layers if x.level == level)})</button>'
        for level in levels)
    return (f'<div class="levels" role="group" aria-label="hierarchy level">'
            f'<button type="button" class="level-btn active" data-level="">all levels</button>{buttons}</div>')


def card_html(card: Card) -> str:
    colours = [layer.colour for layer in card.layers]
    visual, data = "", None
    if card.thumb is not None:
        legend = "".join(f'<span class="swatch-label" data-layer="{i}"><span class="swatch" '
                         f'style="--c:{layer.colour}"></span>{escape(layer.label)}</span>'
                         for i, layer in enumerate(card.layers))
        points = "".join(f'<button type="button" class="point-btn" data-point="{i}">'
                         f'point {i + 1} ({p["x"] / card.thumb.scale:.0f}, {p["y"] / card.thumb.scale:.0f}) '
                         f'{escape(p.get("def") or "")}</button>'
                         for i, p in enumerate(card.points))
        slider = (f'<div class="granularity"><div class="points">{points}</div>'
                  '<label>granularity <input type="range" class="gran-slider" min="0" max="0" value="0" disabled>'
                  '<output class="gran-value">pick a point</output></label></div>') if card.points else ""
        visual = (f'<div class="visual"><canvas width="{card.thumb.width}" height="{card.thumb.height}"></canvas>'
                  f'{_level_buttons(card)}<div class="legend">{legend}</div>{slider}</div>')
        data = {"w": card.thumb.width, "h": card.thumb.height, "image": card.thumb.url,
                "layers": [{"png": layer.png, "label": layer.label, "level": layer.level}
                           for layer in card.layers],
                "points": card.points}
    samples = "".join(_sample(s, colours) for s in card.samples)
    instructions = "".join(_instruction(i) for i in card.instructions)
    rejects = "".join(f'<li>{escape(r["stage"])}: {escape(r["reason"])} <small>({escape(r["input_ref"])})</small></li>'
                      for r in card.rejects)
    notes = "".join(f"<li>{escape(n)}</li>" for n in card.notes)
    tasks = " ".join(sorted({s.task for s in card.samples}))
    grans = " ".join(sorted({s.granularity for s in card.samples}))
    phrases = " | ".join(t for s in card.samples for _, ps in s.turns for t, layer in ps if layer is not None)
    return (f'<article class="card" id="{escape(card.card_id)}" data-source="{escape(card.source)}" '
            f'data-tasks="{escape(tasks)}" data-granularities="{escape(grans)}" '
            f'data-phrases="{escape((phrases + " | " + card.title).lower())}">'
            f'<h3>{escape(card.title)} <small>{escape(card.source)}'
            f'{" · " + escape(card.image_id) if card.image_id else ""}</small></h3>'
            f'<div class="card-body">{visual}<div class="text">'
            f'{"<h4>Captions</h4>" + samples if samples else ""}{_descriptions(card, colours)}'
            f'{"<h4>Instructions</h4>" + instructions if instructions else ""}'
            f'{"<h4>Rejects</h4><ul class=rejects>" + rejects + "</ul>" if rejects else ""}'
            f'{"<ul class=notes>" + notes + "</ul>" if notes else ""}</div></div>'
            f'{"<script type=application/json class=card-data>" + _json_script(data) + "</script>" if data else ""}'
            '</article>')
