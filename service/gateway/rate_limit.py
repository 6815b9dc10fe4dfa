"""Requests per minute and concurrent streams, per principal; shared by all workers through Redis.

With `rate_limit.backend: redis` and Redis down, each worker falls back to its own in-memory counters (logged by
`RedisLink`), so limits still hold per worker and no request fails because of Redis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from service.gateway.config import RateLimitSettings
from service.gateway.redis_link import RedisLink

KEY_PREFIX = "rag:rl"
STREAM_TTL_SECONDS = 600  # a stream counter outlives a crashed worker by at most this


@dataclass
class Verdict:
    allowed: bool
    retry_after: int = 0
    reason: str = ""


class _MemoryCounters:
    def __init__(self) -> None:
        self.windows: dict[str, tuple[int, int]] = {}  # principal -> (minute, count)
        self.streams: dict[str, int] = {}

    def hit(self, who: str, minute: int) -> int:
        window, count = self.windows.get(who, (minute, 0))
        count = count + 1 if window == minute else 1
        self.windows[who] = (minute, count)
        if len(self.windows) > 100_000:  # forget past minutes
            self.windows = {k: v for k, v in self.windows.items() if v[0] == minute}
        return count


class RateLimiter:
    def __init__(self, settings: RateLimitSettings, redis: RedisLink | None) -> None:
        self.settings = settings
        self.redis = redis if settings.backend == "redis" else None
        self.memory = _MemoryCounters()

    @property
    def enabled(self) -> bool:
        return self.settings.backend != "off"

    async def check_request(self, who: str, limit: int | None = None) -> Verdict:
        """Count one request for `who` in the current minute (against `limit`, else `requests_per_minute`)."""
        if not self.enabled:
            return Verdict(True)
        limit = limit or self.settings.requests_per_minute
        now = time.time()
        minute = int(now // 60)
        count = None
        if self.redis is not None:
            key = f"{KEY_PREFIX}:{who}:{minute}"

            async def incr(client):  # type: ignore[no-untyped-def]
                async with client.pipeline(transaction=True) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, 120)
                    return (await pipe.execute())[0]

            count = await self.redis.call(incr, "rate limiting")
        if count is None:
            count = self.memory.hit(who, minute)
        if count > limit:
            retry = max(1, int(60 - now % 60) + 1)
            return Verdict(False, retry, f"more than {limit} requests per minute")
        return Verdict(True)

    async def exhausted(self, who: str, limit: int) -> Verdict:
        """Whether `who` has used up `limit` this minute, without counting a request."""
        if not self.enabled:
            return Verdict(True)
        now = time.time()
        minute = int(now // 60)
        count = None
        if self.redis is not None:
            key = f"{KEY_PREFIX}:{who}:{minute}"
            count = await self.redis.call(lambda c: c.get(key), "rate limiting")
        if count is None:
            window, count = self.memory.windows.get(who, (minute, 0))
            count = count if window == minute else 0
        if int(count) >= limit:
            return Verdict(False, max(1, int(60 - now % 60) + 1), f"more than {limit} requests per minute")
        return Verdict(True)

    async def open_stream(self, who: str) -> tuple[Verdict, bool]:
        """
        Take one of `who`'s stream slots.

        :returns: the verdict, and whether the slot was counted in Redis (give it back with `close_stream`).
        """
        if not self.enabled:
            return Verdict(True), False
        limit = self.settings.concurrent_streams
        over = Verdict(False, 5, f"more than {limit} concurrent streams")
        if self.redis is not None:
            key = f"{KEY_PREFIX}:streams:{who}"

            async def take(client):  # type: ignore[no-untyped-def]
                async with client.pipeline(transaction=True) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, STREAM_TTL_SECONDS)
                    return (await pipe.execute())[0]

            count = await self.redis.call(take, "stream limiting")
            if count is not None:
                if count > limit:
                    await self.close_stream(who, True)
                    return over, False
                return Verdict(True), True
        count = self.memory.streams.get(who, 0) + 1
        if count > limit:
            return over, False
        self.memory.streams[who] = count
        return Verdict(True), False

    async def close_stream(self, who: str, in_redis: bool) -> None:
        if not self.enabled:
            return
        if in_redis and self.redis is not None:
            await self.redis.call(lambda c: c.decr(f"{KEY_PREFIX}:streams:{who}"), "stream limiting")
            return
        self.memory.streams[who] = max(0, self.memory.streams.get(who, 1) - 1)
