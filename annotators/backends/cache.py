"""An on-disk generation cache (SQLite, JSON values) so a re-run pays nothing twice.

The key hashes everything that decides a generation: backend, model, generation parameters,
the full chat messages (prompt template and target), the sha256 of every image's pixels, the
schema/choices and the logprob flag. Only successful generations are stored. SQLite in WAL mode
lets several workers share one file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

import numpy as np

from annotators.backends.base import Backend, Generation, Request


def image_sha256(image) -> str:
    array = np.ascontiguousarray(np.asarray(image))
    digest = hashlib.sha256(str(array.shape).encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def request_key(backend: Backend, request: Request) -> str:
    payload = {
        "backend": backend.name,
        "model": backend.model,
        "params": backend.params(),
        "messages": request.messages,
        "images": [image_sha256(im) for im in request.images],
        "schema": request.json_schema,
        "choices": request.choices,
        "logprobs": request.want_first_token_logprobs,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


class GenerationCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._db.commit()

    def get_many(self, keys: list[str]) -> dict[str, Generation]:
        found: dict[str, Generation] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, value FROM generations WHERE key IN ({marks})", chunk).fetchall()
                for key, value in rows:
                    data = json.loads(value)
                    found[key] = Generation(text=data["text"], cached=True,
                                            first_token_logprobs=data.get("first_token_logprobs"))
        return found

    def put_many(self, items: dict[str, Generation]) -> None:
        rows = [(key, json.dumps({"text": g.text, "first_token_logprobs": g.first_token_logprobs}))
                for key, g in items.items() if g.ok]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO generations VALUES (?, ?)", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]

    def close(self) -> None:
        self._db.close()


class CachedBackend(Backend):
    """Wraps a backend: cached requests are answered from disk, the rest go in one batch."""

    def __init__(self, inner: Backend, cache: GenerationCache):
        self.inner, self.cache = inner, cache
        self.name, self.model = inner.name, inner.model
        self.hits = self.misses = 0

    def params(self) -> dict:
        return self.inner.params()

    def generate(self, requests: list[Request]) -> list[Generation]:
        # Not counted here: the inner backend counts the requests it really sends (cache hits
        # are `hits`), so `take_counters` never sees one request twice.
        return self._generate(requests) if requests else []

    def _generate(self, requests: list[Request]) -> list[Generation]:
        keys = [request_key(self.inner, r) for r in requests]
        found = self.cache.get_many(list(set(keys)))
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(requests) - len(missing)
        self.misses += len(missing)
        fresh = self.inner.generate([requests[i] for i in missing])
        self.cache.put_many({keys[i]: g for i, g in zip(missing, fresh, strict=True)})
        results = [found.get(k) for k in keys]
        for i, generation in zip(missing, fresh, strict=True):
            results[i] = generation
        return results  # type: ignore[return-value]

    def close(self) -> None:
        self.inner.close()
        self.cache.close()
