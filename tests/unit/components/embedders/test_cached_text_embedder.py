import logging
import socket

import pytest
from haystack import component, default_from_dict, default_to_dict

from components.embedders.cached_text_embedder import CachedTextEmbedder

pytestmark = pytest.mark.unit


@component
class CountingEmbedder:
    """A text embedder that counts its calls and embeds a text as [its length, its first character's code]."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.calls = 0

    @component.output_types(embedding=list[float])
    def run(self, text: str):
        self.calls += 1
        text = self.prefix + text
        return {"embedding": [float(len(text)), float(ord(text[0])), 0.125]}

    def to_dict(self):
        return default_to_dict(self, prefix=self.prefix)

    @classmethod
    def from_dict(cls, data):
        return default_from_dict(cls, data)


def test_a_repeated_text_is_embedded_once_and_gets_the_same_vector():
    inner = CountingEmbedder()
    embedder = CachedTextEmbedder(embedder=inner, backend="memory")
    first = embedder.run(text="Quel est le montant du marché A2458 ?")
    second = embedder.run(text="Quel est le montant du marché A2458 ?")
    assert first == {"embedding": [37.0, 81.0, 0.125], "cache_hit": False}
    assert second == {"embedding": [37.0, 81.0, 0.125], "cache_hit": True}
    assert inner.calls == 1
    assert embedder.run(text="Autre question")["cache_hit"] is False
    assert inner.calls == 2


def test_backend_off_embeds_every_time():
    inner = CountingEmbedder()
    embedder = CachedTextEmbedder(embedder=inner, backend="off")
    for _ in range(3):
        assert embedder.run(text="même question")["cache_hit"] is False
    assert inner.calls == 3


def test_entries_expire_and_the_lru_keeps_max_entries(monkeypatch):
    inner = CountingEmbedder()
    embedder = CachedTextEmbedder(embedder=inner, backend="memory", ttl_seconds=10, max_entries=2)
    clock = [1000.0]
    monkeypatch.setattr("components.expiring_lru.time.monotonic", lambda: clock[0])
    embedder.run(text="a")
    embedder.run(text="b")
    embedder.run(text="c")  # evicts "a"
    assert embedder.run(text="c")["cache_hit"] is True
    assert embedder.run(text="a")["cache_hit"] is False
    clock[0] += 11
    assert embedder.run(text="c")["cache_hit"] is False


def test_another_embedder_configuration_never_reads_the_old_vectors():
    a = CachedTextEmbedder(embedder=CountingEmbedder(prefix="query: "), backend="memory")
    b = CachedTextEmbedder(embedder=CountingEmbedder(prefix=""), backend="memory")
    assert a.key("texte") != b.key("texte")
    assert a.key("texte") != a.key("texte ")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_redis_down_embeds_without_the_cache_and_warns_once(caplog):
    inner = CountingEmbedder()
    embedder = CachedTextEmbedder(
        embedder=inner,
        backend="redis",
        redis_url=f"redis://127.0.0.1:{_closed_port()}/0",
        redis_timeout_seconds=0.2,
        redis_retry_after_seconds=60,
    )
    with caplog.at_level(logging.WARNING):
        results = [embedder.run(text="question") for _ in range(3)]
    assert [r["cache_hit"] for r in results] == [False, False, False]
    assert results[0]["embedding"] == [8.0, 113.0, 0.125]
    assert inner.calls == 3
    assert sum("query-embedding cache" in r.message for r in caplog.records) == 1


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="redis, memory or off"):
        CachedTextEmbedder(embedder=CountingEmbedder(), backend="disk")


def test_serialisation_round_trip_keeps_the_wrapped_embedder(monkeypatch):
    monkeypatch.setenv("TEST_REDIS_PASSWORD", "s3cret")
    from haystack.core.serialization import allow_deserialization_module
    from haystack.utils import Secret

    allow_deserialization_module(CountingEmbedder.__module__)  # the test double's module, as the YAML loader does

    embedder = CachedTextEmbedder(
        embedder=CountingEmbedder(prefix="query: "),
        backend="redis",
        ttl_seconds=60,
        redis_password=Secret.from_env_var("TEST_REDIS_PASSWORD", strict=False),
    )
    data = embedder.to_dict()
    assert "s3cret" not in repr(data)
    restored = CachedTextEmbedder.from_dict(data)
    assert isinstance(restored.embedder, CountingEmbedder)
    assert restored.embedder.prefix == "query: "
    assert restored.ttl_seconds == 60
    assert restored.redis_password.resolve_value() == "s3cret"
    assert restored.key("x") == embedder.key("x")
