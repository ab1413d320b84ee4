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
    lines += ["", "Masks are COCO compressed RLE (`pycocotools.mask.decode`); see schema.json.", ""]
    return "\n".join(lines)
