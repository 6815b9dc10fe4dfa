"""The service feeds each graph by input name: every input a node requires is one of the names it passes."""

from typing import Any

import pytest
from haystack import Pipeline
from haystack.dataclasses import ChatMessage

from service.answering import GenerationOptions, chat_inputs, rag_inputs, rewrite_inputs
from service.pipelines import build_pipeline

pytestmark = pytest.mark.unit

OPTIONS = GenerationOptions(
    backend="b",
    enable_thinking=True,
    prompted_thinking=True,
    generation_kwargs={"temperature": 0.1},
    prompt_type="summary",
    history=[ChatMessage.from_user("Parle-moi de A2458."), ChatMessage.from_assistant("Oui.")],
    include_passage_text=True,
)
FILTERS = {"field": "meta.code_affaire", "operator": "==", "value": "A2458"}


def _missing(pipeline: Pipeline, given: dict[str, Any]) -> list[str]:
    """The required inputs (`node.input`) no name given reaches: Haystack gives a name to every node that has it."""
    return [
        f"{node}.{name}"
        for node, sockets in pipeline.inputs().items()
        for name, socket in sockets.items()
        if socket["is_mandatory"] and name not in given
    ]


def _unused(pipeline: Pipeline, given: dict[str, Any]) -> list[str]:
    """The names given that no node takes (Haystack would only log them)."""
    names = {name for sockets in pipeline.inputs().values() for name in sockets}
    return sorted(set(given) - names)


def _reached(pipeline: Pipeline, given: dict[str, Any]) -> dict[str, set[str]]:
    return {node: set(given) & set(sockets) for node, sockets in pipeline.inputs().items()}


@pytest.fixture
def graph(settings):
    return lambda name: build_pipeline(name, settings)


def test_the_rag_graph_gets_every_required_input_by_name(rag_pipeline):
    given = {**rag_inputs("Quel est le délai du lot 2 ?", FILTERS, OPTIONS), "streaming_callback": print}
    assert not set(given) & set(rag_pipeline.graph.nodes)  # no input is given to a node by its name
    assert _missing(rag_pipeline, given) == []
    assert _unused(rag_pipeline, given) == []


def test_the_rag_options_reach_the_nodes_they_are_for(rag_pipeline):
    reached = _reached(rag_pipeline, rag_inputs("Quel est le délai du lot 2 ?", FILTERS, OPTIONS))
    assert {"filters"} <= reached["dense_retriever"]
    assert {"query", "filters"} <= reached["bm25_retriever"]
    assert {"query", "prompt_type", "history", "prompted_thinking"} <= reached["prompt_builder"]
    assert {"backend", "generation_kwargs", "enable_thinking"} <= reached["llm"]
    assert {"include_passage_text", "prompted_thinking"} <= reached["answer_builder"]


def test_the_chat_graph_gets_every_required_input_by_name(graph):
    chat = graph("chat")
    given = {**chat_inputs([ChatMessage.from_user("Bonjour")], OPTIONS), "streaming_callback": print}
    assert _missing(chat, given) == []
    assert _unused(chat, given) == []
    reached = _reached(chat, given)
    assert {"prompted_thinking"} <= reached["conversation_builder"] & reached["answer_builder"]


def test_the_rewrite_graph_gets_every_required_input_by_name(graph):
    rewrite = graph("question_rewrite")
    given = rewrite_inputs("Et son délai ?", OPTIONS, max_tokens=64)
    assert _missing(rewrite, given) == []
    assert _unused(rewrite, given) == []
