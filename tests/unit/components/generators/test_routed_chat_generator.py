import pytest
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.dataclasses import ChatMessage

from components.generators.routed_chat_generator import RoutedChatGenerator

pytestmark = pytest.mark.unit

BACKENDS = {
    "petit": {"base_url": "http://127.0.0.1:1/v1", "model": "m1", "max_tokens": 64, "thinking": "prompted"},
    "qwen3": {"base_url": "http://127.0.0.1:2/v1", "model": "m2", "temperature": 0.6, "thinking": "native"},
}


def test_init_checks_the_backends():
    with pytest.raises(ValueError, match="default backend"):
        RoutedChatGenerator(BACKENDS, default="absent")
    with pytest.raises(ValueError, match="lacks model"):
        RoutedChatGenerator({"a": {"base_url": "x"}}, default="a")
    with pytest.raises(ValueError, match="thinking"):
        RoutedChatGenerator({"a": {"base_url": "x", "model": "m", "thinking": "parfois"}}, default="a")


def test_to_dict_round_trip():
    data = component_to_dict(RoutedChatGenerator(BACKENDS, default="petit"), "llm")
    restored = component_from_dict(RoutedChatGenerator, data, "llm")
    assert (restored.backends, restored.default) == (BACKENDS, "petit")


def test_each_backend_gets_its_server_model_and_defaults():
    router = RoutedChatGenerator(BACKENDS, default="petit")
    generator, kwargs = router._call([ChatMessage.from_user("q")], None, {"top_p": 0.5}, False)
    assert (generator.api_base_url, generator.model, generator.generation_kwargs) == (
        "http://127.0.0.1:1/v1",
        "m1",
        {"max_tokens": 64},
    )
    assert kwargs == {"top_p": 0.5}
    generator, _ = router._call([ChatMessage.from_user("q")], "qwen3", None, False)
    assert generator.model == "m2"
    with pytest.raises(ValueError, match="unknown LLM backend"):
        router._call([ChatMessage.from_user("q")], "gpt", None, False)


def test_native_thinking_and_prefilled_reasoning_reach_vllm():
    router = RoutedChatGenerator(BACKENDS, default="petit")
    _, kwargs = router._call([ChatMessage.from_user("q")], "qwen3", None, True)
    assert kwargs == {"extra_body": {"chat_template_kwargs": {"enable_thinking": True}}}
    prefilled = [ChatMessage.from_user("q"), ChatMessage.from_assistant("<thinking>\n")]
    _, kwargs = router._call(prefilled, "petit", {"extra_body": {"top_k": 5}}, True)
    assert kwargs == {"extra_body": {"top_k": 5, "continue_final_message": True, "add_generation_prompt": False}}
