"""
The documents the current caller may see, applied by every retriever of a graph: fail closed.

The gateway opens an `AccessScope` for each request (`open_scope`) and grants it the caller's scope once it knows
the caller (`AccessScope.grant`: a Haystack filter, or None for every document). `FaultTolerantRetriever` ANDs that
scope with the filters it is given, so a request's own `filters` can narrow what it sees, never widen it.

Outside a request (a background task, a future route that forgets the gateway, a thread started without the
request's context) no scope is open, and the process decides: it gets **no documents** unless it has declared its
callers trusted with `trust_callers_outside_requests()`, as the CLI, the benchmarks and the tests do. The served
app never declares it.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

_TRUSTED_OUTSIDE_REQUESTS = [False]


@dataclass
class AccessScope:
    """One request's document scope; nothing is visible until the gateway grants it."""

    granted: bool = False
    filters: dict[str, Any] | None = None  # None: every document

    def grant(self, filters: dict[str, Any] | None) -> None:
        self.granted, self.filters = True, filters


_CURRENT: ContextVar[AccessScope | None] = ContextVar("rag_access_scope", default=None)


def open_scope() -> tuple[AccessScope, Token]:
    scope = AccessScope()
    return scope, _CURRENT.set(scope)


def close_scope(token: Token) -> None:
    _CURRENT.reset(token)


def trust_callers_outside_requests(trusted: bool = True) -> None:
    """Declare this process's graph runs outside a request trusted (every document), or not (none)."""
    _TRUSTED_OUTSIDE_REQUESTS[0] = trusted


def and_filters(scope: dict[str, Any] | None, requested: dict[str, Any] | None) -> dict[str, Any] | None:
    """Both filters must hold."""
    if not scope:
        return requested or None
    if not requested:
        return scope
    return {"operator": "AND", "conditions": [scope, requested]}


def scoped_filters(requested: dict[str, Any] | None) -> tuple[bool, dict[str, Any] | None]:
    """
    :returns: (allowed, filters): whether the current caller may see any document, and the filters a retriever
        must apply (the caller's scope AND `requested`).
    """
    scope = _CURRENT.get()
    if scope is None:
        return _TRUSTED_OUTSIDE_REQUESTS[0], requested or None
    if not scope.granted:
        return False, None
    return True, and_filters(scope.filters, requested)
