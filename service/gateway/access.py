"""
Per-user access to documents: the principal's claims map, by `access.rules` in `hayhooks.yml`, to a Haystack filter
(its scope) that is AND-ed with whatever filters a request asks for. A request filter can narrow, never widen.

The gateway computes the scope once per request (`scope_for`) and grants it to the request's `AccessScope`
(`components.retrievers.access_scope`); every `FaultTolerantRetriever` of the graph applies it, and a graph run
outside a request sees no document unless its process declared its callers trusted.
"""

from __future__ import annotations

import json
from typing import Any

from service.gateway.config import AccessRule, AccessSettings
from service.gateway.context import Principal

COMPARISON_OPERATORS = {"==", "!=", ">", ">=", "<", "<=", "in", "not in"}
LOGICAL_OPERATORS = {"AND", "OR", "NOT"}


class AccessDeniedError(Exception):
    """No access rule gives this principal any document (403)."""


class InvalidFiltersError(ValueError):
    """A request filter that is not a Haystack filter over the allowed fields (400)."""


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
    value = filters["value"]
    if operator in {"in", "not in"}:
        if not isinstance(value, list) or len(value) > 256:
            raise InvalidFiltersError(f"{where}: '{operator}' needs a list of at most 256 values")
        if not all(isinstance(v, str | int | float | bool) for v in value):
            raise InvalidFiltersError(f"{where}: '{operator}' values must be strings, numbers or booleans")
    elif not isinstance(value, str | int | float | bool) and value is not None:
        raise InvalidFiltersError(f"{where}: 'value' must be a string, number, boolean or null")
