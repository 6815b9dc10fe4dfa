import pytest
from haystack.core.serialization import component_from_dict, component_to_dict

from components.classifiers import QueryClassifier

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "question",
    [
        "Combien de salariés compte l'entreprise ?",
        "Quel est le montant total HT du marché de l'affaire A2458 ?",
        "Quel est le chiffre d'affaires 2024 du client Bréchy ?",
        "En quelle année le pont a-t-il été construit ?",
        "Quand l'avenant n° 1 a-t-il été signé ?",
        "Quelle est la surface du dallage ?",
        "Quel pourcentage de remise a été accordé ?",
        "À combien s'élève la pénalité de retard ?",
        "Le montant de la retenue de garantie ?",
    ],
)
def test_questions_asking_for_a_figure(question):
    assert QueryClassifier().run(query=question) == {"query_class": "question_chiffree"}


@pytest.mark.parametrize(
    "question",
    [
        "Qui est le client de l'affaire A2458 ?",
        "Qui est le Conseil départemental du Val-de-Lière pour nous ?",
        "Présente-moi l'entreprise Colas Rail.",
        "Fiche d'identité du chantier de Bréchy",
        "Que sais-tu sur la commune de Bourges ?",
        "Qu'est-ce que la société Eurovia ?",
        "Décris le projet de la rocade nord",
    ],
)
def test_questions_asking_for_a_profile(question):
    assert QueryClassifier().run(query=question) == {"query_class": "fiche_identite"}


@pytest.mark.parametrize(
    "question",
    [
        "Pourquoi le béton a-t-il fissuré ?",
        "Comment poser une bordure T2 ?",
        "Quelle norme s'applique aux enrobés BB 0/10 ?",
        "Quels sont les risques du chantier ?",
        "Qui est le conducteur de travaux du chantier ?",
        "Selon la fiche de synthèse de la norme NF P 98-331, quels objectifs s'appliquent au remblai ?",
        "Avec quels pénétromètres contrôle-t-on le compactage d'après la fiche NF P 98-331 ?",
    ],
)
def test_other_questions(question):
    assert QueryClassifier().run(query=question) == {"query_class": "autre"}


def test_figure_wins_over_profile():
    assert QueryClassifier().run(query="Qui est le client et quel est le montant ?")["query_class"] == (
        "question_chiffree"
    )


def test_default_class_and_validation():
    assert QueryClassifier(default_class="fiche_identite").run(query="Bonjour")["query_class"] == "fiche_identite"
    with pytest.raises(ValueError, match="default_class"):
        QueryClassifier(default_class="chiffres")


def test_round_trip():
    data = component_to_dict(QueryClassifier(), "query_classifier")
    assert data["init_parameters"] == {"default_class": "autre"}
    assert component_from_dict(QueryClassifier, data, "query_classifier").default_class == "autre"
