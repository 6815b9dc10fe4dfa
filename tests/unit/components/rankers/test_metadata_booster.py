import datetime as dt

import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict, component_to_dict

from components.rankers import MetadataBooster

pytestmark = pytest.mark.unit


def _doc(doc_id: str, score: float = 1.0, **meta) -> Document:
    meta.setdefault("has_key_metadata", True)
    return Document(id=doc_id, content=f"passage {doc_id}", meta=meta, score=score)


def _ids(result: dict) -> list[str]:
    return [d.id for d in result["documents"]]


def test_code_affaire_in_the_question_moves_its_document_up():
    docs = [_doc("other", 1.0, code_affaire="A2459"), _doc("match", 0.6, code_affaire="A2458")]
    result = MetadataBooster().run(query="Montant du marché de l'affaire A2458 ?", documents=docs)
    assert _ids(result) == ["match", "other"]
    assert result["documents"][0].score == pytest.approx(1.2)  # x2


@pytest.mark.parametrize(
    ("query", "value", "matches"),
    [
        ("Quelle norme, la NF P 98-331 ?", "NF P 98-331", True),
        ("Quelle norme, la NF P 98-3310 ?", "NF P 98-331", False),
        ("Enrobé BB 0/10 ou BB 0/14 ?", "BB 0/10", True),
        ("Enrobé BB 0/100 ?", "BB 0/10", False),
        ("Situation de travaux 2025-11", "2025-11", True),
        ("Situation du 2025-11-03", "2025-11", False),
        ("affaire a2458", "A2458", True),
        ("affaire A24581", "A2458", False),
    ],
)
def test_codes_match_whole(query, value, matches):
    booster = MetadataBooster()
    factor = booster.factor(query, set(), {"lot": value, "has_key_metadata": True}, dt.date.today())
    assert factor == (2.0 if matches else 1.0)


def test_title_and_tags_weigh_three():
    booster = MetadataBooster()
    today = dt.date.today()
    meta = {"has_key_metadata": True}
    assert booster.factor("Rapport Bréchy voirie", set(), {**meta, "title": "Rapport Bréchy voirie"}, today) == 3.0
    assert booster.factor("quel enrobé pour la voirie ?", set(), {**meta, "tags": ["voirie", "enrobé"]}, today) == 3.0
    assert booster.factor("quel enrobé ?", set(), {**meta, "tags": ["voirie"]}, today) == 1.0
    docs = [_doc("plain", 1.0), _doc("titled", 0.5, title="Compte rendu de chantier Bréchy")]
    assert _ids(MetadataBooster().run(query="compte rendu chantier Bréchy", documents=docs)) == ["titled", "plain"]


def test_documents_without_key_metadata_are_penalised():
    docs = [_doc("bare", 1.0, has_key_metadata=False), _doc("described", 0.9)]
    result = MetadataBooster(missing_metadata_penalty=0.8).run(query="question", documents=docs)
    assert _ids(result) == ["described", "bare"]
    assert result["documents"][1].score == pytest.approx(0.8)


def test_penalty_without_the_flag_looks_at_the_fields():
    booster = MetadataBooster(missing_metadata_penalty=0.5)
    today = dt.date.today()
    assert booster.factor("q", set(), {}, today) == 0.5
    assert booster.factor("q", set(), {"client": "Ville de Bourges"}, today) == 1.0


def test_reference_and_recency_boosts():
    today = dt.date.today()
    booster = MetadataBooster(reference_weight=1.5, recency_weight=2.0, recency_half_life_days=30)
    meta = {"has_key_metadata": True}
    assert booster.factor("q", set(), {**meta, "reference": True}, today) == 1.5
    assert booster.factor("q", set(), {**meta, "date": today.isoformat()}, today) == pytest.approx(2.0)
    old = (today - dt.timedelta(days=30)).isoformat()
    assert booster.factor("q", set(), {**meta, "date": old}, today) == pytest.approx(1.5)
    assert booster.factor("q", set(), {**meta, "publish_date": old, "date": today.isoformat()}, today) == 1.5
    docs = [_doc("old", 1.0, date="2015-01-01"), _doc("new", 0.8, date=today.isoformat())]
    assert _ids(booster.run(query="q", documents=docs)) == ["new", "old"]


def test_disabled_and_inputs_untouched():
    docs = [_doc("a", 0.2, code_affaire="A1"), _doc("b", 0.9)]
    assert _ids(MetadataBooster(enabled=False).run(query="A1", documents=docs)) == ["a", "b"]
    MetadataBooster().run(query="A1", documents=docs)
    assert docs[0].score == 0.2


def test_validation():
    with pytest.raises(ValueError, match="weights"):
        MetadataBooster(title_weight=0.5)
    with pytest.raises(ValueError, match="penalty"):
        MetadataBooster(missing_metadata_penalty=0)


def test_round_trip():
    booster = MetadataBooster(title_weight=2.5, key_fields=["client"])
    data = component_to_dict(booster, "metadata_booster")
    assert data["init_parameters"]["key_fields"] == ["client"]
    restored = component_from_dict(MetadataBooster, data, "metadata_booster")
    assert (restored.title_weight, restored.key_fields) == (2.5, ["client"])
