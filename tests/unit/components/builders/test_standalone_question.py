import pytest
from haystack.dataclasses import ChatMessage

from components.builders.standalone_question import StandaloneQuestionBuilder, parse_rewrite

pytestmark = pytest.mark.unit

A2458 = [
    ChatMessage.from_user("Quel est le montant total HT du marché de l'affaire A2458 ?"),
    ChatMessage.from_assistant("631 592,50 € HT [1]."),
]


def _run(question, history, reply=None):
    replies = [ChatMessage.from_assistant(reply)] if reply is not None else None
    return StandaloneQuestionBuilder().run(query=question, history=history, replies=replies)["query"]


def test_an_ellipsis_about_another_affair_is_the_earlier_question_about_it():
    # Whatever the LLM wrote (here: an answer, not a question).
    assert _run("Et pour B1037 ?", A2458, "Le montant est 498 760 €.") == (
        "Quel est le montant total HT du marché de l'affaire B1037 ?"
    )
    assert _run("et en 2022 ?", [ChatMessage.from_user("Quelle part du chiffre d'affaires en 2024 ?")]) == (
        "Quelle part du chiffre d'affaires en 2022 ?"
    )


def test_a_rewrite_that_names_the_affair_is_kept():
    assert _run("Et son client ?", A2458, "Quel est le client de l'affaire A2458 ?") == (
        "Quel est le client de l'affaire A2458 ?"
    )


def test_codes_of_the_latest_turn_that_names_some_are_carried_in():
    history = [*A2458, ChatMessage.from_user("Présente-moi B1037."), ChatMessage.from_assistant("Le collecteur [1].")]
    assert _run("Qui en est le maître d'œuvre ?", history, "Qui en est le maître d'œuvre ?") == (
        "Qui en est le maître d'œuvre — B1037 ?"
    )
    only_in_answer = [
        ChatMessage.from_user("Quelle carotte était non conforme ?"),
        ChatMessage.from_assistant("C07 [1]."),
    ]
    assert _run("Où a-t-elle été prélevée ?", only_in_answer, "") == "Où a-t-elle été prélevée — C07 ?"


def test_the_code_an_answer_names_is_carried_beside_the_question_s():
    history = [
        ChatMessage.from_user("Quelle carotte était non conforme sur la RD 912 ?"),
        ChatMessage.from_assistant("La carotte C07, au PR 16+100 : 9,6 % de vides."),
    ]
    assert _run("Quelle surface reprendre autour d'elle ?", history, "Quelle surface reprendre autour d'elle ?") == (
        "Quelle surface reprendre autour d'elle — RD 912, C07 ?"
    )
    # A rewrite naming one of them gets the other.
    assert _run("Quelle surface ?", history, "Quelle surface reprendre sur la RD 912 ?") == (
        "Quelle surface reprendre sur la RD 912 — C07 ?"
    )


def test_a_rewrite_about_an_earlier_turn_s_affair_gives_way_to_the_follow_up():
    history = [
        ChatMessage.from_user("Présente-moi l'affaire A2458."),
        ChatMessage.from_assistant("Renforcement de la chaussée de la RD 912 pour le Département."),
        ChatMessage.from_user("Et l'affaire A2511 ?"),
        ChatMessage.from_assistant("Aménagement de la Grande Rue pour la Commune de Bréchy."),
    ]
    assert _run("Et son maître d'œuvre ?", history, "Quel est le maître d'œuvre de la RD 912 ?") == (
        "Et son maître d'œuvre — A2511 ?"
    )


def test_without_codes_the_latest_turn_s_proper_names_are_carried():
    history = [
        ChatMessage.from_user("Quel est le montant de l'avenant n° 1 proposé à la commune de Bréchy ?"),
        ChatMessage.from_assistant("18 750,00 EUR HT."),
        ChatMessage.from_user("Quand le conseil municipal doit-il l'examiner ?"),
        ChatMessage.from_assistant("Au conseil municipal du jeudi 4 septembre 2025."),
    ]
    assert _run("De combien retarde-t-il la fin ?", history, "Quelle est la date de fin des travaux ?") == (
        "Quelle est la date de fin des travaux — Bréchy ?"
    )
    assert _run("Et sa date ?", history, "Quelle est la date de l'avenant de Bréchy ?") == (
        "Quelle est la date de l'avenant de Bréchy ?"
    )


def test_a_follow_up_that_names_its_own_code_keeps_the_rewrite_and_no_history_keeps_the_question():
    assert _run("Quel est le délai de A2511 ?", A2458, "Quel est le délai de l'affaire A2511 ?") == (
        "Quel est le délai de l'affaire A2511 ?"
    )
    assert _run("Et son délai ?", [], "Autre chose") == "Et son délai ?"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Quel est le délai du lot 2 ?", "Quel est le délai du lot 2 ?"),
        ("<think>hmm</think>\n\n« Quel est le délai ? »\nAutre ligne", "Quel est le délai ?"),
        ("Question autonome : Quel est le délai ?", "Quel est le délai ?"),
        ("", "Q ?"),
        ("?", "Q ?"),
    ],
)
def test_parse_rewrite(reply, expected):
    assert parse_rewrite(reply, "Q ?") == expected
