"""`descriptions` rows and provenance records from checked answers.

A template fallback is recorded as such: backend "template", and in the parameters the backend
and model that failed, the reason and the number of attempts.
"""

from __future__ import annotations

from annotators.backends.base import Backend
from annotators.describe import prompts, template
from annotators.describe.asking import Answer
from annotators.describe.evidence import InstanceEvidence
from schemas.ids import stable_id
from schemas.provenance import make_provenance

TEMPLATE_MODEL = "template-v1"


class RowMaker:
    def __init__(self, backend: Backend):
        self.backend = backend

    def provenance(self, annotator: str, prompt: prompts.Prompt, answer: Answer) -> dict:
        params = {**self.backend.params(), "attempts": answer.attempts}
        backend, model = self.backend.name, self.backend.model
        if answer.source == "template-fallback":
            params = {"fallback_from": f"{backend}:{model}", "fallback_reason": answer.problem,
                      "attempts": answer.attempts}
            backend, model = "template", TEMPLATE_MODEL
        return make_provenance(annotator=annotator, backend=backend, model=model,
                               prompt_id=prompt.prompt_id, prompt=prompt.text, params=params)

    @staticmethod
    def rules_provenance(annotator: str, prompt: prompts.Prompt) -> dict:
        """Rows derived from ground truth alone (no model)."""
        return make_provenance(annotator=annotator, backend="template", model=TEMPLATE_MODEL,
                               prompt_id=prompt.prompt_id, prompt=prompt.text)

    def _id(self, scope: str, image_id, video_id, target_id, provenance: dict) -> str:
        return stable_id("description", scope, image_id or "", video_id or "", target_id or "",
                         provenance["backend"], provenance["model"])

    def scene(self, answer: Answer, *, image_id: str | None = None, video_id: str | None = None) -> dict:
        value = answer.value
        provenance = self.provenance("describe/scene", prompts.SCENE, answer)
        attributes = [{"name": name, "value": _text(value.get(name))} for name in prompts.SCENE_ATTRIBUTES]
        sentence = value["sentence"].strip()
        return {
            "description_id": self._id("scene", image_id, video_id, None, provenance),
            "image_id": image_id, "video_id": video_id, "scope": "scene", "target_id": None,
            "short": sentence, "detailed": sentence, "attributes": attributes,
            "provenance": provenance,
        }

    def instance(self, answer: Answer, evidence: InstanceEvidence, *, image_id: str | None = None,
                 video_id: str | None = None, scope: str = "instance") -> dict:
        value = answer.value
        provenance = self.provenance(f"describe/{scope}", prompts.INSTANCE, answer)
        colours = ", ".join(c.strip() for c in value["colors"]) or template.UNKNOWN
        attributes = [
            # the ground-truth category wins over the model's guess; the guess is kept beside it
            {"name": "category", "value": evidence.category or _text(value.get("category"))},
            {"name": "predicted_category", "value": _text(value.get("category"))},
            {"name": "colors", "value": colours},
            {"name": "clothing", "value": _text(value.get("clothing"))},
            {"name": "action", "value": _text(value.get("action"))},
            {"name": "size", "value": evidence.size},
            {"name": "position", "value": evidence.position},
            {"name": "box", "value": ", ".join(str(v) for v in evidence.box_normalised)},
        ]
        if evidence.frames > 1:
            attributes.append({"name": "frames", "value": str(evidence.frames)})
        return {
            "description_id": self._id(scope, image_id, video_id, evidence.target_id, provenance),
            "image_id": image_id, "video_id": video_id, "scope": scope,
            "target_id": evidence.target_id, "short": value["short"].strip(),
            "detailed": value["detailed"].strip(), "attributes": attributes,
            "provenance": provenance,
        }


def _text(value) -> str:
    """Optional answer fields are written "unknown" when absent, never left empty."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return template.UNKNOWN
