"""CLIP text embeddings (LG-MOT's language features), from a local folder or a hub id.

`ClipTextEncoder(model).encode(texts)` returns the projected text embeddings (`text_embeds` of
transformers' `CLIPTextModelWithProjection`, what `CLIPModel.get_text_features` returns), one row
per text, in batches without gradients. A full CLIP checkpoint loads too (its vision weights are
ignored). trust_remote_code stays off.

Tests build a random-weight CLIP with `annotators.backends.tiny_model.build_tiny_clip`.
"""

from __future__ import annotations

from pathlib import Path


class ClipModelError(RuntimeError):
    """The text model cannot be loaded or used."""


class ClipTextEncoder:
    def __init__(self, model: str | Path, *, device: str = "cpu", batch_size: int = 64):
        self.model_name, self.device, self.batch_size = str(model), device, batch_size
        self.tokenizer = self.model = None

    def load(self) -> ClipTextEncoder:
        from transformers import AutoConfig, AutoTokenizer, CLIPTextModelWithProjection
        from transformers.utils import logging as hf_logging

        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # a full CLIP's unused vision weights are expected
        from annotators.model_loading import resolve_model

        try:
            resolve_model(self.model_name, kind="CLIP text model")  # fails in seconds, not after retries
            config = AutoConfig.from_pretrained(self.model_name, trust_remote_code=False)
            if hasattr(config, "text_config"):
                # A full CLIP keeps projection_dim at the top level; the text config alone would
                # fall back to 512 and re-initialise a differently sized projection.
                text_config = config.text_config
                text_config.projection_dim = config.projection_dim
                config = text_config
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_name, trust_remote_code=False)
            self.model = CLIPTextModelWithProjection.from_pretrained(
                self.model_name, config=config, trust_remote_code=False).to(self.device).eval()
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ClipModelError(f"cannot load a CLIP text model from {self.model_name!r}: "
                                 f"{str(exc).splitlines()[0][:300]}") from exc
        finally:
            hf_logging.set_verbosity(verbosity)
        return self

    @property
    def dim(self) -> int:
        return int(self.model.config.projection_dim)

    def encode(self, texts: list[str]):
        import torch

        if self.model is None:
            self.load()
        rows = []
        limit = int(self.model.config.max_position_embeddings)
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(texts[start:start + self.batch_size], padding=True,
                                       truncation=True, max_length=limit, return_tensors="pt")
                batch = {k: v.to(self.device) for k, v in batch.items()}
                rows.append(self.model(**batch).text_embeds.float().cpu())
        return torch.cat(rows) if rows else torch.zeros((0, self.dim))

