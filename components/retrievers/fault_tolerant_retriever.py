"""A retriever that survives its store being down: no documents instead of an exception, and a `degraded` flag."""

from __future__ import annotations

import logging
from typing import Any

from haystack import Document, component, default_to_dict
from haystack.core.serialization import component_from_dict, import_class_by_name
from haystack.errors import FilterError

from components.retrievers.access_scope import scoped_filters
from components.retrievers.retrieval_report import record_failure, record_success, record_unavailable

logger = logging.getLogger(__name__)


class RetrievalUnavailableError(RuntimeError):
    """Every retrieval backend of the request is down: the request cannot be answered from the documents (503)."""


def is_outage(error: BaseException) -> bool:
    """A store that cannot answer (connection, timeout, 5xx, 429), as opposed to a bad request or a bug."""
    if isinstance(error, FilterError | TypeError | KeyError | AttributeError):
        return False
    status = getattr(error, "status_code", None)
    if status is None:
        status = getattr(getattr(error, "meta", None), "status", None)  # elasticsearch ApiError
    return not (isinstance(status, int) and 400 <= status < 500 and status != 429)


@component
class FaultTolerantRetriever:
    """
    Wraps any retriever and takes the same inputs. When its store is down it logs the failure, records it for the
    gateway (`retrieval_report`), and returns no documents with `degraded: True`, so the other retriever of a
    hybrid graph answers alone. When every backend named in `alternatives` failed too in the same request, it
    raises `RetrievalUnavailableError` instead (nothing left to answer from).

    It also applies the caller's access scope (`access_scope`): the request's `filters` AND the scope; a run with
    no scope granted (outside a request, in a process that did not declare its callers trusted) gets no documents.
    """

    def __init__(self, retriever: Any, backend: str, alternatives: list[str] | None = None) -> None:
        """
        :param retriever: The wrapped retriever component (in YAML: its `type` and `init_parameters`).
        :param backend: The name the failures are reported under, e.g. "bm25" or "dense".
        :param alternatives: The backends that can answer when this one is down.
        """
        self.retriever = retriever
        self.backend = backend
        self.alternatives = list(alternatives or [])
        for name, socket in retriever.__haystack_input__._sockets_dict.items():
            component.set_input_type(self, name, socket.type, socket.default_value)

    @property
    def document_store(self) -> Any:
        """The wrapped retriever's store (so that `service.store_registry` can share it like any retriever's)."""
        return getattr(self.retriever, "document_store", None) or getattr(self.retriever, "_document_store", None)

    @document_store.setter
    def document_store(self, store: Any) -> None:
        attribute = "document_store" if hasattr(self.retriever, "document_store") else "_document_store"
        setattr(self.retriever, attribute, store)

    def warm_up(self) -> None:
        if hasattr(self.retriever, "warm_up"):
            self.retriever.warm_up()

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self, retriever=self.retriever.to_dict(), backend=self.backend, alternatives=self.alternatives
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultTolerantRetriever:
        params = dict(data.get("init_parameters", {}))
        inner = params["retriever"]
        if isinstance(inner, dict):
            inner_cls = import_class_by_name(inner["type"])
            params["retriever"] = component_from_dict(inner_cls, inner, "retriever")
        return cls(**params)

    @component.output_types(documents=list[Document], degraded=bool)
    def run(self, **kwargs: Any) -> dict[str, Any]:
        """
        :returns: `documents` from the wrapped retriever (none when its store is down), and `degraded`.
        """
        allowed, filters = scoped_filters(kwargs.get("filters"))
        if not allowed:
            logger.warning("Retriever '%s' ran with no access scope granted: no documents", self.backend)
            return {"documents": [], "degraded": False}
        if "filters" in kwargs or filters is not None:
            kwargs["filters"] = filters
        try:
            documents = self.retriever.run(**kwargs)["documents"]
        except Exception as e:
            if not is_outage(e):
                raise
            failed = record_failure(self.backend, e)
            logger.warning("Retrieval backend '%s' unavailable (%s: %s)", self.backend, type(e).__name__, e)
            if self.alternatives and set(self.alternatives) <= failed:
                record_unavailable()
                raise RetrievalUnavailableError(f"every retrieval backend is down ({', '.join(sorted(failed))})") from e
            return {"documents": [], "degraded": True}
        record_success(self.backend)
        return {"documents": documents, "degraded": False}
