import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict, component_to_dict

from components.rankers.date_focus import DateFocus, days_in

pytestmark = pytest.mark.unit


def _passage(content: str, score: float) -> Document:
    return Document(content=content, score=score)


HEADING = _passage("Réunion de chantier n° 4 du mercredi 8 octobre 2025", 0.97)
PLANNING = _passage("Le planning indice B remplace l'indice A du 12 septembre 2025.", 0.96)
PROGRESS = _passage("Rabotage : 15 250 m² réalisés. Fin prévue le 14 octobre.", 0.85)
INCIDENT = _passage("Le lundi 6 octobre à 16 h 40, un véhicule léger a franchi le feu rouge.", 0.70)
PHASES = _passage("| Purges en GNT 0/31,5 | 06/10/2025 | 17/10/2025 | 10 |", 0.64)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Que s'est-il passé le 6 octobre 2025 ?", {(6, 10, 2025)}),
        ("Le lundi 6 octobre à 16 h 40", {(6, 10, None)}),
        ("le 1er mars", {(1, 3, None)}),
        ("| 06/10/2025 | 17/10/25 |", {(6, 10, 2025), (17, 10, 2025)}),
        ("réunion du 2025-10-08", {(8, 10, 2025)}),
        ("purge le 14/10", {(14, 10, None)}),
        ("BB 0/10, GNT 0/31,5, 3.5 m, NF P 98-331, PR 15+100, 6,5 octets", set()),
    ],
)
def test_days_in_any_writing(text, days):
    assert days_in(text) == days


def test_a_ratio_in_a_question_is_not_a_day():
    assert days_in("Quel dosage 1/2 ?", numeric_without_year=False) == set()
    assert days_in("Quel dosage 1/2 ?") == {(1, 2, None)}


def test_the_passages_naming_the_asked_day_come_first_scores_still_descending():
    ranked = [HEADING, PLANNING, PROGRESS, INCIDENT, PHASES]
    out = DateFocus(lead=3).run(query="Que s'est-il passé le 6 octobre 2025 sur le chantier ?", documents=ranked)
    documents = out["documents"]
    assert [d.content for d in documents] == [d.content for d in [INCIDENT, PHASES, HEADING, PLANNING, PROGRESS]]
    assert [d.score for d in documents] == [0.97, 0.96, 0.85, 0.70, 0.64]


def test_a_day_of_another_year_is_not_the_asked_day():
    other_year = _passage("Le 6 octobre 2024, pose des bordures.", 0.5)
    out = DateFocus().run(query="Que s'est-il passé le 6 octobre 2025 ?", documents=[HEADING, other_year])
    assert [d.content for d in out["documents"]] == [HEADING.content, other_year.content]


def test_at_most_lead_passages_move():
    ranked = [HEADING, PLANNING, INCIDENT, PHASES]
    out = DateFocus(lead=1).run(query="le 6 octobre 2025 ?", documents=ranked)
    assert [d.content for d in out["documents"]] == [d.content for d in [INCIDENT, HEADING, PLANNING, PHASES]]


@pytest.mark.parametrize(
    "query", ["Quel est le montant du marché ?", "Que s'est-il passé le 3 novembre 2025 ?", "BB 0/10 prix"]
)
def test_no_day_asked_or_named_leaves_the_ranking(query):
    ranked = [HEADING, PLANNING, INCIDENT]
    assert DateFocus().run(query=query, documents=ranked)["documents"] == ranked
    assert DateFocus(enabled=False).run(query="le 6 octobre 2025", documents=ranked)["documents"] == ranked


def test_round_trip_and_validation():
    data = component_to_dict(DateFocus(lead=2, enabled=False), "date_focus")
    assert data["init_parameters"] == {"lead": 2, "enabled": False}
    restored = component_from_dict(DateFocus, data, "date_focus")
    assert (restored.lead, restored.enabled) == (2, False)
    with pytest.raises(ValueError, match="lead"):
        DateFocus(lead=-1)
