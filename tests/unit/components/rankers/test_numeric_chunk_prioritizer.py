import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict, component_to_dict

from components.rankers import NumericChunkPrioritizer

pytestmark = pytest.mark.unit

QUESTION = "Quel est le montant de l'avenant de Bréchy ?"


def _docs() -> list[Document]:
    texts = {
        "prose1": "L'avenant de Bréchy modifie le planning des travaux de voirie.",
        "prose2": "Le chantier de Bréchy a été réceptionné sans réserve.",
        "unrelated_number": "La réunion 3 a eu lieu en salle B.",
        "figure": "Le montant de l'avenant n° 1 est de 45 300 € HT.",
        "prose3": "Les travaux reprennent lundi.",
    }
    return [Document(id=k, content=v, score=1.0 - i / 10) for i, (k, v) in enumerate(texts.items())]


def _ids(result: dict) -> list[str]:
    return [d.id for d in result["documents"]]


def test_chunk_with_the_figure_moves_ahead_for_a_figure_question():
    result = NumericChunkPrioritizer().run(query=QUESTION, documents=_docs(), query_class="question_chiffree")
    assert _ids(result)[0] == "figure"
    assert "unrelated_number" not in _ids(result)[:3]


def test_best_non_numeric_chunks_stay_in_the_lead():
    result = NumericChunkPrioritizer(lead=3, keep_best=2).run(
        query=QUESTION, documents=_docs(), query_class="question_chiffree"
    )
    assert _ids(result)[:3] == ["figure", "prose1", "prose2"]
    assert len(result["documents"]) == 5


def test_scores_stay_in_descending_order():
    result = NumericChunkPrioritizer().run(query=QUESTION, documents=_docs(), query_class="question_chiffree")
    scores = [d.score for d in result["documents"]]
    assert scores == sorted(scores, reverse=True)


def test_year_question_matches_a_year():
    prioritizer = NumericChunkPrioritizer()
    question = "En quelle année le viaduc a-t-il été ouvert ?"
    assert prioritizer.carries_relevant_figure(question, set(), "Il fut inauguré en mai 1998.")
    assert not prioritizer.carries_relevant_figure(question, set(), "Aucune date n'est connue.")


@pytest.mark.parametrize("query_class", ["autre", "fiche_identite"])
def test_other_classes_pass_through(query_class):
    result = NumericChunkPrioritizer().run(query=QUESTION, documents=_docs(), query_class=query_class)
    assert _ids(result) == [d.id for d in _docs()]


def test_window_limits_the_moves_and_disabled_passes_through():
    result = NumericChunkPrioritizer(window=2).run(query=QUESTION, documents=_docs(), query_class="question_chiffree")
    assert _ids(result) == [d.id for d in _docs()]
    disabled = NumericChunkPrioritizer(enabled=False)
    assert _ids(disabled.run(query=QUESTION, documents=_docs(), query_class="question_chiffree"))[0] == "prose1"


def test_round_trip():
    data = component_to_dict(NumericChunkPrioritizer(window=5, lead=1), "numeric_prioritizer")
    restored = component_from_dict(NumericChunkPrioritizer, data, "numeric_prioritizer")
    assert (restored.window, restored.lead, restored.keep_best) == (5, 1, 2)
