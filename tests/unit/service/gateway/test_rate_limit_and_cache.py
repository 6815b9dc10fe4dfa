import asyncio

import pytest
from gateway_testing import with_sections

from service.gateway.cache import (
    AnswerCache,
    IndexGeneration,
    answer_cache_key,
    bump_index_generation,
    normalise_question,
)
from service.gateway.config import CacheSettings, RateLimitSettings, RedisSettings
from service.gateway.rate_limit import RateLimiter
from service.gateway.redis_link import RedisLink

pytestmark = pytest.mark.unit


def test_over_the_request_limit_is_429_with_retry_after(settings, client_for):
    client = client_for(with_sections(settings, auth={"mode": "dev"}, rate_limit={"requests_per_minute": 3}))
    codes = [client.get("/v1/models").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = client.get("/v1/models")
    assert 1 <= int(refused.headers["retry-after"]) <= 61
    assert client.get("/health").status_code == 200  # health is never limited


async def test_concurrent_streams_are_limited():
    limiter = RateLimiter(RateLimitSettings(concurrent_streams=2), None)
    first, second, third = [await limiter.open_stream("user:a") for _ in range(3)]
    assert first[0].allowed
    assert second[0].allowed
    assert not third[0].allowed
    assert third[0].retry_after > 0
    await limiter.close_stream("user:a", first[1])
    assert (await limiter.open_stream("user:a"))[0].allowed
    assert (await limiter.open_stream("user:b"))[0].allowed  # per principal


async def test_redis_down_falls_back_to_memory_without_failing():
    """Nothing listens on port 1: every Redis call fails fast and the limiter and cache go on without it."""
    link = RedisLink(RedisSettings(url="redis://127.0.0.1:1/0", timeout_seconds=0.2))
    limiter = RateLimiter(RateLimitSettings(backend="redis", requests_per_minute=2), link)
    verdicts = [await limiter.check_request("user:a") for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert not link.available
    assert "Error" in (link.last_error or "")
    cache = AnswerCache(CacheSettings(backend="redis"), link, data_dir=__import__("pathlib").Path("/nonexistent"))
    await cache.put("k", "application/json", b"{}")
    assert await cache.get("k") is None


def test_question_normalisation():
    assert normalise_question("  Quel est le DÉLAI   ?") == normalise_question("quel est le délai")
    assert normalise_question("délai A2458") != normalise_question("délai A2511")


def _key(body: dict, mode: str = "rag", scope: str = "null", generation: str = "0") -> str:
    return answer_cache_key("/v1/chat/completions", body, mode, scope, generation)


def test_cache_key_covers_what_changes_the_answer():
    base = {"model": "rag", "messages": [{"role": "user", "content": "Quel délai ?"}]}
    key = _key(base)
    assert _key({**base, "stream": False, "user": "x"}) == key  # volatile fields
    assert _key({**base, "messages": [{"role": "user", "content": "quel  délai"}]}) == key
    assert _key(base, scope='{"field":"meta.code_affaire"}') != key
    assert _key(base, generation="1") != key
    for change in (
        {"model": "chat"},
        {"enable_thinking": True},
        {"prompt_type": "fiche"},
        {"max_tokens": 10},
        {"filters": {"field": "meta.lot", "operator": "==", "value": "2"}},
    ):
        assert _key({**base, **change}) != key, change
    # RAG and plain chat both depend on the whole conversation: the same follow-up after another affair is another
    # answer (the follow-up is rewritten from the earlier turns).
    follow_up = {"role": "user", "content": "Quel est le montant de son marché ?"}
    about = [{"role": "user", "content": "Présente-moi l'affaire A2458."}, {"role": "assistant", "content": "RD 912"}]
    other = [{"role": "user", "content": "Présente-moi l'affaire B1037."}, {"role": "assistant", "content": "SIEAL"}]
    assert _key({**base, "messages": [*about, follow_up]}) != _key({**base, "messages": [*other, follow_up]})
    assert _key({**base, "messages": [*about, follow_up]}) == _key({**base, "messages": [*about, follow_up]})
    earlier = {"role": "assistant", "content": "Bonjour"}
    longer = {**base, "messages": [earlier, *base["messages"]]}
    assert _key(longer, mode="chat") != _key(base, mode="chat")


def test_index_generation_is_bumped_by_the_indexer(tmp_path):
    generation = IndexGeneration(tmp_path)
    assert generation.current() == "0"
    assert bump_index_generation(tmp_path) == 1
    assert generation.current() == "1"
    bump_index_generation(tmp_path)
    assert generation.current() == "2"


def test_reindexing_invalidates_cached_answers(settings, client_for):
    client = client_for(with_sections(settings, auth={"mode": "dev"}))
    question = {"query": "Quel est le délai ?"}
    first = client.post("/rag/run", json=question)
    assert client.post("/rag/run", json=question).headers["x-cache"] == "hit"
    bump_index_generation(settings.resolve_path(settings.stores.data_dir))
    again = client.post("/rag/run", json=question)
    assert again.headers["x-cache"] == "miss"
    assert again.json()["run"] == first.json()["run"] + 1


def test_cache_off_always_runs(settings, client_for):
    client = client_for(with_sections(settings, auth={"mode": "dev"}, cache={"backend": "off"}))
    runs = [client.post("/rag/run", json={"query": "x"}).json()["run"] for _ in range(2)]
    assert runs == [1, 2]


def test_memory_cache_expires(monkeypatch):
    cache = AnswerCache(CacheSettings(backend="memory", answer_ttl_seconds=1), None, __import__("pathlib").Path("/x"))
    asyncio.run(cache.put("k", "application/json", b'{"a": 1}'))
    assert asyncio.run(cache.get("k")) == ("application/json", b'{"a": 1}')
    import time

    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + 5)
    assert asyncio.run(cache.get("k")) is None
