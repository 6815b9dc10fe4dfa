import pytest
from haystack import Document

from components.preprocessors import FigureDetector
from components.preprocessors.figure_detector import has_figures

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text",
    [
        "Compacité de 94,2 % sur la couche",
        "Montant : 1 245 800 € HT",
        "Épaisseur 6 cm",
        "Délai de 20 jours",
        "Réunion du 08/10/2025",
        "Publié le 2025-10-08",
        "Démarrage le 3 mars 2025",
        "| PR 12+100 | 6,5 |",
        "Résistance 25 MPa",
    ],
)
def test_has_figures(text):
    assert has_figures(text)


@pytest.mark.parametrize("text", ["La RD 912 traverse Bréchy", "Lot 2 - Chaussées", "Affaire A2458", ""])
def test_has_no_figures(text):
    assert not has_figures(text)


def test_run_flags_documents_without_changing_them():
    docs = [Document(id="a", content="Coût : 12 000 €"), Document(id="b", content="Sans chiffre")]
    result = FigureDetector().run(documents=docs)["documents"]
    assert [(d.id, d.meta["has_figures"]) for d in result] == [("a", True), ("b", False)]
    assert "has_figures" not in docs[0].meta
