"""CLIP text embeddings (LG-MOT's language features), from a local folder or a hub id.

`ClipTextEncoder(model).encode(texts)` returns the projected text embeddings (`text_embeds` of
transformers' `CLIPTextModelWithProjection`, what `CLIPModel.get_text_features` returns), one row
per text, in batches without gradients. A full CLIP checkpoint loads too (its vision weights are
ignored). trust_remote_code stays off.

`build_tiny_clip(path)` writes a random-weight CLIP with a character-level BPE tokenizer, built
from config with no download, for tests and offline smoke runs: it loads through exactly the
same `from_pretrained` path as a real checkpoint.
"""

from __future__ import annotations

import json
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
        try:
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


def build_tiny_clip(path: str | Path, *, projection_dim: int = 256, hidden: int = 32, seed: int = 0) -> Path:
    """A loadable tiny random CLIP (config, weights, tokenizer) in `path`; returns the path."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    # A character-level BPE vocabulary (no merges): every word splits into characters, the last
    # one marked with </w>, as CLIP's tokenizer does. Enough for any lowercase ASCII sentence.
    characters = [chr(c) for c in range(33, 127)]
    vocab = {token: i for i, token in enumerate(
        ["<|startoftext|>", "<|endoftext|>"] + characters + [c + "</w>" for c in characters])}
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(path / "vocab.json"), str(path / "merges.txt"), pad_token="<|endoftext|>")
    tokenizer.save_pretrained(path)
    torch.manual_seed(seed)
    config = CLIPConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": hidden, "intermediate_size": 2 * hidden,
                     "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 77,
                     "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        vision_config={"hidden_size": hidden, "intermediate_size": 2 * hidden, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 16},
        projection_dim=projection_dim)
    CLIPModel(config).save_pretrained(path)
    return path
