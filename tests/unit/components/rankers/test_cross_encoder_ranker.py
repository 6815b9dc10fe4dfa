import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack_integrations.components.rankers.sentence_transformers.sentence_transformers_similarity import (
    SentenceTransformersSimilarityRanker,
)

from components.rankers import CrossEncoderRanker

pytestmark = pytest.mark.unit


class FakeCrossEncoder:
    """Scores a passage by the number of times it says "oui"; records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def rank(self, query, documents, **kwargs):
        self.calls.append(len(documents))
        scores = [float(d.count("oui")) for d in documents]
        order = sorted(range(len(documents)), key=lambda i: scores[i], reverse=True)
        return [{"corpus_id": i, "score": scores[i]} for i in order]


def _docs() -> list[Document]:
    texts = ["non", "oui", "oui oui oui", "non non", "oui oui"]
    return [Document(id=f"d{i}", content=t, score=1.0 - i / 10) for i, t in enumerate(texts)]


def _ranker(**kwargs) -> tuple[CrossEncoderRanker, FakeCrossEncoder]:
    ranker = CrossEncoderRanker(model="unused", top_k=5, scale_score=False, **kwargs)
    fake = FakeCrossEncoder()
    ranker._cross_encoder = fake
    return ranker, fake


def _ids(result: dict) -> list[str]:
    return [d.id for d in result["documents"]]


def test_is_a_sentence_transformers_ranker():
    assert isinstance(CrossEncoderRanker(model="unused"), SentenceTransformersSimilarityRanker)


def test_reranks_only_the_top_n():
    ranker, fake = _ranker(top_n=3)
    assert _ids(ranker.run(query="q", documents=_docs())) == ["d2", "d1", "d0", "d3", "d4"]
    assert fake.calls == [3]


def test_blend_keeps_part_of_the_fused_order():
    ranker, _ = _ranker(top_n=5, blend_weight=0.3)
    # fused (normalised): d0 1, d1 .75, d2 .5, d3 .25, d4 0; cross: d2 1, d4 .67, d1 .33, d0 0, d3 0
    # blended: d0 .7, d2 .65, d1 .625, d3 .175, d4 .2 -- neither the fused order nor the cross-encoder's
    assert _ids(ranker.run(query="q", documents=_docs())) == ["d0", "d2", "d1", "d4", "d3"]
    ranker, _ = _ranker(top_n=5, blend_weight=1.0)
    assert _ids(ranker.run(query="q", documents=_docs()))[:2] == ["d2", "d4"]


def test_disabled_loads_nothing_and_passes_through():
    ranker = CrossEncoderRanker(model="/no/such/model", top_k=2, enabled=False)
    ranker.warm_up()
    assert ranker._cross_encoder is None
    assert _ids(ranker.run(query="q", documents=_docs())) == ["d0", "d1"]


def test_validation():
    with pytest.raises(ValueError, match="top_n"):
        CrossEncoderRanker(model="m", top_n=0)
    with pytest.raises(ValueError, match="blend_weight"):
        CrossEncoderRanker(model="m", blend_weight=1.5)


def test_round_trip():
    ranker = CrossEncoderRanker(model="var/models/x", top_k=4, enabled=False, top_n=12, blend_weight=0.4)
    data = component_to_dict(ranker, "ranker")
    assert data["init_parameters"]["top_n"] == 12
    restored = component_from_dict(CrossEncoderRanker, data, "ranker")
    assert (restored.enabled, restored.top_n, restored.blend_weight, restored.top_k) == (False, 12, 0.4, 4)


async def test_run_async_passes_through_on_the_event_loop_when_switched_off():
    import threading

    ranker = CrossEncoderRanker(model="/no/such/model", top_k=2, enabled=False)
    seen = []
    run = ranker.run
    ranker.run = lambda **kw: seen.append(threading.get_ident()) or run(**kw)  # type: ignore[method-assign]
    result = await ranker.run_async(query="q", documents=[Document(content=c) for c in "abc"])
    assert [d.content for d in result["documents"]] == ["a", "b"]
    assert seen == [threading.get_ident()]


async def test_run_async_scores_in_a_worker_thread():
    import threading

    ranker, fake = _ranker()
    seen = []
    run = ranker.run
    ranker.run = lambda **kw: seen.append(threading.get_ident()) or run(**kw)  # type: ignore[method-assign]
    result = await ranker.run_async(query="q", documents=_docs())
    assert _ids(result) == ["d2", "d4", "d1", "d0", "d3"]
    assert fake.calls == [5]
    assert len(seen) == 1
    assert seen[0] != threading.get_ident()
