from typing import Any

import pytest
from gateway_testing import with_sections
from haystack import Document, component
from haystack.document_stores.in_memory import InMemoryDocumentStore

from components.retrievers import FaultTolerantRetriever
from components.retrievers.access_scope import (
    and_filters,
    close_scope,
    open_scope,
    trust_callers_outside_requests,
)
from service.gateway.access import AccessDeniedError, scope_for, validate_filters
from service.gateway.config import AccessSettings
from service.gateway.context import Principal

pytestmark = pytest.mark.unit

RULES = AccessSettings(
    rules=[
        {"name": "admins", "roles": ["admin"], "filters": None},
        {
            "name": "own-affairs",
            "roles": ["conducteur"],
            "filters": {"field": "meta.code_affaire", "operator": "in", "value": {"claim": "ao_ids"}},
        },
        {
            "name": "public",
            "groups": ["externes"],
            "filters": {"field": "meta.document_type", "operator": "==", "value": "note_publique"},
        },
    ]
)

DOCS = [
    Document(
        id="a1",
        content="délai de la RD 912 : 10 semaines",
        meta={"code_affaire": "A2458", "document_type": "compte_rendu"},
    ),
    Document(
        id="a2",
        content="délai du parking : 6 semaines",
        meta={"code_affaire": "A2511", "document_type": "compte_rendu"},
    ),
    Document(
        id="a3", content="délai annoncé au public", meta={"code_affaire": "A9999", "document_type": "note_publique"}
    ),
]


@component
class FilteringRetriever:
    """Every document of the store its filters let through (the retriever the scope wraps, minus any ranking)."""

    def __init__(self, store: InMemoryDocumentStore) -> None:
        self.document_store = store

    @component.output_types(documents=list[Document])
    def run(self, query: str, filters: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"documents": self.document_store.filter_documents(filters)}


@pytest.fixture
def store() -> InMemoryDocumentStore:
    store = InMemoryDocumentStore()
    store.write_documents(DOCS)
    return store


def _as(principal: Principal):
    """What the gateway does for a request: open its scope, grant the principal's."""
    scope, token = open_scope()
    scope.grant(scope_for(principal, RULES))
    return token


def _visible(store, requested) -> set[str]:
    retriever = FaultTolerantRetriever(FilteringRetriever(store), backend="bm25")
    return {d.id for d in retriever.run(query="délai", filters=requested)["documents"]}


CONDUCTEUR = Principal("bob", "user", roles=frozenset({"conducteur"}), ao_ids=("A2458",))


def test_rules_map_claims_to_filters():
    assert scope_for(Principal("a", "user", roles=frozenset({"admin"})), RULES) is None
    assert scope_for(CONDUCTEUR, RULES) == {"field": "meta.code_affaire", "operator": "in", "value": ["A2458"]}
    with pytest.raises(AccessDeniedError):
        scope_for(Principal("x", "user", roles=frozenset({"stagiaire"})), RULES)


def test_several_matching_rules_are_or_ed():
    both = Principal("c", "user", roles=frozenset({"conducteur"}), groups=frozenset({"externes"}), ao_ids=("A2511",))
    assert scope_for(both, RULES)["operator"] == "OR"


def test_scope_limits_what_a_user_sees(store):
    token = _as(CONDUCTEUR)
    try:
        assert _visible(store, None) == {"a1"}
    finally:
        close_scope(token)


@pytest.mark.parametrize(
    "widening",
    [
        {"field": "meta.code_affaire", "operator": "==", "value": "A2511"},
        {"field": "meta.code_affaire", "operator": "in", "value": ["A2458", "A2511", "A9999"]},
        {
            "operator": "OR",
            "conditions": [
                {"field": "meta.code_affaire", "operator": "==", "value": "A2511"},
                {"field": "meta.document_type", "operator": "==", "value": "note_publique"},
            ],
        },
        {"operator": "NOT", "conditions": [{"field": "meta.code_affaire", "operator": "==", "value": "A2458"}]},
    ],
)
def test_a_widening_request_filter_returns_nothing_outside_the_scope(store, widening):
    token = _as(CONDUCTEUR)
    try:
        assert _visible(store, widening) <= {"a1"}
    finally:
        close_scope(token)


def test_a_narrowing_request_filter_narrows(store):
    admin = Principal("a", "user", roles=frozenset({"admin"}))
    token = _as(admin)
    try:
        assert _visible(store, None) == {"a1", "a2", "a3"}
        assert _visible(store, {"field": "meta.code_affaire", "operator": "==", "value": "A2511"}) == {"a2"}
    finally:
        close_scope(token)


@pytest.fixture
def untrusted_process():
    """A process that has not declared its callers trusted: the served app."""
    trust_callers_outside_requests(False)
    yield
    trust_callers_outside_requests(True)  # tests/unit/conftest.py: the tests are trusted callers


def test_outside_a_request_a_served_process_sees_no_document(store, untrusted_process):
    assert _visible(store, None) == set()
    assert _visible(store, {"field": "meta.code_affaire", "operator": "==", "value": "A2511"}) == set()


def test_a_request_whose_scope_was_never_granted_sees_no_document(store):
    _, token = open_scope()  # the gateway opened the request, and refused or failed before granting
    try:
        assert _visible(store, None) == set()
    finally:
        close_scope(token)


def test_outside_a_request_a_trusted_process_gets_its_filters_unchanged(store):
    assert _visible(store, {"field": "meta.code_affaire", "operator": "==", "value": "A2511"}) == {"a2"}
    assert _visible(store, None) == {"a1", "a2", "a3"}
    assert and_filters(None, None) is None


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"field": "meta.secret_level", "operator": "==", "value": 1}, "unknown filter field"),
        ({"field": "meta.code_affaire", "operator": "~=", "value": 1}, "unknown operator"),
        ({"operator": "AND", "conditions": []}, "non-empty"),
        ({"field": "meta.code_affaire", "operator": "in", "value": "A2458"}, "needs a list"),
        ("meta.code_affaire", "must be an object"),
    ],
)
def test_invalid_request_filters_are_named(filters, message):
    with pytest.raises(ValueError, match=message):
        validate_filters(filters, AccessSettings().filter_fields)


def test_two_users_with_different_scopes_get_their_own_answers(settings, client_for):
    """Through the real middleware: the same question, two API keys with different claims, the answer cache on."""
    from service.gateway.auth import hash_api_key

    keys = [
        {"name": "bob", "sha256": hash_api_key("key-bob"), "roles": ["conducteur"], "ao_ids": ["A2458"]},
        {"name": "eve", "sha256": hash_api_key("key-eve"), "roles": ["conducteur"], "ao_ids": ["A2511"]},
        {"name": "bob2", "sha256": hash_api_key("key-bob2"), "roles": ["conducteur"], "ao_ids": ["A2458"]},
    ]
    client = client_for(
        with_sections(
            settings,
            auth={"mode": "required", "api_keys": keys},
            access=RULES.model_dump(),
            cache={"backend": "memory"},
        )
    )
    question = {"query": "Quel est le délai ?"}
    bob = client.post("/rag/run", json=question, headers={"x-api-key": "key-bob"})
    eve = client.post("/rag/run", json=question, headers={"x-api-key": "key-eve"})
    assert bob.headers["x-cache"] == eve.headers["x-cache"] == "miss"
    assert bob.json()["filters"]["value"] == ["A2458"]
    assert eve.json()["filters"]["value"] == ["A2511"]
    # Same scope, same (normalised) question: served from the cache.
    again = client.post("/rag/run", json={"query": "  quel est le DÉLAI ? "}, headers={"x-api-key": "key-bob2"})
    assert again.headers["x-cache"] == "hit"
    assert again.json() == bob.json()
