"""Where the time goes, per request: stage timings from Haystack's tracer, one JSON access-log line, metrics."""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import queue
import sys
import time
from collections.abc import Iterator
from logging.handlers import QueueHandler, QueueListener
from typing import Any

from haystack import tracing
from haystack.tracing import Span, Tracer
from prometheus_client import Counter, Gauge, Histogram

from service.gateway.context import RequestContext, current_request

access_logger = logging.getLogger("service.access")

COMPONENT_SPAN = "haystack.component.run"
# Stage of a component, from its fully qualified class name (case-insensitive substring, first match wins);
# anything else (classifiers, prompt and answer builders) is timed as `other_components`.
STAGES = (
    ("embedder", "embedding"),
    ("retriever", "retrieval"),
    ("joiner", "retrieval"),
    ("ranker", "ranking"),
    ("generator", "llm"),
)
MODEL_STAGES = ("embedding", "retrieval", "ranking", "llm")

REQUESTS = Counter("rag_requests_total", "HTTP requests", ["route", "status", "mode"])
LATENCY = Histogram(
    "rag_request_seconds",
    "HTTP request latency (until the last byte)",
    ["route", "mode"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80),
)
STAGE_SECONDS = Histogram(
    "rag_stage_seconds",
    "Time spent per stage of a graph run",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40),
)
OVERHEAD = Histogram(
    "rag_gateway_overhead_seconds",
    "Request time outside embedding, retrieval, ranking and the LLM",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1),
)
CACHE = Counter("rag_cache_total", "Answer cache lookups", ["result"])
RATE_LIMITED = Counter("rag_rate_limited_total", "Requests refused by the rate limiter", ["reason"])
AUTH_FAILURES = Counter("rag_auth_failures_total", "Requests refused by authentication or access rules", ["status"])
DEGRADED = Counter("rag_retrieval_degraded_total", "Retrievals served without a store that was down", ["backend"])
BACKEND_UP = Gauge("rag_backend_up", "1 when the backend answered the last readiness check", ["backend"])


def stage_of(component_type: str) -> str | None:
    lowered = component_type.lower()
    return next((stage for needle, stage in STAGES if needle in lowered), None)


class StageTimingTracer(Tracer):
    """Time every component run into the current request's context; everything else goes to the wrapped tracer."""

    def __init__(self, inner: Tracer) -> None:
        self.inner = inner

    @contextlib.contextmanager
    def trace(
        self, operation_name: str, tags: dict[str, Any] | None = None, parent_span: Span | None = None
    ) -> Iterator[Span]:
        ctx = current_request() if operation_name == COMPONENT_SPAN else None
        started = time.perf_counter()
        with self.inner.trace(operation_name, tags=tags, parent_span=parent_span) as span:
            try:
                yield span
            finally:
                if ctx is not None:
                    tags = tags or {}
                    kind = tags.get("haystack.component.fully_qualified_type") or tags.get("haystack.component.type")
                    stage = stage_of(str(kind or ""))
                    ctx.add_timing(stage or "other_components", time.perf_counter() - started)

    def current_span(self) -> Span | None:
        return self.inner.current_span()


def install_stage_timing() -> None:
    """Put the timing tracer in front of whatever tracer Haystack has (idempotent)."""
    actual = tracing.tracer.actual_tracer
    if not isinstance(actual, StageTimingTracer):
        tracing.enable_tracing(StageTimingTracer(actual))


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever `sys.stdout` is at the time (it may be replaced after start-up)."""

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # type: ignore[no-untyped-def]
        pass


_lines: queue.Queue[logging.LogRecord] | None = None  # access lines on their way to the writer thread


def configure_access_log(level: str) -> None:
    """
    Access lines go to stdout as bare JSON (one object per line), whatever else logs.

    The event loop only queues each line; a writer thread (`logging.handlers.QueueListener`) writes it. Written from
    the loop, a line waited for stdout: a write held up by the file or pipe behind it stopped every request (one
    185 ms stall in `StreamHandler.emit` in a py-spy profile of bench/load.py at N=32).
    """
    global _lines  # noqa: PLW0603 (one writer thread per process, started once)
    if access_logger.handlers:
        return
    writer = _StdoutHandler()
    writer.setFormatter(logging.Formatter("%(message)s"))
    _lines = queue.Queue()
    listener = QueueListener(_lines, writer)
    listener.start()
    atexit.register(listener.stop)  # writes what is still queued, then stops
    access_logger.addHandler(QueueHandler(_lines))
    access_logger.setLevel(logging.INFO)
    access_logger.propagate = False
    logging.getLogger("service.gateway").setLevel(level.upper())


def flush_access_log() -> None:
    """Wait until every access line queued so far is written."""
    if _lines is not None:
        _lines.join()


def record(ctx: RequestContext, route: str, status: int, degraded: list[str], log: bool) -> dict[str, Any]:
    """Metrics and the access-log line for one finished request; returns the line's fields."""
    total = time.perf_counter() - ctx.started
    model_time = sum(ctx.timings.get(s, 0.0) for s in MODEL_STAGES)
    mode = ctx.mode or "none"
    REQUESTS.labels(route, str(status), mode).inc()
    LATENCY.labels(route, mode).observe(total)
    OVERHEAD.observe(max(0.0, total - model_time))
    for stage, seconds in ctx.timings.items():
        STAGE_SECONDS.labels(stage).observe(seconds)
    for backend in degraded:
        DEGRADED.labels(backend).inc()
    line = {
        "ts": round(time.time(), 3),
        "request_id": ctx.request_id,
        "user": ctx.principal.name if ctx.principal else None,
        "auth": ctx.principal.kind if ctx.principal else None,
        "method": ctx.method,
        "route": ctx.path,
        "model": ctx.model,
        "mode": ctx.mode,
        "stream": ctx.stream,
        "status": status,
        "cache": ctx.cache,
        "degraded": degraded or None,
        "ms": {
            **{stage: round(seconds * 1000, 2) for stage, seconds in sorted(ctx.timings.items())},
            "overhead": round(max(0.0, total - model_time) * 1000, 2),
            "total": round(total * 1000, 2),
        },
    }
    if log:
        access_logger.info(json.dumps(line, ensure_ascii=False))
    return line
