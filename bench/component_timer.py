"""A Haystack tracer that adds up how long each component of a graph ran (for the benchmark scripts)."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from haystack.tracing import Span, Tracer


class _Span(Span):
    def set_tag(self, key: str, value: Any) -> None:
        pass


class ComponentTimer(Tracer):
    """Seconds spent in each component, by component name, since creation (or since `seconds` was reset)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def trace(
        self, operation_name: str, tags: dict[str, Any] | None = None, parent_span: Span | None = None
    ) -> Iterator[Span]:
        started = time.perf_counter()
        try:
            yield _Span()
        finally:
            if operation_name == "haystack.component.run" and tags:
                self.seconds[tags["haystack.component.name"]] += time.perf_counter() - started

    def current_span(self) -> Span | None:
        return None
