"""Haystack filters to Qdrant Edge filters, with the meaning qdrant-haystack gives them.

The Haystack filter is first converted by qdrant-haystack's own `convert_filters_to_qdrant` (so `!=` keeps documents
without the field, `NOT` excludes a document matching any of its conditions, ISO date strings compare as dates), then
its `qdrant_client` models are rewritten one to one into the `qdrant_edge` classes, which the engine takes instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import qdrant_edge as edge
from haystack.errors import FilterError
from haystack_integrations.document_stores.qdrant.filters import convert_filters_to_qdrant
from qdrant_client.http import models


def convert_filters_to_edge(filters: dict[str, Any] | models.Filter | None) -> edge.Filter | None:
    """
    :param filters: Haystack filters, or a native `qdrant_client` filter (as the Qdrant retriever takes).
    :returns: The Qdrant Edge filter, or `None` for no filter.
    :raises FilterError: The filter is malformed or uses a condition Qdrant Edge has no equivalent for.
    """
    qdrant_filter = convert_filters_to_qdrant(filters)
    return None if qdrant_filter is None else _filter(qdrant_filter)


def _filter(value: models.Filter) -> edge.Filter:
    def conditions(items: Any) -> list[Any] | None:
        if items is None:
            return None
        return [_condition(c) for c in (items if isinstance(items, list) else [items])]

    min_should = None
    if value.min_should is not None:
        min_should = edge.MinShould(conditions(value.min_should.conditions) or [], value.min_should.min_count)
    return edge.Filter(
        must=conditions(value.must),
        should=conditions(value.should),
        must_not=conditions(value.must_not),
        min_should=min_should,
    )


def _condition(value: Any) -> Any:
    if isinstance(value, models.Filter):
        return _filter(value)
    if isinstance(value, models.FieldCondition):
        return _field_condition(value)
    if isinstance(value, models.IsEmptyCondition):
        return edge.IsEmptyCondition(value.is_empty.key)
    if isinstance(value, models.IsNullCondition):
        return edge.IsNullCondition(value.is_null.key)
    if isinstance(value, models.HasIdCondition):
        return edge.HasIdCondition(set(value.has_id))
    msg = f"Qdrant Edge has no equivalent of the filter condition {type(value).__name__}"
    raise FilterError(msg)


def _field_condition(value: models.FieldCondition) -> edge.FieldCondition:
    unsupported = [
        name for name in ("geo_bounding_box", "geo_radius", "geo_polygon", "values_count") if getattr(value, name)
    ]
    if unsupported:
        msg = f"Qdrant Edge filters: '{unsupported[0]}' conditions are not supported (field {value.key})"
        raise FilterError(msg)
    return edge.FieldCondition(
        key=value.key,
        match=None if value.match is None else _match(value.match),
        range=None if value.range is None else _range(value.range),
        is_empty=value.is_empty,
        is_null=value.is_null,
    )


def _match(value: Any) -> Any:
    if isinstance(value, models.MatchValue):
        # qdrant-edge-py 0.9.0 reads a Python bool as the integer 1 (which matches no `true`); numpy's bool it reads
        # as a bool.
        return edge.MatchValue(np.bool_(value.value) if isinstance(value.value, bool) else value.value)
    if isinstance(value, models.MatchAny):
        return edge.MatchAny(list(value.any))
    if isinstance(value, models.MatchExcept):
        return edge.MatchExcept(list(value.except_))
    if isinstance(value, models.MatchText):
        return edge.MatchText(value.text)
    msg = f"Qdrant Edge filters: {type(value).__name__} is not supported"
    raise FilterError(msg)


def _range(value: Any) -> Any:
    bounds = {name: getattr(value, name) for name in ("gt", "gte", "lt", "lte")}
    if isinstance(value, models.DatetimeRange):
        return edge.RangeDateTime(**{k: _iso(v) for k, v in bounds.items()})
    return edge.RangeFloat(**{k: None if v is None else float(v) for k, v in bounds.items()})


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)
