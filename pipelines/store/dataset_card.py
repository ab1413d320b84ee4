"""The dataset card (README.md): YAML `configs:` that `datasets.load_dataset` reads, then a summary."""

from __future__ import annotations

import yaml

from schemas.contract import SCHEMA_VERSION

CONFIG_SUMMARIES = {
    "images": "one row per image (bytes embedded, stable content-hash ids)",
    "segments": "the mask forest of each image (COCO RLE, parent links, levels)",
    "granularity_pairs": "(point, mask, granularity) training pairs, GraCo / UnSAMv2 style",
    "descriptions": "scene-, instance- and track-level descriptions, LG-MOT style",
    "segcap": "grounded conversations: `<p> phrase </p> [SEG]`, k-th [SEG] <-> k-th mask",
    "instructions": "multimodal instruction data with capability scores, styles and selection",
    "rejects": "quarantined inputs with stage, reference and reason",
}


def render_card(title: str, counts: dict[str, int], stats: dict) -> str:
    front = {
        "configs": [
            {"config_name": config, "data_files": [{"split": "train", "path": f"{config}/*.parquet"}]}
            for config in counts
        ],
        "tags": ["segmentation", "image-captioning", "grounding", "segcap"],
        "pretty_name": title,
    }
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False).rstrip(),
        "---",
        "",
        f"# {title}",
        "",
        f"A SegCap dataset written by segcap-curator (schema version {SCHEMA_VERSION}).",
        "Load any config with `datasets.load_dataset(PATH, CONFIG)`.",
        "",
        "| config | rows | contents |",
        "| --- | ---: | --- |",
    ]
    lines += [f"| `{c}` | {n:,} | {CONFIG_SUMMARIES.get(c, '')} |" for c, n in counts.items()]
    stages = stats.get("stages", {})
    if stages:
        lines += ["", "## Processing", "", "| stage | rows in | rows out | rejected | seconds |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for name, entry in stages.items():
            rejected = sum((entry.get("rejected") or {}).values())
            lines.append(
                f"| {name} | {entry.get('rows_in', 0):,} | {entry.get('rows_out', 0):,} "
                f"| {rejected:,} | {entry.get('seconds', 0):.1f} |"
            )
    lines += _verification_lines(stages)
    lines += ["", "Masks are COCO compressed RLE (`pycocotools.mask.decode`); see schema.json.", ""]
    return "\n".join(lines)


def _verification_lines(stages: dict) -> list[str]:
    """Pass / fail / unsure per verify step, from the counters it recorded in stats.json."""
    rows = []
    for name, entry in stages.items():
        counters = entry.get("counters") or {}
        if any(k.startswith("verify_") for k in counters):
            failed = {k.removeprefix("verify_fail_"): v for k, v in counters.items()
                      if k.startswith("verify_fail_")}
            rows.append(f"| {name} | {counters.get('verify_pass', 0):,} | "
                        f"{counters.get('verify_fail', 0):,} | {counters.get('verify_unsure', 0):,} | "
                        + (", ".join(f"{k} {v:,}" for k, v in sorted(failed.items())) or "-") + " |")
    if not rows:
        return []
    return ["", "## Verification", "",
            "Every grounded phrase and description was checked against its mask "
            "(`segcap verify`); the verdicts are in the `verification` column.", "",
            "| step | pass | fail | unsure | failed checks |", "| --- | ---: | ---: | ---: | --- |",
            *rows]
