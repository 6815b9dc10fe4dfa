"""One Redis connection shared by the cache and the rate limiter, which treat Redis as optional.

A failing Redis is marked down and not tried again for `redis.retry_after_seconds`: requests then go on without it
(no waiting on timeouts), the failure is logged once, and `/ready` shows it. The next try after that delay
reconnects by itself: no restart needed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis

from service.gateway.config import RedisSettings

logger = logging.getLogger("service.gateway")
T = TypeVar("T")


class RedisLink:
    """A lazily connected `redis.asyncio` client with a down-marker."""

    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.down_until = 0.0
        self.last_error: str | None = None

    def _get_client(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:  # one client per event loop (uvicorn worker)
            self._client = aioredis.Redis.from_url(
                self.settings.url,
                password=os.environ.get(self.settings.password_env) or None,
                socket_timeout=self.settings.timeout_seconds,
                socket_connect_timeout=self.settings.timeout_seconds,
                retry_on_timeout=False,
                health_check_interval=0,
            )
            self._loop = loop
        return self._client

    @property
    def available(self) -> bool:
        """False while Redis is marked down."""
        return time.monotonic() >= self.down_until

    async def call(self, operation: Callable[[Any], Awaitable[T]], what: str) -> T | None:
        """
        Run `operation(client)`; on any Redis or network error mark Redis down and return None.

        :param what: what the call was for, for the log line.
        """
        if not self.available:
            return None
        try:
            result = await operation(self._get_client())
        except Exception as e:  # never fail a request because of Redis
            self._mark_down(e, what)
            return None
        if self.last_error is not None:
            logger.warning("Redis is back (%s): cache and shared rate limits restored", self.settings.url)
            self.last_error = None
        return result

    def _mark_down(self, error: Exception, what: str) -> None:
        if self.last_error is None:
            logger.warning(
                "Redis unavailable during %s (%s: %s): going on without it, retrying in %.0f s",
                what,
                type(error).__name__,
                error,
                self.settings.retry_after_seconds,
            )
        self.last_error = f"{type(error).__name__}: {error}"
        self.down_until = time.monotonic() + self.settings.retry_after_seconds
        self._client = None  # reconnect from scratch next time

    async def ping(self) -> tuple[bool, str]:
        """For `/ready`: tries Redis even when marked down."""
        try:
            await self._get_client().ping()
        except Exception as e:
            self._mark_down(e, "readiness check")
            return False, f"{type(e).__name__}: {e}"
        if self.last_error is not None:
            logger.warning("Redis is back (%s)", self.settings.url)
        self.last_error = None
        self.down_until = 0.0
        return True, "ok"
