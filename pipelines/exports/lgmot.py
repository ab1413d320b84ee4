"""`segcap export --format lgmot --text-model M`: video descriptions -> LG-MOT's language inputs.

LG-MOT (WesLee88524/LG-MOT) trains on CLIP text embeddings, not text. Per MOT sequence its
loaders read, under the sequence folder:
- `gt/instance_language_prompts/seq_inst_prompts_embeddings_128.pt`: a tensor indexed by track
  id (`emb[track_id]`, 128 values per row; src/data/mot_datasets.py). We write (max id + 1, 128)
  float32; row k is track k, rows of ids without a track (0 in MOT17) are zeros.
- `processed_data/embeddings/<seq>_prompt_embedding_all.pt`: the scene prompt embedding, (1, D),
  expanded over edges (src/utils/graph_utils.py).
The texts are LG-MOT's templated sentences built from the description attributes, unknown parts
left out, never guessed: "A male person wearing red shirt and black pants." / "A scene captured
by static camera from medium viewpoint on sunny day.". They are written beside the tensors in
`gt/instance_language_prompts/language_prompts.json` with the description ids they came from.

CLIP text embeddings have D values (512 for ViT-B); the instance file holds 128, so rows are
reduced with adaptive average pooling over the D values, the same reduction LG-MOT's model
applies to its language embeddings (AdaptiveAvgPool1d in src/models/mpntrack.py). OUT mirrors
the MOT root: copy or overlay `OUT/<seq>/...` onto the sequence folders. Only tensors are saved
(`torch.save` of plain tensors; `torch.load(..., weights_only=True)` reads them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from annotators.describe.evidence import article, is_person
from pipelines.exports.common import ExportReport, source_dataset, staged_output
from pipelines.exports.dataset import ExportError
from schemas.rejects import Reason

INSTANCE_DIM = 128
INSTANCE_FILE = "gt/instance_language_prompts/seq_inst_prompts_embeddings_128.pt"
TEXTS_FILE = "gt/instance_language_prompts/language_prompts.json"
SCENE_FILE = "processed_data/embeddings/{seq}_prompt_embedding_all.pt"
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # a sequence name becomes a folder name
UNKNOWN = {"", "unknown", "n/a", "none"}


def _known(value: str | None) -> str | None:
    return None if value is None or value.strip().lower() in UNKNOWN else value.strip()


def instance_sentence(attributes: dict[str, str]) -> str:
    category = _known(attributes.get("category")) or "object"
    if is_person(category):
        gender = _known(attributes.get("gender"))
        subject = f"{gender} person" if gender in ("male", "female") else "person"
        clothes = [f"{colour} {item}" for item, colour in
                   (("shirt", _known(attributes.get("shirt_color"))),
                    ("pants", _known(attributes.get("pants_color")))) if colour]
        wearing = f" wearing {' and '.join(clothes)}" if clothes else ""
        return f"{article(subject).capitalize()}{wearing}."
    colour = _known((attributes.get("colors") or "").split(",")[0])
    return f"{article(f'{colour} {category}' if colour else category).capitalize()}."


def scene_sentence(attributes: dict[str, str]) -> str:
    camera, viewpoint, weather = (_known(attributes.get(k)) for k in ("camera_motion", "viewpoint", "weather"))
    words = ["A scene"]
    if camera:
        words.append(f"captured by {camera} camera")
    if viewpoint:
        words.append(f"from {viewpoint} viewpoint")
    if weather:
        words.append(f"on {weather} day")
    return " ".join(words) + "."


def pool_to(embeddings, dim: int):
    """(N, D) -> (N, dim) by adaptive average pooling over the D values (D >= dim)."""
    import torch

    if embeddings.shape[1] == dim:
        return embeddings
    return torch.nn.functional.adaptive_avg_pool1d(embeddings[:, None, :], dim)[:, 0, :]


def _video_tracks(dataset) -> dict[str, set[int]]:
    """Every track id of every video, from `segments` joined with the frames' video ids."""
    videos: dict[str, str] = {}
    for batch in dataset.iter_batches("images", 8192, ["image_id", "video_id"]):
        for image_id, video_id in zip(*(batch.column(c).to_pylist() for c in batch.column_names), strict=True):
            if video_id is not None:
                videos[image_id] = video_id
    tracks: dict[str, set[int]] = {}
    if dataset.has("segments"):
        for batch in dataset.iter_batches("segments", 8192, ["image_id", "track_id"]):
            for image_id, track_id in zip(*(batch.column(c).to_pylist() for c in batch.column_names),
                                          strict=True):
                if track_id is not None and image_id in videos:
                    tracks.setdefault(videos[image_id], set()).add(int(track_id))
    return tracks


def _descriptions(dataset, report: ExportReport) -> dict[str, dict]:
    """video -> {"scene": row, "tracks": {id: row}}; the newest row wins when a target has several."""
    columns = ["description_id", "video_id", "scope", "target_id", "short", "attributes", "provenance"]
    videos: dict[str, dict] = {}
    for batch in dataset.iter_batches("descriptions", 2048, columns):
        for row in batch.to_pylist():
            if row["video_id"] is None or row["scope"] not in ("scene", "track"):
                continue
            report.rows_in += 1
            entry = videos.setdefault(row["video_id"], {"scene": None, "tracks": {}})
            if row["scope"] == "track":
                try:
                    key, slot = int(row["target_id"]), entry["tracks"]
                except (TypeError, ValueError):
                    report.reject(f"{row['video_id']}:{row['target_id']}", Reason.BAD_FIELD,
                                  "a track description's target_id is not an integer track id")
                    continue
            else:
                key, slot = "scene", entry
            old = slot.get(key)
            if old is not None:
                report.counters["older_duplicate_descriptions_skipped"] += 1
                if old["provenance"]["created_at"] >= row["provenance"]["created_at"]:
                    continue
            slot[key] = row
    return videos


def _attributes(row: dict) -> dict[str, str]:
    return {a["name"]: a["value"] for a in row["attributes"] or []}


def export_lgmot(src: str | Path, out: str | Path, text_model: str | Path, *, encoder=None) -> ExportReport:
    import torch

    from annotators.clip_text import ClipTextEncoder

    dataset = source_dataset(src, out, ("descriptions", "images"))
    report = ExportReport("lgmot")
    described, tracks = _descriptions(dataset, report), _video_tracks(dataset)
    plans = []
    for video_id in sorted(set(described) | set(tracks)):
        entry = described.get(video_id, {"scene": None, "tracks": {}})
        if not SAFE_NAME.match(video_id):
            report.reject(video_id, Reason.UNSAFE_NAME, "a sequence name must be a plain folder name")
        elif entry["scene"] is None:
            report.reject(video_id, Reason.MISSING_SCENE_DESCRIPTION, "run `segcap describe` on the video first")
        else:
            plans.append((video_id, entry, sorted(tracks.get(video_id, set()) | set(entry["tracks"]))))
    if not plans:
        raise ExportError(f"{dataset.path} has no MOT sequence with a scene description to export "
                          f"({len(report.rejects)} rejected); run `segcap describe` on a MOT ingest")
    encoder = encoder or ClipTextEncoder(text_model).load()
    texts = []
    for _, entry, _ in plans:
        texts.append(scene_sentence(_attributes(entry["scene"])))
        texts += [instance_sentence(_attributes(row)) for _, row in sorted(entry["tracks"].items())]
    embeddings = encoder.encode(texts).float()
    if embeddings.shape[1] < INSTANCE_DIM:
        raise ExportError(f"text model {text_model} gives {embeddings.shape[1]} values per text; "
                          f"LG-MOT's instance file needs at least {INSTANCE_DIM}")
    cursor = 0
    with staged_output(out, report) as staging:
        for video_id, entry, track_ids in plans:
            folder = staging / video_id
            scene = embeddings[cursor:cursor + 1].clone()
            described_ids = sorted(entry["tracks"])
            rows = pool_to(embeddings[cursor + 1:cursor + 1 + len(described_ids)], INSTANCE_DIM)
            instance = torch.zeros((max(track_ids, default=0) + 1, INSTANCE_DIM), dtype=torch.float32)
            for track_id, vector in zip(described_ids, rows, strict=True):
                instance[track_id] = vector
            texts_json = {
                "sequence": video_id, "text_model": str(text_model), "embedding_dim": int(embeddings.shape[1]),
                "instance_embedding": f"adaptive average pool {embeddings.shape[1]} -> {INSTANCE_DIM}",
                "scene": {"text": texts[cursor], "description_id": entry["scene"]["description_id"],
                          "attributes": _attributes(entry["scene"])},
                "instances": {str(t): {"text": texts[cursor + 1 + k], "row": t,
                                       "description_id": entry["tracks"][t]["description_id"],
                                       "attributes": _attributes(entry["tracks"][t])}
                              for k, t in enumerate(described_ids)},
                "tracks_without_description": [t for t in track_ids if t not in entry["tracks"]]}
            cursor += 1 + len(described_ids)
            for relative, tensor in ((INSTANCE_FILE, instance), (SCENE_FILE.format(seq=video_id), scene)):
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                torch.save(tensor.contiguous(), folder / relative)
            (folder / TEXTS_FILE).write_text(json.dumps(texts_json, indent=1))
            report.outputs["sequences"] += 1
            report.outputs["track_embeddings"] += len(described_ids)
            report.counters["tracks_without_description"] += len(texts_json["tracks_without_description"])
    return report
