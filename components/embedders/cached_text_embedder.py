"""A text embedder with a cache of query embeddings, in Redis (shared by every worker) or in process memory."""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any, Literal

import numpy as np
from haystack import component, default_from_dict, default_to_dict
from haystack.core.serialization import component_from_dict, import_class_by_name
from haystack.utils import Secret, deserialize_secrets_inplace

from components.expiring_lru import ExpiringLRU

logger = logging.getLogger(__name__)

KEY_PREFIX = "rag:embedding"


class _RedisEmbeddings:
    """
    Embeddings in Redis. A failing Redis is skipped for `retry_after_seconds` (logged once), then tried again:
    the embedder then computes every embedding, and never fails because of the cache.
    """

    def __init__(self, url: str, password: Secret | None, timeout: float, retry_after: float) -> None:
        self.url, self.password, self.timeout, self.retry_after = url, password, timeout, retry_after
        self._client: Any = None
        self.down_until = 0.0
        self.failing = False

    def _call(self, operation: Any, what: str) -> Any:
        if time.monotonic() < self.down_until:
            return None
        try:
            if self._client is None:
                import redis  # noqa: PLC0415  (only when the cache is in Redis)

                self._client = redis.Redis.from_url(
                    self.url,
                    password=(self.password.resolve_value() if self.password else None) or None,
                    socket_timeout=self.timeout,
                    socket_connect_timeout=self.timeout,
                )
            result = operation(self._client)
        except Exception as e:  # the cache is optional: any error is a miss
            self.down_until = time.monotonic() + self.retry_after
            if not self.failing:
                logger.warning(
                    "Redis unavailable for the query-embedding cache (%s during %s): embedding without it, "
                    "retrying in %.0f s",
                    type(e).__name__,
                    what,
                    self.retry_after,
                )
            self.failing = True
            return None
        if self.failing:
            logger.warning("Redis is back: query-embedding cache restored")
            self.failing = False
        return result

    def get(self, key: str) -> bytes | None:
        return self._call(lambda c: c.get(key), "read")

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self._call(lambda c: c.set(key, value, ex=ttl), "write")


@component
class CachedTextEmbedder:
    """
    Wraps a text embedder (`text` in, `embedding` out) and caches its embeddings.

    The key is the wrapped embedder's serialised configuration (model, prefix, normalisation...) and the text, so a
    configuration change never reads an old vector. Vectors are stored as float32 bytes. With `backend: redis`
    every worker and replica shares the cache; Redis down means computing the embedding, never an error.
    """

    def __init__(
        self,
        embedder: Any,
        *,
        backend: Literal["redis", "memory", "off"] = "memory",
        ttl_seconds: int = 86400,
        max_entries: int = 2000,
        redis_url: str = "redis://127.0.0.1:6379/0",
        redis_password: Secret | None = None,
        redis_timeout_seconds: float = 0.5,
        redis_retry_after_seconds: float = 5.0,
    ) -> None:
        """
        :param embedder: The wrapped text embedder (in YAML: its `type` and `init_parameters`).
        :param backend: `redis` (shared), `memory` (per process) or `off`.
        :param ttl_seconds: How long an embedding is kept.
        :param max_entries: The size of the in-memory cache.
        :param redis_url: The Redis server, for `backend: redis`.
        :param redis_password: The Redis password, from an environment variable.
        :param redis_timeout_seconds: Connect and read timeout of every Redis call.
        :param redis_retry_after_seconds: A failed Redis is not tried again for this long.
        """
        if backend not in ("redis", "memory", "off"):
            msg = f"backend must be redis, memory or off, not {backend!r}"
            raise ValueError(msg)
        self.embedder = embedder
        self.backend = backend
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.redis_url = redis_url
        self.redis_password = redis_password
        self.redis_timeout_seconds = redis_timeout_seconds
        self.redis_retry_after_seconds = redis_retry_after_seconds
        self._store: ExpiringLRU[bytes] | _RedisEmbeddings | None = None
        if backend == "memory":
            self._store = ExpiringLRU(max_entries)
        elif backend == "redis":
            self._store = _RedisEmbeddings(redis_url, redis_password, redis_timeout_seconds, redis_retry_after_seconds)
        config = repr(sorted(embedder.to_dict()["init_parameters"].items())) if hasattr(embedder, "to_dict") else ""
        self._namespace = hashlib.sha256(f"{type(embedder).__qualname__}|{config}".encode()).hexdigest()[:16]

    def warm_up(self) -> None:
        if hasattr(self.embedder, "warm_up"):
            self.embedder.warm_up()

    def key(self, text: str) -> str:
        """The cache key of one text."""
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{KEY_PREFIX}:{self._namespace}:{digest}"

    @component.output_types(embedding=list[float], cache_hit=bool)
    def run(self, text: str) -> dict[str, Any]:
        """
        :param text: The text to embed.
        :returns: `embedding`, and `cache_hit` (whether it came from the cache).
        """
        if self._store is None:
            return {"embedding": self.embedder.run(text=text)["embedding"], "cache_hit": False}
        key = self.key(text)
        raw = self._store.get(key)
        if raw is not None:
            return {"embedding": np.frombuffer(raw, dtype=np.float32).tolist(), "cache_hit": True}
        embedding = self.embedder.run(text=text)["embedding"]
        self._store.set(key, np.asarray(embedding, dtype=np.float32).tobytes(), self.ttl_seconds)
        return {"embedding": embedding, "cache_hit": False}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            embedder=self.embedder.to_dict(),
            backend=self.backend,
            ttl_seconds=self.ttl_seconds,
            max_entries=self.max_entries,
            redis_url=self.redis_url,
            redis_password=self.redis_password.to_dict() if self.redis_password else None,
            redis_timeout_seconds=self.redis_timeout_seconds,
            redis_retry_after_seconds=self.redis_retry_after_seconds,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CachedTextEmbedder:
        params = data.setdefault("init_parameters", {})
        inner = params.get("embedder")
        if isinstance(inner, dict):
            params["embedder"] = component_from_dict(import_class_by_name(inner["type"]), inner, "embedder")
        deserialize_secrets_inplace(params, keys=["redis_password"])
        return default_from_dict(cls, data)
