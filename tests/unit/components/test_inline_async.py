import threading

import pytest
from haystack import Pipeline, component

from components.builders.context_formatter import ContextFormatter
from components.builders.conversation_builder import ConversationBuilder
from components.classifiers.query_classifier import QueryClassifier
from components.inline_async import runs_inline
from components.joiners.hybrid_fusion_joiner import HybridFusionJoiner
from components.rankers import CrossEncoderRanker

pytestmark = pytest.mark.unit


@component
@runs_inline
class RecordsItsThread:
    """Returns the id of the thread it ran in."""

    @component.output_types(thread=int, doubled=int)
    def run(self, value: int, extra: int = 0):
        return {"thread": threading.get_ident(), "doubled": 2 * value + extra}


@component
class RecordsItsThreadInAWorker:
    @component.output_types(thread=int, doubled=int)
    def run(self, value: int, extra: int = 0):
        return {"thread": threading.get_ident(), "doubled": 2 * value + extra}


async def _threads(node) -> tuple[int, dict]:
    pipeline = Pipeline()
    pipeline.add_component("node", node)
    outputs = [out async for out in pipeline.run_async_generator({"node": {"value": 3, "extra": 1}})]
    return threading.get_ident(), outputs[-1]["node"]


async def test_an_inline_component_runs_on_the_event_loop_thread():
    loop_thread, result = await _threads(RecordsItsThread())
    assert result == {"thread": loop_thread, "doubled": 7}


async def test_without_it_haystack_runs_a_sync_component_in_a_worker_thread():
    loop_thread, result = await _threads(RecordsItsThreadInAWorker())
    assert result["thread"] != loop_thread  # what runs_inline avoids
    assert result["doubled"] == 7


def test_run_async_has_the_signature_and_output_types_of_run():
    import inspect

    inline = (RecordsItsThread, QueryClassifier, HybridFusionJoiner, ContextFormatter, ConversationBuilder)
    for cls in (*inline, CrossEncoderRanker):
        assert inspect.signature(cls.run_async) == inspect.signature(cls.run), cls
        assert inspect.iscoroutinefunction(cls.run_async), cls


async def test_the_graph_components_answer_the_same_inline():
    classifier = QueryClassifier()
    question = "Quel est le montant du marché A2458 ?"
    assert await classifier.run_async(query=question) == classifier.run(query=question)
