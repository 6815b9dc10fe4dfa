import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict, component_to_dict

from components.joiners import HybridFusionJoiner

pytestmark = pytest.mark.unit


def _docs(*pairs: tuple[str, float]) -> list[Document]:
    return [Document(id=doc_id, content=doc_id, score=score) for doc_id, score in pairs]


DENSE = _docs(("a", 0.90), ("b", 0.80), ("c", 0.70))
BM25 = _docs(("c", 30.0), ("d", 12.0), ("a", 10.0))


def _ids(result: dict) -> list[str]:
    return [d.id for d in result["documents"]]


def test_weighted_normalises_each_list_before_summing():
    result = HybridFusionJoiner(method="weighted").run(dense_documents=DENSE, bm25_documents=BM25)
    scores = {d.id: d.score for d in result["documents"]}
    # dense: a 1, b 0.5, c 0; bm25: c 1, d 0.1, a 0
    assert scores == pytest.approx({"a": 0.5, "b": 0.25, "c": 0.5, "d": 0.05})
    assert _ids(result)[2:] == ["b", "d"]


def test_weights_favour_a_retriever():
    dense_heavy = HybridFusionJoiner(method="weighted", dense_weight=0.8, bm25_weight=0.2)
    bm25_heavy = HybridFusionJoiner(method="weighted", dense_weight=0.2, bm25_weight=0.8)
    assert _ids(dense_heavy.run(dense_documents=DENSE, bm25_documents=BM25))[0] == "a"
    assert _ids(bm25_heavy.run(dense_documents=DENSE, bm25_documents=BM25))[0] == "c"


def test_rrf_uses_ranks_not_scores():
    result = HybridFusionJoiner(method="rrf", rrf_k=60).run(dense_documents=DENSE, bm25_documents=BM25)
    scores = {d.id: d.score for d in result["documents"]}
    assert scores["a"] == pytest.approx(0.5 / 61 + 0.5 / 63)
    assert scores["c"] == pytest.approx(0.5 / 63 + 0.5 / 61)
    assert scores["b"] == pytest.approx(0.5 / 62)
    assert set(_ids(result)[:2]) == {"a", "c"}


def test_each_document_once_top_k_and_inputs_untouched():
    result = HybridFusionJoiner(top_k=2).run(dense_documents=DENSE, bm25_documents=BM25)
    assert len(result["documents"]) == 2
    assert len(set(_ids(result))) == 2
    assert DENSE[0].score == 0.90


def test_one_list_missing():
    assert _ids(HybridFusionJoiner().run(bm25_documents=BM25)) == ["c", "d", "a"]
    assert HybridFusionJoiner().run() == {"documents": []}


def test_validation():
    with pytest.raises(ValueError, match="method"):
        HybridFusionJoiner(method="merge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="weights"):
        HybridFusionJoiner(dense_weight=0, bm25_weight=0)


def test_round_trip():
    joiner = HybridFusionJoiner(method="rrf", dense_weight=0.7, bm25_weight=0.3, rrf_k=10, top_k=50)
    data = component_to_dict(joiner, "joiner")
    assert data["init_parameters"] == {
        "method": "rrf",
        "dense_weight": 0.7,
        "bm25_weight": 0.3,
        "rrf_k": 10,
        "top_k": 50,
    }
    assert component_from_dict(HybridFusionJoiner, data, "joiner").rrf_k == 10
