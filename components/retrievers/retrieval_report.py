"""Which retrieval backends failed, per request and per process: read by the gateway (503, headers, `/ready`).

The gateway opens a `RetrievalReport` for each request (`open_report`); the `FaultTolerantRetriever`s of the
request's graph run record their store's failures in it. Outside a request no report is open and nothing is
recorded per request. `BACKEND_STATUS` keeps, per backend, the time of its last failure and last success.
"""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar, Token
from dataclasses import dataclass, field


@dataclass
class RetrievalReport:
    """The backends that failed during one request."""

    failed: set[str] = field(default_factory=set)
    unavailable: bool = False  # every backend was down: the request could not be answered from the documents
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_failure(self, backend: str) -> set[str]:
        """:returns: every backend that failed so far in this request, this one included (atomic)."""
        with self._lock:
            self.failed.add(backend)
            return set(self.failed)


@dataclass
class BackendStatus:
    last_failure: float = 0.0
    last_success: float = 0.0
    last_error: str = ""

    def down_recently(self, within: float) -> bool:
        """Failed within `within` seconds and not answered since."""
        return self.last_failure > self.last_success and time.monotonic() - self.last_failure < within


BACKEND_STATUS: dict[str, BackendStatus] = {}
_CURRENT: ContextVar[RetrievalReport | None] = ContextVar("rag_retrieval_report", default=None)


def open_report() -> tuple[RetrievalReport, Token]:
    report = RetrievalReport()
    return report, _CURRENT.set(report)


def close_report(token: Token) -> None:
    _CURRENT.reset(token)


def current_report() -> RetrievalReport | None:
    return _CURRENT.get()


def record_success(backend: str) -> None:
    BACKEND_STATUS.setdefault(backend, BackendStatus()).last_success = time.monotonic()


def record_failure(backend: str, error: BaseException) -> set[str]:
    """Note a failure; :returns: the backends failed in the current request (just this one outside requests)."""
    status = BACKEND_STATUS.setdefault(backend, BackendStatus())
    status.last_failure = time.monotonic()
    status.last_error = f"{type(error).__name__}: {error}"[:300]
    report = current_report()
    return report.record_failure(backend) if report is not None else {backend}


def record_unavailable() -> None:
    """Note that the current request found every retrieval backend down."""
    report = current_report()
    if report is not None:
        report.unavailable = True
