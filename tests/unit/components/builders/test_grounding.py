import pytest
from haystack import Document
from haystack.dataclasses import ChatMessage

from components.builders import CitedAnswerBuilder
from components.builders.grounding import NameGrounding
from components.builders.statement_citer import NOT_IN_DOCUMENTS

pytestmark = pytest.mark.unit

CLIENT = Document(
    content="- **Client de ROV depuis** : 2009.\n- Chiffre d'affaires 2024 : 2,9 M€ HT.",
    meta={"title": "Fiche client – Conseil départemental du Val-de-Lière", "file_path": "fiche_client_cd.md"},
)
AFFAIR = Document(
    content="- **Maître d'ouvrage** : Syndicat intercommunal des eaux et de l'assainissement de la Lière (SIEAL).\n"
    "- **Marché** : n° SIEAL-2024-12, notifié le 20 janvier 2025, 1 180 000,00 € HT.",
    meta={"title": "Fiche affaire B1037 – collecteur de Montreval", "file_path": "fiche_affaire_B1037.md"},
)
RECEPTION = Document(
    content="Réception prononcée le 12 septembre 2025, avec une réserve levée le 3 octobre 2025.",
    meta={"title": "PV de réception", "file_path": "fiche_affaire_B1037.md", "client": "SIEAL"},
)
PASSAGES = [CLIENT, AFFAIR, RECEPTION]
QUESTION = "Depuis quand le SIEAL est-il client de ROV ?"


def _answer(text: str, names: list[str] | None, question: str = QUESTION) -> dict:
    return CitedAnswerBuilder().run(
        replies=[ChatMessage.from_assistant(text)], documents=PASSAGES, query=question, names=names
    )


def test_a_figure_from_a_document_that_does_not_name_the_question_s_name_is_not_grounded():
    grounding = NameGrounding(["sieal"], PASSAGES, QUESTION)
    assert not grounding.grounded("Le SIEAL est client de ROV depuis 2009 [1].")
    assert grounding.grounded("Le marché du SIEAL a été notifié le 20 janvier 2025.")


def test_a_name_held_only_by_a_document_s_metadata_or_another_of_its_passages_grounds_its_figures():
    grounding = NameGrounding(["sieal"], [CLIENT, RECEPTION], "Quand la réception du SIEAL a-t-elle été prononcée ?")
    assert grounding.active
    assert grounding.grounded("La réception a été prononcée le 12 septembre 2025.")  # « SIEAL »: its metadata
    grounding = NameGrounding(["b1037", "sieal"], PASSAGES, "Quand l'affaire B1037 du SIEAL a-t-elle été reçue ?")
    assert grounding.grounded("Le 12 septembre 2025.")  # its title names B1037, the same file's other passage SIEAL


def test_every_name_must_be_named_by_the_document_the_figure_comes_from():
    grounding = NameGrounding(["sieal", "2026"], PASSAGES, "Quel montant le SIEAL a-t-il engagé en 2026 ?")
    assert not grounding.grounded("Le SIEAL a engagé 1 180 000,00 € HT.")  # its document names SIEAL, not 2026


@pytest.mark.parametrize(
    "statement",
    [
        "Le SIEAL est un syndicat intercommunal.",  # no figure
        "Le SIEAL compte 4 200 abonnés.",  # a figure in no passage: the citation check reports it, not this one
        "Le SIEAL est client de ROV depuis 2009.",  # 2009 is the question's own figure
    ],
)
def test_statements_without_a_figure_from_the_passages_are_not_judged(statement):
    assert NameGrounding(["sieal"], PASSAGES, "Le SIEAL est-il client de ROV depuis 2009 ?").grounded(statement)


def test_a_question_that_names_nothing_rare_checks_nothing():
    grounding = NameGrounding([], PASSAGES, "Depuis quand ce client travaille-t-il avec ROV ?")
    assert not grounding.active
    assert grounding.grounded("Depuis 2009 [1].")


def test_an_answer_whose_first_figure_comes_from_another_client_s_document_becomes_the_refusal():
    result = _answer("Depuis 2009, le SIEAL est client de ROV [1]. Il a signé le marché SIEAL-2024-12.", ["sieal"])
    assert result["answer"] == NOT_IN_DOCUMENTS
    assert not any(source["cited"] for source in result["sources"])
    assert result["left_out"] == ["Depuis 2009, le SIEAL est client de ROV [1]."]
    assert result["unsupported"] == []  # never quoted under the answer as « unconfirmed »


def test_the_same_answer_stays_when_the_question_names_nothing_rare():
    result = _answer("Depuis 2009, le client est le Conseil départemental [1].", [], "Depuis quand est-il client ?")
    assert result["answer"].startswith("Depuis 2009, le client est le Conseil départemental [1].")
    assert [source["number"] for source in result["sources"] if source["cited"]] == [1]


def test_a_grounded_answer_keeps_its_citations_and_a_later_ungrounded_statement_is_left_out():
    text = "Le marché du SIEAL a été notifié le 20 janvier 2025 [2]. Le SIEAL est client depuis 2009 [1]."
    result = _answer(text, ["sieal"], "Quand le marché du SIEAL a-t-il été notifié ?")
    assert result["answer"].startswith("Le marché du SIEAL a été notifié le 20 janvier 2025 [2].")
    assert "2009" not in result["answer"]
    assert [source["number"] for source in result["sources"] if source["cited"]] == [2]
    assert result["left_out"] == ["Le SIEAL est client depuis 2009 [1]."]


@pytest.mark.parametrize(
    "text",
    [
        "Depuis 2009, le SIEAL est client de ROV [1]. Il a signé le marché SIEAL-2024-12.",
        "Le marché du SIEAL a été notifié le 20 janvier 2025 [2]. Le SIEAL est client depuis 2009 [1].",
        "Voici :\n- Client depuis : 2009 [1]\n- Marché : SIEAL-2024-12 [2]\n",
    ],
)
@pytest.mark.parametrize("size", [1, 4, 11])
def test_a_grounded_stream_shows_each_statement_once_checked_and_ends_as_the_whole_answer(text, size):
    question = "Quand le marché du SIEAL a-t-il été notifié ?"
    whole = _answer(text, ["sieal"], question)["answer"]
    streaming = CitedAnswerBuilder().stream_citer(PASSAGES, question, None, ["sieal"])
    shown = ""
    for i in range(0, len(text), size):
        shown += streaming.feed(text[i : i + size])
        assert "2009" not in shown  # an ungrounded figure is never shown, even for a moment
    shown += streaming.close()
    assert shown.strip() == whole


def test_grounding_switched_off_keeps_the_model_s_answer():
    builder = CitedAnswerBuilder(ground_figures=False)
    result = builder.run(
        replies=[ChatMessage.from_assistant("Depuis 2009, le SIEAL est client de ROV [1].")],
        documents=PASSAGES,
        query=QUESTION,
        names=["sieal"],
    )
    assert result["answer"] == "Depuis 2009, le SIEAL est client de ROV [1]."


def test_passages_all_from_documents_naming_the_names_need_no_check_and_stream_word_by_word():
    grounding = NameGrounding(["sieal"], [AFFAIR, RECEPTION], QUESTION)
    assert not grounding.active
    streaming = CitedAnswerBuilder().stream_citer([AFFAIR, RECEPTION], QUESTION, None, ["sieal"])
    assert streaming.feed("Le marché du SIEAL a été notifié le 20 ") == "Le marché du SIEAL a été notifié le 20"
