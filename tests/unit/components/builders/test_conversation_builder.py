import pytest
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.dataclasses import ChatMessage

from components.builders import ConversationBuilder

pytestmark = pytest.mark.unit

TYPE = "components.builders.conversation_builder.ConversationBuilder"


def test_init():
    assert ConversationBuilder("\n  Tu es un assistant.  \n").system_prompt == "Tu es un assistant."


def test_to_dict():
    data = component_to_dict(ConversationBuilder("Tu es un assistant."), "conversation_builder")
    assert data == {
        "type": TYPE,
        "init_parameters": {
            "system_prompt": "Tu es un assistant.",
            "max_history_tokens": 1024,
            "tokenizer": None,
            "thinking_instruction": "",
        },
    }


def test_from_dict():
    data = {"type": TYPE, "init_parameters": {"system_prompt": "Tu es un assistant."}}
    assert component_from_dict(ConversationBuilder, data, "conversation_builder").system_prompt == "Tu es un assistant."


def test_run_puts_the_system_prompt_first():
    conversation = [
        ChatMessage.from_user("Bonjour"),
        ChatMessage.from_assistant("Bonjour, que puis-je faire ?"),
        ChatMessage.from_user("Qu'est-ce qu'un DOE ?"),
    ]
    prompt = ConversationBuilder(" Préambule ").run(messages=conversation)["prompt"]
    assert prompt[0].is_from("system")
    assert prompt[0].text == "Préambule"
    assert prompt[1:] == conversation


def test_run_keeps_client_system_messages_after_the_preset_one():
    conversation = [ChatMessage.from_system("Réponds en anglais."), ChatMessage.from_user("Bonjour")]
    prompt = ConversationBuilder("Préambule").run(messages=conversation)["prompt"]
    assert [m.text for m in prompt] == ["Préambule", "Réponds en anglais.", "Bonjour"]


def test_run_with_an_empty_conversation_raises():
    with pytest.raises(ValueError, match="empty"):
        ConversationBuilder("Préambule").run(messages=[])


def test_run_trims_the_history_to_the_budget_oldest_first():
    builder = ConversationBuilder("Système.", max_history_tokens=20)  # no tokenizer: ~3 characters a token
    old = [ChatMessage.from_user("a" * 60), ChatMessage.from_assistant("b" * 60)]
    recent = [ChatMessage.from_user("court ?"), ChatMessage.from_assistant("oui")]
    prompt = builder.run(messages=[*old, *recent, ChatMessage.from_user("Et ensuite ?")])["prompt"]
    assert [m.text for m in prompt] == ["Système.", "court ?", "oui", "Et ensuite ?"]


def test_run_with_prompted_thinking_adds_the_instruction_and_opens_the_reasoning():
    builder = ConversationBuilder("Système.", thinking_instruction="Réfléchis dans <thinking>.")
    prompt = builder.run(messages=[ChatMessage.from_user("Q ?")], prompted_thinking=True)["prompt"]
    assert prompt[0].text == "Système.\n\nRéfléchis dans <thinking>."
    assert prompt[-1].is_from("assistant")
    assert prompt[-1].text == "<thinking>\n"
    prompt = builder.run(messages=[ChatMessage.from_user("Q ?")])["prompt"]
    assert [m.text for m in prompt] == ["Système.", "Q ?"]
