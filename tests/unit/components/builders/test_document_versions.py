import pytest
from haystack import Document

from components.builders.context_formatter import ContextFormatter
from components.builders.document_versions import DocumentVersions

pytestmark = pytest.mark.unit


def _doc(source: str, text: str = "Texte.", **meta) -> Document:
    return Document(content=text, meta={"source": source, **meta})


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("devis_D25-031_indice_A.pdf", "devis_D25-031_indice_B.pdf"),
        ("CR_chantier_24-017_n07_2025-03-04.md", "CR_chantier_24-017_n09_2025-03-18.txt"),
        ("planning v2.xlsx", "planning v10.xlsx"),
        ("note_tarifs_2024-01-15.docx", "note_tarifs_2025-02-01.docx"),
        ("PPSPS rev 1.pdf", "PPSPS rev 3.pdf"),
    ],
)
def test_the_latest_version_of_a_series_is_read_first_and_the_older_is_labelled(older, newer):
    other = _doc("fiche_affaire_24-017.md")
    ordered = DocumentVersions().order([_doc(older), other, _doc(newer)])
    assert [d.meta["source"] for d in ordered] == [newer, older, "fiche_affaire_24-017.md"]
    assert ordered[1].meta["superseded_by"] == newer
    assert "superseded_by" not in ordered[0].meta
    assert "superseded_by" not in ordered[2].meta


def test_documents_that_are_no_series_keep_their_order():
    docs = [_doc("avenant_n1_marche_2024.md"), _doc("marche_2024_acte_engagement.md"), _doc("planning_indice_B.md")]
    assert DocumentVersions().order(docs) == docs


def test_a_version_the_question_names_is_read_as_the_latest():
    docs = [_doc("devis_D25-031_indice_B.pdf"), _doc("devis_D25-031_indice_A.pdf")]
    ordered = DocumentVersions().order(docs, "Quel était le montant de l'indice A du devis D25-031 ?")
    assert [d.meta["source"] for d in ordered] == ["devis_D25-031_indice_A.pdf", "devis_D25-031_indice_B.pdf"]
    assert ordered[1].meta["superseded_by"] == "devis_D25-031_indice_A.pdf"


def test_the_context_labels_an_older_version_with_the_latest_s_name():
    docs = [
        _doc("DV_25-0312_indice_A.md", "| Total HT | 53 552,00 € |", title="Devis DV 25/0312 indice A"),
        _doc("DV_25-0312_indice_B.md", "| Total HT | 71 440,00 € |", title="Devis DV 25/0312 indice B"),
    ]
    context = ContextFormatter(versions=True).run(documents=docs, query="Montant HT du devis DV 25/0312 ?")["context"]
    first, second = context.split("\n\n")
    assert first.startswith("[1] Devis DV 25/0312 indice B\n")
    assert second.startswith(
        "[2] Devis DV 25/0312 indice A — version antérieure, remplacée par « Devis DV 25/0312 indice B »"
    )
    plain = ContextFormatter().run(documents=docs, query="Montant HT du devis DV 25/0312 ?")["context"]
    assert plain.startswith("[1] Devis DV 25/0312 indice A\n")  # off unless asked
