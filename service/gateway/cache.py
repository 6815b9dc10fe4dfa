"""
The answer cache: whole HTTP answers of non-streaming question routes, in Redis or in process memory.

Key: route, mode (RAG or not), model, the normalised messages of the whole conversation (a RAG follow-up is
rewritten from the earlier turns, so the same follow-up in two conversations is two answers), the request's
filters, the caller's access scope, every other body field that changes the answer (prompt type, thinking flag,
max_tokens, ...), and the index generation. Two callers share an entry only when they
may see exactly the same documents. Degraded answers (a store down) and errors are never stored.

The index generation is a counter in `<stores.data_dir>/index_generation`, bumped by the indexer after every
change to the stores (`bump_index_generation`): entries of an older generation are never read again, and expire.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from components.expiring_lru import ExpiringLRU
from service.gateway.config import CacheSettings
from service.gateway.redis_link import RedisLink

logger = logging.getLogger("service.gateway")

KEY_PREFIX = "rag:answer"
GENERATION_FILE = "index_generation"
# Body fields that do not change the answer.
_VOLATILE_FIELDS = {"stream", "stream_options", "user", "n", "metadata", "store"}


def normalise_question(text: str) -> str:
    """Same question, same key: Unicode NFC, case-folded, whitespace collapsed, trailing `?!.` and spaces dropped."""
    text = " ".join(unicodedata.normalize("NFC", text).casefold().split())
    return text.rstrip(" ?!.…")


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def answer_cache_key(path: str, body: dict[str, Any], mode: str, scope: str, generation: str) -> str:
    """The cache key of one request (see the module docstring)."""
    fields = {k: v for k, v in body.items() if k not in _VOLATILE_FIELDS}
    messages = fields.pop("messages", None)
    if isinstance(messages, list):
        texts = [
            (m.get("role"), normalise_question(_message_text(m.get("content"))))
            for m in messages
            if isinstance(m, dict)
        ]
        # The whole conversation: a RAG answer depends on the earlier turns too (the follow-up is rewritten from
        # them, and they are in the prompt), so « Quel est le montant de son marché ? » after A2458 and after
        # B1037 are two answers.
        fields["conversation"] = texts
    for name in ("query", "question"):
        if isinstance(fields.get(name), str):
            fields[name] = normalise_question(fields[name])
    material = json.dumps(
        {"path": path, "mode": mode, "scope": scope, "generation": generation, "body": fields},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return f"{KEY_PREFIX}:{hashlib.sha256(material.encode('utf-8')).hexdigest()}"


def bump_index_generation(data_dir: str | Path) -> int:
    """Call after every change to the stores: cached answers from before are not served again."""
    path = Path(data_dir) / GENERATION_FILE
    current = read_index_generation(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{GENERATION_FILE}.")
    with os.fdopen(fd, "w") as f:
        f.write(f"{current + 1}\n")
    os.replace(tmp, path)
    return current + 1


def read_index_generation(data_dir: str | Path) -> int:
    try:
        return int((Path(data_dir) / GENERATION_FILE).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


class IndexGeneration:
    """The current index generation, re-read only when its file changes (one `stat` per request)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / GENERATION_FILE
        self._stamp: tuple[int, int] | None = None
        self._value = "0"

    def current(self) -> str:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            return "0"
        if stamp != self._stamp:
            self._value = str(read_index_generation(self.path.parent))
            self._stamp = stamp
        return self._value


class AnswerCache:
    """Get and put cached HTTP answers; never raises (Redis down is a miss, logged once by `RedisLink`)."""

    def __init__(self, settings: CacheSettings, redis: RedisLink | None, data_dir: Path) -> None:
        self.settings = settings
        self.redis = redis if settings.backend == "redis" else None
        self.memory = ExpiringLRU(settings.memory_max_entries) if settings.backend == "memory" else None
        self.generation = IndexGeneration(data_dir)

    @property
    def enabled(self) -> bool:
        return self.settings.backend != "off"

    def cacheable(self, method: str, path: str) -> bool:
        return self.enabled and method == "POST" and path in self.settings.routes

    async def get(self, key: str) -> tuple[str, bytes] | None:
        """:returns: (content type, body) or None."""
        if self.memory is not None:
            raw = self.memory.get(key)
        elif self.redis is not None:
            raw = await self.redis.call(lambda c: c.get(key), "cache read")
        else:
            return None
        if raw is None:
            return None
        content_type, _, body = bytes(raw).partition(b"\n")
        return content_type.decode("latin-1"), body

    async def put(self, key: str, content_type: str, body: bytes) -> None:
        raw = content_type.encode("latin-1", "replace") + b"\n" + body
        ttl = self.settings.answer_ttl_seconds
        if self.memory is not None:
            self.memory.set(key, raw, ttl)
        elif self.redis is not None:
            await self.redis.call(lambda c: c.set(key, raw, ex=ttl), "cache write")
