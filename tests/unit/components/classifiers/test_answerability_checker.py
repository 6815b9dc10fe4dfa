"""The answerability check against a real in-process BM25 store over the sample corpus's kind of text."""

import pytest
from haystack import Document, Pipeline

from components.classifiers.answerability_checker import AnswerabilityChecker
from components.document_stores.local_bm25.document_store import LocalBM25DocumentStore

pytestmark = pytest.mark.unit

CORPUS = [
    Document(
        id="facture",
        content="Facture F2025-0412, situation n° 2 de l'affaire A2511. Total TTC 112 552,80 €. Retenue de garantie "
        "5 % : 5 627,64 €. Net à payer : 106 925,16 €.",
        meta={"title": "Facture F2025-0412"},
    ),
    Document(
        id="a2458",
        content="Renforcement de la chaussée de la RD 912. Le tablier du pont de la Sorgue est raboté sur 3 cm. "
        "Marché de 631 592,50 € HT.",
        meta={"title": "Fiche affaire A2458"},
    ),
    Document(
        id="b1037", content="Collecteur d'eaux usées de la rue des Tanneurs à Montreval.", meta={"title": "B1037"}
    ),
    Document(id="pv", content="Procès-verbal de réception du marché : 4 réserves à lever.", meta={"title": "PV"}),
    Document(
        id="cr", content="Compte rendu de chantier : le marché avance, réunion hebdomadaire.", meta={"title": "CR"}
    ),
]


@pytest.fixture
def checker(tmp_path):
    store = LocalBM25DocumentStore(path=str(tmp_path / "bm25.json"))
    store.write_documents(CORPUS)
    return AnswerabilityChecker(document_store=store, min_coverage=0.5)


def _ranked(*ids):
    return [d for i in ids for d in CORPUS if d.id == i]


def test_a_name_in_no_passage_is_refused_even_when_common_words_match(checker):
    # « pont » and « marché » are in the passages; « Chaume » is in no document: not answerable.
    out = checker.run(
        documents=_ranked("a2458", "pv"), query="Quel est le montant du marché de réparation du pont de la Chaume ?"
    )
    assert out["answerable"] is False
    assert out["missing_names"] == ["chaum"]


def test_a_code_in_no_passage_is_refused(checker):
    out = checker.run(documents=_ranked("a2458", "facture"), query="Quel est le montant du marché de l'affaire A2459 ?")
    assert out["answerable"] is False
    assert "a2459" in out["missing_names"]


def test_a_question_whose_answer_is_in_a_passage_is_answerable(checker):
    out = checker.run(documents=_ranked("facture", "a2458"), query="Quel est le net à payer de la facture F2025-0412 ?")
    assert out["answerable"] is True
    assert out["missing_names"] == []
    assert out["coverage"] == 1.0


def test_rare_terms_weigh_more_than_common_ones(checker):
    # Only the common word (« marché », in 3 of 5 documents) is found: under the threshold.
    out = checker.run(documents=_ranked("cr"), query="Quel marché pour le collecteur des Tanneurs ?")
    assert out["answerable"] is False
    assert 0 < out["coverage"] < 0.5
    assert checker.run(documents=_ranked("b1037"), query="Quel marché pour le collecteur des Tanneurs ?")["answerable"]


def test_no_passage_is_not_answerable_and_disabled_lets_everything_through(checker):
    assert checker.run(documents=[], query="Quel est le net à payer ?")["answerable"] is False
    off = AnswerabilityChecker(enabled=False)
    assert off.run(documents=[], query="Pont de la Chaume ?")["answerable"] is True


def test_without_statistics_terms_weigh_the_same():
    plain = AnswerabilityChecker(min_coverage=0.5)
    assert plain.run(documents=_ranked("facture"), query="Net à payer de la facture F2025-0412 ?")["answerable"]
    assert not plain.run(documents=_ranked("facture"), query="Quel est le salaire du directeur général ?")["answerable"]


def test_serialises_with_its_store(checker):
    pipeline = Pipeline()
    pipeline.add_component("answerability", checker)
    data = pipeline.to_dict()
    assert data["components"]["answerability"]["init_parameters"]["document_store"]["type"].endswith(
        "LocalBM25DocumentStore"
    )
    again = Pipeline.from_dict(data, allowed_modules=["components.*"]).get_component("answerability")
    assert again.document_store.path == checker.document_store.path
    assert again.min_coverage == 0.5


def test_the_first_word_of_a_sentence_is_no_name(checker):
    out = checker.run(documents=_ranked("b1037"), query="Présente-moi l'affaire B1037.")
    assert out["missing_names"] == []
    assert out["answerable"] is True


def test_the_question_s_names_include_its_rare_acronyms_which_the_passages_need_not_hold(checker):
    # « SIEAL » is in no document: no missing name (an acronym may be spelt out), but a name the answer's figures
    # must come from a document naming (the answer builder's grounding).
    out = checker.run(documents=_ranked("b1037"), query="Depuis quand le SIEAL travaille-t-il à Montreval avec ROV ?")
    assert out["missing_names"] == []
    assert "sieal" in out["names"]
    out = checker.run(documents=_ranked("a2458"), query="Quelle épaisseur de rabotage pour l'affaire A2458 en 2025 ?")
    assert out["names"] == ["a2458", "2025"]


def test_a_disabled_check_names_nothing(tmp_path):
    out = AnswerabilityChecker(enabled=False).run(documents=_ranked("pv"), query="Le SIEAL et l'affaire A2458 ?")
    assert out["names"] == []


def test_a_numbered_thing_the_passages_name_with_another_number_only_is_refused(checker):
    # the invoice is situation n° 2: a question about situation n° 3 is a near miss, not a question about it
    near = checker.run(documents=_ranked("facture"), query="Quel est le net à payer de la situation n° 3 de l'A2511 ?")
    assert near["answerable"] is False
    assert near["missing_names"] == ["situation 3"]
    asked = checker.run(documents=_ranked("facture"), query="Quel est le net à payer de la situation n° 2 de l'A2511 ?")
    assert asked["answerable"] is True


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("Quel est le montant de l'avenant n° 2 ?", ["avenant 2"]),
        ("Et l'avenant 2 ?", ["avenant 2"]),
        ("Montant de la situation de travaux n° 3 ?", ["situation 3"]),
        ("Que coûte l'indice C du devis ?", ["indice c"]),
        ("Prix du lot 02 ?", ["lot 2"]),
        ("Le lot a été livré ?", []),  # a lower-case letter is a word, not a version
        ("Prix du lot 2.3 ?", []),  # a sub-item, not lot 2
        ("Version 2025 du planning ?", []),  # a year, not a version number
    ],
)
def test_the_numbered_things_a_question_names(question, named):
    assert AnswerabilityChecker().numbered_references(question) == named


@pytest.mark.parametrize(
    ("passage", "answers"),
    [
        ("AVENANT N°2 au marché", True),
        ("L'avenant 02 porte sur les micropieux", True),
        ("Situation de travaux n° 2, cumul", True),
        ("Avenant n° 1 au marché n° 2", False),
        ("Avenant n° 12", False),
    ],
)
def test_a_passage_names_a_numbered_thing_in_its_usual_forms(passage, answers):
    doc = Document(content=passage)
    checker = AnswerabilityChecker(min_coverage=0.0)
    question = "Montant de l'avenant n° 2 ?" if "venant" in passage.lower() else "Montant de la situation n° 2 ?"
    assert checker.run(documents=[doc], query=question)["answerable"] is answers
