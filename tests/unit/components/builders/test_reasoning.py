import pytest

from components.builders.reasoning import ReasoningStreamParser, reasoning_unclosed, split_reasoning

pytestmark = pytest.mark.unit


def _stream(chunks: list[str], starts_in_thinking: bool = False) -> dict[str, str]:
    parser = ReasoningStreamParser(starts_in_thinking)
    parts = {"thinking": "", "answer": ""}
    for chunk in chunks:
        for part, text in parser.feed(chunk):
            parts[part] += text
    for part, text in parser.close():
        parts[part] += text
    return parts


def test_think_block_in_one_chunk():
    assert _stream(["<think>Je calcule.</think>Réponse : 84."]) == {
        "thinking": "Je calcule.",
        "answer": "Réponse : 84.",
    }


@pytest.mark.parametrize("cut", range(1, len("<think>x</think>y")))
def test_tags_split_at_every_position(cut):
    text = "<think>x</think>y"
    assert _stream([text[:cut], text[cut:]]) == {"thinking": "x", "answer": "y"}


def test_tags_split_character_by_character():
    text = "<thinking>réfléchir</thinking>\n<answer>\nRéponse [1].\n</answer>"
    assert _stream(list(text)) == {"thinking": "réfléchir", "answer": "Réponse [1].\n"}


def test_prefilled_reasoning_starts_in_thinking():
    parts = _stream(["Le montant", " est 48 250 €.\n</think", "ing>\n\n<answer>Il est de 48 250 € [1].</answer>"], True)
    assert parts == {"thinking": "Le montant est 48 250 €.\n", "answer": "Il est de 48 250 € [1]."}


def test_a_lone_angle_bracket_is_answer_text():
    assert _stream(["a < b et c <", "= d"]) == {"thinking": "", "answer": "a < b et c <= d"}


def test_text_without_tags_is_all_answer_and_nothing_is_held_back_but_a_possible_tag():
    parser = ReasoningStreamParser()
    assert parser.feed("Bonjour <th") == [("answer", "Bonjour ")]
    assert parser.feed("é") == [("answer", "<thé")]


def test_unclosed_reasoning_stays_reasoning():
    assert _stream(["<think>je n'ai pas fini"]) == {"thinking": "je n'ai pas fini", "answer": ""}


def test_split_reasoning_with_a_closing_tag_only():
    assert split_reasoning("raisonnement</think>\n\nréponse") == ("raisonnement", "réponse")


def test_split_reasoning_without_reasoning():
    assert split_reasoning("  réponse  ") == ("", "réponse")


def test_split_reasoning_prefilled_and_never_closed_is_reasoning_only():
    assert split_reasoning("Trois mois [1].", starts_in_thinking=True) == ("Trois mois [1].", "")
    assert reasoning_unclosed("Trois mois [1].", "", prompted_thinking=True)
    assert not reasoning_unclosed("", "", prompted_thinking=True)  # nothing at all: the empty reply's refusal
    assert not reasoning_unclosed("Trois mois.", "", prompted_thinking=False)
    assert split_reasoning("a</thinking><answer>b</answer>", starts_in_thinking=True) == ("a", "b")
