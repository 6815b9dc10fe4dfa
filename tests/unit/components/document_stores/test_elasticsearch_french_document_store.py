import pytest
from haystack.utils import Secret

from components.document_stores.elasticsearch_french import FrenchElasticsearchDocumentStore
from components.document_stores.elasticsearch_french.document_store import french_mapping
from components.french_analysis import ELASTICSEARCH_ANALYSIS

pytestmark = pytest.mark.unit

TYPE = "components.document_stores.elasticsearch_french.document_store.FrenchElasticsearchDocumentStore"


@pytest.fixture
def store() -> FrenchElasticsearchDocumentStore:
    return FrenchElasticsearchDocumentStore(hosts="http://127.0.0.1:9", index="docs")  # never contacted


def test_init_defaults(store):
    assert store.analysis == ELASTICSEARCH_ANALYSIS
    assert store.meta_fields_to_search == ["title"]
    assert store._custom_mapping == french_mapping(["title"])
    assert store._index_settings() == {"number_of_shards": 1, "analysis": ELASTICSEARCH_ANALYSIS}
    assert store._client is None  # nothing contacted before the first operation


def test_mapping():
    mapping = french_mapping(["title", "client"])
    content = mapping["properties"]["content"]
    assert (content["analyzer"], content["fields"]["codes"]["analyzer"]) == ("french_custom", "code_analyzer")
    assert mapping["properties"]["client"]["type"] == "keyword"  # exact filters stay exact
    assert set(mapping["properties"]["client"]["fields"]) == {"text", "codes"}
    assert mapping["properties"]["embedding"] == {"type": "object", "enabled": False}
    assert mapping["properties"]["publish_date"]["type"] == "date"


def test_to_dict_from_dict_round_trip():
    store = FrenchElasticsearchDocumentStore(
        hosts="http://es:9200",
        index="rag_documents",
        number_of_replicas=0,
        codes_boost=3.0,
        api_key=Secret.from_env_var("ES_KEY", strict=False),
    )
    data = store.to_dict()
    assert data["type"] == TYPE
    params = data["init_parameters"]
    assert params["analysis"] == ELASTICSEARCH_ANALYSIS
    assert (params["codes_boost"], params["number_of_replicas"], params["index"]) == (3.0, 0, "rag_documents")
    assert params["api_key"] == {"type": "env_var", "env_vars": ["ES_KEY"], "strict": False}
    restored = FrenchElasticsearchDocumentStore.from_dict(data)
    assert restored.to_dict() == data


def test_bm25_body_matches_text_and_codes(store):
    filters = {"field": "meta.theme", "operator": "==", "value": "voirie"}
    body = store._bm25_body("Enrobé BB 0/10 de l'affaire A2458 ?", filters, "0", 20)
    assert body["size"] == 20
    query = body["query"]["bool"]
    assert query["minimum_should_match"] == 1
    assert query["filter"] == {"bool": {"must": {"term": {"theme": "voirie"}}}}
    assert {"match": {"content": {"query": "Enrobé BB 0/10 de l'affaire A2458 ?"}}} in query["should"]
    terms = [c["term"] for c in query["should"] if "term" in c]
    assert {"content.codes": {"value": "bb 0/10", "boost": 2.0}} in terms
    assert {"title.codes": {"value": "a2458", "boost": 2.0}} in terms
    assert len(terms) == 3 * 2  # 0/10, bb 0/10, a2458 on content and title


def test_bm25_body_fuzziness(store):
    assert (
        "fuzziness" not in store._bm25_body("chaussée", None, "0", 5)["query"]["bool"]["should"][0]["match"]["content"]
    )
    fuzzy = store._bm25_body("chaussée", None, "AUTO", 5)["query"]["bool"]["should"][0]["match"]["content"]
    assert fuzzy["fuzziness"] == "AUTO"
    with pytest.raises(ValueError, match="non empty"):
        store._bm25_body("", None, "0", 5)
