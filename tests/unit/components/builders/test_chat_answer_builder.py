import pytest
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.dataclasses import ChatMessage, ReasoningContent

from components.builders import ChatAnswerBuilder

pytestmark = pytest.mark.unit

TYPE = "components.builders.chat_answer_builder.ChatAnswerBuilder"


def test_to_dict():
    assert component_to_dict(ChatAnswerBuilder(), "answer_builder") == {"type": TYPE, "init_parameters": {}}


def test_from_dict():
    assert isinstance(component_from_dict(ChatAnswerBuilder, {"type": TYPE}, "answer_builder"), ChatAnswerBuilder)


def test_run_is_the_reply_text():
    reply = ChatMessage.from_assistant("Un DOE est le dossier des ouvrages exécutés.")
    assert ChatAnswerBuilder().run(replies=[reply]) == {
        "answer": reply.text,
        "thinking": "",
        "reasoning_unclosed": False,
    }


def test_run_sets_the_reasoning_apart():
    text = "<think>Le sigle DOE.</think>Le dossier des ouvrages exécutés."
    out = ChatAnswerBuilder().run(replies=[ChatMessage.from_assistant(text)])
    assert out == {
        "answer": "Le dossier des ouvrages exécutés.",
        "thinking": "Le sigle DOE.",
        "reasoning_unclosed": False,
    }


def test_run_with_prompted_thinking_and_the_generator_reasoning_field():
    reply = ChatMessage.from_assistant(
        "Je cherche.</thinking><answer>Le dossier.</answer>", reasoning=ReasoningContent(reasoning_text="Champ.")
    )
    out = ChatAnswerBuilder().run(replies=[reply], prompted_thinking=True)
    assert out == {"answer": "Le dossier.", "thinking": "Champ.\nJe cherche.", "reasoning_unclosed": False}


def test_run_without_a_reply_is_empty():
    assert ChatAnswerBuilder().run(replies=[]) == {"answer": "", "thinking": "", "reasoning_unclosed": False}
