import pytest
from haystack import Document
from haystack.core.serialization import component_from_dict, component_to_dict

from components.rankers import CodeFocus

pytestmark = pytest.mark.unit


def _passage(source: str, content: str, **meta: object) -> Document:
    return Document(content=content, meta={"file_path": source, **meta})


DEVIS = _passage("devis_D2025-087_parking_lanvoy.md", "| Total TTC | 46 722,00 |")
DEVIS_TERMS = _passage("devis_D2025-087_parking_lanvoy.md", "Validité de l'offre : 90 jours.")
FACTURE = _passage("facture_F2025-0412.md", "| Total TTC | 112 552,80 |", title="Facture F2025-0412")
FICHE = _passage("fiche_affaire.md", "Montant du marché : 631 592,50 € HT", title="Fiche affaire A2458 – RD 912")
OTHER_FICHE = _passage("fiche_2.md", "Montant du marché : 386 420,00 € HT", title="Fiche affaire A24581")


def _sources(result: dict) -> list[str]:
    return [d.meta["file_path"] for d in result["documents"]]


def test_the_documents_naming_the_code_are_kept_with_all_their_passages_in_order():
    result = CodeFocus().run(query="D2025-087 montant TTC", documents=[FACTURE, DEVIS, FICHE, DEVIS_TERMS])
    assert result["documents"] == [DEVIS, DEVIS_TERMS]  # the second passage names no code: its document does


def test_a_code_is_named_whole_by_the_title_or_a_metadata_value():
    tagged = _passage("cr_chantier_04.md", "Réunion de chantier n° 4.", tags=["A2458", "compte rendu"])
    result = CodeFocus().run(query="A2458 montant marché HT", documents=[OTHER_FICHE, tagged, FICHE])
    assert _sources(result) == ["cr_chantier_04.md", "fiche_affaire.md"]  # A24581 is another affair


def test_a_question_naming_two_codes_keeps_the_documents_of_both():
    result = CodeFocus().run(query="Compare A2458 et F2025-0412.", documents=[DEVIS, FACTURE, FICHE])
    assert _sources(result) == ["facture_F2025-0412.md", "fiche_affaire.md"]


def test_a_code_that_no_document_names_keeps_every_document():
    documents = [DEVIS, FACTURE, FICHE]
    assert CodeFocus().run(query="Présente-moi l'affaire A2459.", documents=documents)["documents"] == documents


def test_a_question_without_a_code_keeps_every_document():
    documents = [DEVIS, FACTURE, FICHE]
    query = "Quel est le montant du 1er marché de 2025 ?"  # an ordinal and a year are not codes
    assert CodeFocus().run(query=query, documents=documents)["documents"] == documents


def test_disabled_it_keeps_every_document():
    documents = [FACTURE, DEVIS]
    assert CodeFocus(enabled=False).run(query="D2025-087 montant TTC", documents=documents)["documents"] == documents


def test_round_trips_through_yaml_serialisation():
    restored = component_from_dict(CodeFocus, component_to_dict(CodeFocus(enabled=False), "code_focus"), "code_focus")
    assert restored.enabled is False
