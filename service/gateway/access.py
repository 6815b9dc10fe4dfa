"""
Per-user access to documents: the principal's claims map, by `access.rules` in `hayhooks.yml`, to a Haystack filter
(its scope) that is AND-ed with whatever filters a request asks for. A request filter can narrow, never widen.

The gateway computes the scope once per request (`scope_for`) and grants it to the request's `AccessScope`
(`components.retrievers.access_scope`); every `FaultTolerantRetriever` of the graph applies it, and a graph run
outside a request sees no document unless its process declared its callers trusted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from service.gateway.config import AccessRule, AccessSettings
from service.gateway.context import Principal

COMPARISON_OPERATORS = {"==", "!=", ">", ">=", "<", "<=", "in", "not in"}
LOGICAL_OPERATORS = {"AND", "OR", "NOT"}


class AccessDeniedError(Exception):
    """No access rule gives this principal any document (403)."""


class InvalidFiltersError(ValueError):
    """A request filter that is not a Haystack filter over the allowed fields, or that a store cannot apply (422)."""


def _rule_applies(rule: AccessRule, principal: Principal) -> bool:
    if rule.roles and not principal.roles & set(rule.roles):
        return False
    if rule.groups and not principal.groups & set(rule.groups):
        return False
    return not (rule.services and principal.service not in rule.services)


def _substitute_claims(node: Any, principal: Principal) -> Any:
    if isinstance(node, dict):
        if set(node) == {"claim"}:
            return principal.attribute(node["claim"])
        return {k: _substitute_claims(v, principal) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute_claims(v, principal) for v in node]
    return node


def scope_for(principal: Principal, settings: AccessSettings) -> dict[str, Any] | None:
    """
    The documents a principal may see, as one Haystack filter (the OR of its matching rules' filters).

    :returns: the filter, or None when a matching rule allows every document.
    :raises AccessDeniedError: when no rule matches.
    """
    scopes = []
    for rule in settings.rules:
        if not _rule_applies(rule, principal):
            continue
        if rule.filters is None:
            return None
        scopes.append(_substitute_claims(rule.filters, principal))
    if not scopes:
        raise AccessDeniedError(f"no access rule gives '{principal.name}' any document")
    return scopes[0] if len(scopes) == 1 else {"operator": "OR", "conditions": scopes}


def rule_fields(settings: AccessSettings) -> set[str]:
    """The metadata fields (without `meta.`) the access rules filter on."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("field"), str):
                found.add(node["field"].removeprefix("meta."))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for rule in settings.rules:
        walk(rule.filters)
    return found


def upload_access_meta(principal: Principal, settings: AccessSettings) -> dict[str, Any]:
    """
    The metadata that decides who sees a document `principal` uploads: `access.upload_meta` filled from the
    principal, and null for every other field the access rules filter on (the file cannot set them).
    """
    meta: dict[str, Any] = dict.fromkeys(sorted(rule_fields(settings)))
    meta.update(_substitute_claims(settings.upload_meta, principal))
    return meta


def scope_key(scope: dict[str, Any] | None) -> str:
    """A stable text form of a scope, for cache keys."""
    return json.dumps(scope, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def validate_filters(filters: Any, allowed_fields: list[str], where: str = "filters") -> None:
    """
    Check a request filter's shape and fields.

    :raises InvalidFiltersError: with a message naming what is wrong.
    """
    if not isinstance(filters, dict):
        raise InvalidFiltersError(f"{where} must be an object")
    operator = filters.get("operator")
    if operator in LOGICAL_OPERATORS:
        conditions = filters.get("conditions")
        if set(filters) != {"operator", "conditions"} or not isinstance(conditions, list) or not conditions:
            raise InvalidFiltersError(f"{where}: '{operator}' needs only 'operator' and a non-empty 'conditions' list")
        if len(conditions) > 32:
            raise InvalidFiltersError(f"{where}: at most 32 conditions")
        for i, condition in enumerate(conditions):
            validate_filters(condition, allowed_fields, f"{where}.conditions[{i}]")
        return
    if operator not in COMPARISON_OPERATORS:
        known = ", ".join(sorted(COMPARISON_OPERATORS | LOGICAL_OPERATORS))
        raise InvalidFiltersError(f"{where}: unknown operator {operator!r} (use one of {known})")
    if set(filters) != {"field", "operator", "value"}:
        raise InvalidFiltersError(f"{where}: a comparison needs exactly 'field', 'operator' and 'value'")
    if filters["field"] not in allowed_fields:
        raise InvalidFiltersError(
            f"{where}: unknown filter field {filters['field']!r} (allowed: {', '.join(allowed_fields)})"
        )
    _check_value(filters, where)


def _check_value(filters: dict[str, Any], where: str) -> None:
    operator, value = filters["operator"], filters["value"]
    if operator in {"in", "not in"}:
        if not isinstance(value, list) or len(value) > 256:
            raise InvalidFiltersError(f"{where}: '{operator}' needs a list of at most 256 values")
        if not all(isinstance(v, str | int | float | bool) for v in value):
            raise InvalidFiltersError(f"{where}: '{operator}' values must be strings, numbers or booleans")
    elif not isinstance(value, str | int | float | bool) and value is not None:
        raise InvalidFiltersError(f"{where}: 'value' must be a string, number, boolean or null")
    elif operator in RANGE_OPERATORS and not _is_range_value(value):
        raise InvalidFiltersError(
            f"{where} ({filters['field']} {operator}): the value must be a number or an ISO date such as "
            f"'2025-03-31' (got {value!r})"
        )


RANGE_OPERATORS = {">", ">=", "<", "<="}


def _is_range_value(value: Any) -> bool:
    """What every store compares with `>`, `<`...: a number, or an ISO 8601 date (the stores' only ordered strings)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return False
        return True
    return False


FilterCheck = Callable[[dict[str, Any]], Any]


def store_filter_checks(stores_mode: str) -> dict[str, FilterCheck]:
    """
    Per store the graphs search, the conversion its retriever applies to a filter (it raises on a filter the store
    cannot apply). Both modes search Qdrant (the server, or Qdrant Edge through qdrant-haystack's own conversion);
    BM25 is Elasticsearch's query DSL, or Haystack's in-memory matcher in the embedded store.
    """
    from haystack_integrations.document_stores.qdrant.filters import convert_filters_to_qdrant  # noqa: PLC0415

    checks: dict[str, FilterCheck] = {"vector store (Qdrant)": convert_filters_to_qdrant}
    if stores_mode == "servers":
        from haystack_integrations.document_stores.elasticsearch.filters import _normalize_filters  # noqa: PLC0415

        checks["BM25 store (Elasticsearch)"] = _normalize_filters
    else:
        checks["BM25 store (embedded)"] = _match_a_probe_document
    return checks


def _match_a_probe_document(filters: dict[str, Any]) -> bool:
    """Haystack's matcher on a document holding, in the filtered field, a value of the filter value's own type."""
    from haystack import Document  # noqa: PLC0415
    from haystack.utils.filters import document_matches_filter  # noqa: PLC0415

    value = filters["value"]
    probe = value[0] if isinstance(value, list) and value else value
    field = filters["field"].removeprefix("meta.")
    return document_matches_filter(filters, Document(content="", meta={field: probe}))


def check_filters_apply(filters: dict[str, Any], checks: dict[str, FilterCheck], where: str = "filters") -> None:
    """
    Convert each comparison of a (validated) filter for every store the graphs search.

    :raises InvalidFiltersError: naming the comparison, its field and operator, and the store that cannot apply it.
    """
    if filters.get("operator") in LOGICAL_OPERATORS:
        for i, condition in enumerate(filters["conditions"]):
            check_filters_apply(condition, checks, f"{where}.conditions[{i}]")
        return
    for store, convert in checks.items():
        try:
            convert(filters)
        except Exception as e:
            raise InvalidFiltersError(
                f"{where} ({filters['field']} {filters['operator']} {filters['value']!r}): the {store} cannot "
                f"apply it: {e}"
            ) from None
