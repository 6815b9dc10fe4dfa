"""Where the time goes, per request: stage timings from Haystack's tracer, one JSON access-log line, metrics."""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from haystack import tracing
from haystack.tracing import Span, Tracer
from prometheus_client import Counter, Gauge, Histogram

from service.gateway.context import RequestContext, current_request

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


class AccessLog:
    """
    Access lines go to stdout as bare JSON (one object per line), whatever else logs; the event loop only queues each
    line, a writer thread writes them.

    Written from the loop, a line waited for stdout: a write held up by the file or pipe behind it stopped every
    request (one 185 ms stall in `StreamHandler.emit` in a py-spy profile of bench/load.py at N=32). The queue is a
    `queue.SimpleQueue` of finished strings, not a `logging` handler chain: with `logging.handlers.QueueHandler` each
    line cost the loop a `LogRecord`, its copy, a caller lookup and a `threading.Condition` wake-up, ~11 % of the
    loop's time on cached answers (py-spy, bench/load.py --mix repeated=1). The writer wakes every `interval`
    seconds and writes what has queued, rather than waiting in `get()`: woken by every line, it took the GIL from
    the loop once per request (another ~12 % of the loop's time).
    """

    def __init__(self, interval: float = 0.1) -> None:
        """:param interval: How often the writer writes what has queued (seconds)."""
        self.interval = interval
        self._lines: queue.SimpleQueue[str | threading.Event | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_lines, name="access-log", daemon=True)
        self._writer.start()
        atexit.register(self.close)

    def write(self, line: str) -> None:
        self._lines.put(line)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every line queued so far is written."""
        written = threading.Event()
        self._lines.put(written)
        written.wait(timeout)

    def close(self) -> None:
        """Write what is still queued, then stop the writer."""
        if self._writer.is_alive():
            self._lines.put(None)
            self._writer.join(timeout=5.0)

    def _write_lines(self) -> None:
        while self._drain():
            time.sleep(self.interval)

    def _drain(self) -> bool:
        """Write everything queued, in one write; False once `close` asked the writer to stop."""
        batch: list[str] = []
        while True:
            try:
                item = self._lines.get_nowait()
            except queue.Empty:
                self._emit(batch)
                return True
            if isinstance(item, str):
                batch.append(item)
                continue
            self._emit(batch)
            batch = []
            if item is None:
                return False
            item.set()  # a flush: everything before it is written

    @staticmethod
    def _emit(batch: list[str]) -> None:
        if not batch:
            return
        try:
            sys.stdout.write("\n".join(batch) + "\n")  # whatever sys.stdout is now (tests replace it)
            sys.stdout.flush()
        except (OSError, ValueError):  # stdout closed or gone: the lines are lost, the service goes on
            pass


_access_log: AccessLog | None = None  # one writer thread per process, started by configure_access_log


def configure_access_log(level: str) -> None:
    """
    Start the access log's writer (once per process) and set the gateway's own log level.

    uvicorn's own access line is silenced: Hayhooks' `create_app` hands the `uvicorn.access` logger to loguru again
    after uvicorn was told `access_log=False`, and uvicorn writes its line whenever that logger has a handler. Call
    this after `create_app()`.
    """
    global _access_log  # noqa: PLW0603
    if _access_log is None:
        _access_log = AccessLog()
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers = []
    uvicorn_access.propagate = False
    logging.getLogger("service.gateway").setLevel(level.upper())


def flush_access_log() -> None:
    """Wait until every access line queued so far is written."""
    if _access_log is not None:
        _access_log.flush()


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
        "worker": os.getpid(),  # the process that served it (several per replica with server.workers > 1)
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
    if log and _access_log is not None:
        _access_log.write(json.dumps(line, ensure_ascii=False))
    return line
