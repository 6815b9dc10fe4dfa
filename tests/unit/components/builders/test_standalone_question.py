import pytest
from haystack.dataclasses import ChatMessage

from components.builders.standalone_question import StandaloneQuestionBuilder, codes_in, parse_rewrite

pytestmark = pytest.mark.unit

A2458 = [
    ChatMessage.from_user("Quel est le montant total HT du marché de l'affaire A2458 ?"),
    ChatMessage.from_assistant("631 592,50 € HT [1]."),
]


def _run(question, history, reply=None):
    replies = [ChatMessage.from_assistant(reply)] if reply is not None else None
    return StandaloneQuestionBuilder().run(query=question, history=history, replies=replies)["query"]


def test_codes_are_found_whole():
    text = "Affaire A2458, facture F2025-0412, procédure PRO-SEC-04, carotte C07, norme NF P 98-331, RD 912 ; 2025."
    assert codes_in(text) == ["A2458", "F2025-0412", "PRO-SEC-04", "C07", "NF P 98-331", "RD 912"]


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
