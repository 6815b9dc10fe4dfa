"""French analysis and whole codes, in the real Elasticsearch and in the embedded BM25 store, on the same corpus."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch
from haystack import Document
from haystack_integrations.components.retrievers.elasticsearch import ElasticsearchBM25Retriever

from components.document_stores.elasticsearch_french import FrenchElasticsearchDocumentStore
from components.document_stores.local_bm25 import LocalBM25DocumentStore
from components.french_analysis import FrenchAnalyzer
from components.retrievers.local_bm25 import LocalBM25Retriever
from tests.integration.es_server import elasticsearch_url  # noqa: F401  (a fixture)

pytestmark = pytest.mark.integration

CORPUS = [
    Document(id="a2458", content="Compte rendu de chantier de l'affaire A2458 : enrobés posés."),
    Document(id="a2459", content="Compte rendu de chantier de l'affaire A2459 : enrobés posés."),
    Document(id="nfp", content="Enrobés conformes à la norme NF P 98-331 pour les tranchées."),
    Document(id="nfp150", content="Enrobés conformes à la norme NF P 98-150 pour les tranchées."),
    Document(id="nfen", content="Essais selon NF EN 13108-1, enrobés bitumineux."),
    Document(id="bb010", content="Couche de roulement en BB 0/10 sur la chaussée."),
    Document(id="bb014", content="Couche de roulement en BB 0/14 sur la chaussée."),
    Document(id="gnt", content="Couche de forme en GNT 0/31,5 compactée."),
    Document(id="gnt20", content="Couche de forme en GNT 0/20 compactée."),
    Document(id="nov", content="Situation de travaux de la période 2025-11, chantier."),
    Document(id="oct", content="Situation de travaux de la période 2025-10, chantier."),
    Document(id="f0412", content="Facture F2025-0412 : situation de travaux n° 2.", meta={"title": "Facture (A2511)"}),
    Document(id="f0413", content="Facture F2025-0413 : situation de travaux n° 3."),
    Document(id="eglise", content="Réfection du parvis de l'Église et des trottoirs réalisés en béton désactivé."),
]
QUERIES = [
    ("Où en est l'affaire A2458 ?", "a2458"),
    ("Quelles tranchées suivent la NF P 98-331 ?", "nfp"),
    ("norme NF EN 13108-1", "nfen"),
    ("Où a-t-on mis du BB 0/10 ?", "bb010"),
    ("Quelle couche de forme en GNT 0/31,5 ?", "gnt"),
    ("situation de travaux 2025-11", "nov"),
    ("Montant de la facture F2025-0412", "f0412"),
    ("facture de l'affaire A2511", "f0412"),  # the title is searched too
    ("trottoir realise en beton devant l'eglise", "eglise"),  # accents, plural, inflection
]


@pytest.fixture(scope="module")
def elasticsearch(elasticsearch_url: str) -> Iterator[FrenchElasticsearchDocumentStore]:  # noqa: F811
    index = f"test_french_{uuid.uuid4().hex[:8]}"
    store = FrenchElasticsearchDocumentStore(hosts=elasticsearch_url, index=index, number_of_replicas=0)
    store.write_documents(CORPUS)
    yield store
    store.close()
    Elasticsearch(elasticsearch_url).indices.delete(index=index)


@pytest.fixture(scope="module")
def local_bm25(tmp_path_factory: pytest.TempPathFactory) -> LocalBM25DocumentStore:
    store = LocalBM25DocumentStore(path=str(tmp_path_factory.mktemp("bm25") / "bm25"))
    store.write_documents(CORPUS)
    return store


def test_the_index_is_created_with_the_french_analysis(elasticsearch, elasticsearch_url):  # noqa: F811
    es = Elasticsearch(elasticsearch_url)
    index = elasticsearch._index
    settings = es.indices.get_settings(index=index)[index]["settings"]["index"]
    assert set(settings["analysis"]["analyzer"]) == {"french_custom", "code_analyzer"}
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert mapping["content"]["analyzer"] == "french_custom"
    assert mapping["content"]["fields"]["codes"]["analyzer"] == "code_analyzer"
    tokens = es.indices.analyze(index=index, analyzer="french_custom", text="L'Église et les trottoirs réalisés")
    assert [t["token"] for t in tokens["tokens"]] == ["eglis", "trotoi", "realis"]


@pytest.mark.parametrize(
    "text",
    [
        "La chaussée en BB 0/10 (norme NF P 98-331), affaire A2458.",
        "Mise en œuvre : NF EN 13108-1 ; GNT 0/31,5. Facture **F2025-0412**, l'A2511, période 2025-11, RD 912.",
    ],
)
def test_elasticsearch_codes_field_holds_every_python_code(elasticsearch, elasticsearch_url, text):  # noqa: F811
    index = elasticsearch._index
    analyzed = Elasticsearch(elasticsearch_url).indices.analyze(index=index, analyzer="code_analyzer", text=text)
    codes = FrenchAnalyzer().codes(text)
    assert codes
    assert set(codes) <= {t["token"] for t in analyzed["tokens"]}


@pytest.mark.parametrize(("query", "expected"), QUERIES)
def test_elasticsearch_ranks_the_document_with_the_code_first(elasticsearch, query, expected):
    found = ElasticsearchBM25Retriever(document_store=elasticsearch, fuzziness="0").run(query=query)["documents"]
    assert found[0].id == expected
    assert len(found) == 1 or found[0].score > found[1].score


@pytest.mark.parametrize(("query", "expected"), QUERIES)
def test_embedded_store_ranks_the_document_with_the_code_first(local_bm25, query, expected):
    found = LocalBM25Retriever(document_store=local_bm25).run(query=query)["documents"]
    assert found[0].id == expected
    assert len(found) == 1 or found[0].score > found[1].score


def test_a_neighbouring_code_is_not_matched(elasticsearch, local_bm25):
    for retriever in (
        ElasticsearchBM25Retriever(document_store=elasticsearch, fuzziness="0"),
        LocalBM25Retriever(document_store=local_bm25),
    ):
        assert [d.id for d in retriever.run(query="A2458")["documents"]] == ["a2458"]
        assert retriever.run(query="A2460")["documents"] == []


def test_an_existing_index_is_used_as_it_is(elasticsearch, elasticsearch_url):  # noqa: F811
    again = FrenchElasticsearchDocumentStore(hosts=elasticsearch_url, index=elasticsearch._index)
    assert again.count_documents() == len(CORPUS)
    again.close()
