"""What the gateway knows about the request being served, reachable from anywhere in its task (a ContextVar)."""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from components.retrievers.access_scope import AccessScope


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user (JWT) or a service account (API key)."""

    name: str
    kind: str  # "user", "api_key" or "dev"
    roles: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    service: str | None = None
    ao_ids: tuple[str, ...] = ()
    # When its credentials stop being valid (a JWT's `exp`, seconds since the epoch); None: they do not expire.
    expires_at: float | None = None

    def attribute(self, name: str) -> Any:
        """`roles`, `groups`, `service`, `ao_ids` or `name`, as plain lists/strings (for `{claim: ...}` values)."""
        value = getattr(self, name)
        return sorted(value) if isinstance(value, frozenset) else list(value) if isinstance(value, tuple) else value


@dataclass
class RequestContext:
    """One request, as the gateway sees it; filled while the request runs, logged at its end."""

    request_id: str
    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    principal: Principal | None = None
    # The principal's document scope, granted by the gateway once it knows the caller; the retrievers apply it.
    access: AccessScope = field(default_factory=AccessScope)
    model: str | None = None
    mode: str | None = None  # "rag" or "chat"
    stream: bool = False
    cache: str = "none"  # "hit", "miss", "bypass", "error" or "none"
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds (embedding, retrieval, ...)

    def add_timing(self, stage: str, seconds: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds


CURRENT_REQUEST: ContextVar[RequestContext | None] = ContextVar("rag_gateway_request", default=None)


def current_request() -> RequestContext | None:
    return CURRENT_REQUEST.get()


def current_principal() -> Principal | None:
    ctx = CURRENT_REQUEST.get()
    return ctx.principal if ctx is not None else None
