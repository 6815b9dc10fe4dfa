"""Run the `rag` and `chat` graphs for one request, as one stream of typed events.

The graph is run with `Pipeline.run_async_generator`, so the sources are known (and sent) as soon as the ranker
finishes, before the LLM writes its first token; the LLM's tokens arrive through its streaming callback. Both feed
one queue, read in order by the caller. A failing LLM ends the stream with an `error` event after the sources.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from haystack import Pipeline
from haystack.core.errors import PipelineRuntimeError
from haystack.dataclasses import ChatMessage, StreamingChunk

from service.gateway.access import effective_filters

EventType = Literal["context", "response", "answer", "error", "done"]

# Component names the service relies on in the graphs (pipelines/rag/rag.yml, pipelines/chat/chat.yml).
RAG_SOURCES_NODE = "ranker"
RAG_ANSWER_NODE = "answer_builder"
LLM_NODE = "llm"

LLM_UNAVAILABLE = "Le modèle de langage ne répond pas pour le moment"


@dataclass
class Event:
    """One event of an answer stream."""

    type: EventType
    data: Any = None


@dataclass
class Answer:
    """A finished answer."""

    answer: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    mode: Literal["rag", "chat"] = "rag"
    invalid_citations: list[int] = field(default_factory=list)


class LLMUnavailableError(Exception):
    """The LLM could not answer; carries the sources retrieved so far so the client still gets them."""

    def __init__(self, message: str, sources: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.sources = sources or []


def rag_inputs(question: str, filters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `rag` graph's inputs for one question."""
    filters = effective_filters(filters)  # the caller's access scope AND the request's own filters
    return {
        "query_embedder": {"text": question},
        "dense_retriever": {"filters": filters},
        "bm25_retriever": {"query": question, "filters": filters},
        "ranker": {"query": question},
        "prompt_builder": {"question": question},
    }


def source_summaries(documents: list[Any]) -> list[dict[str, Any]]:
    """The sources as sent before the answer: numbered as the prompt numbers them."""
    return [
        {
            "number": i,
            "id": doc.id,
            "title": doc.meta.get("title"),
            "source": doc.meta.get("source"),
            "score": doc.score,
        }
        for i, doc in enumerate(documents, start=1)
    ]


def _failure_message(error: BaseException) -> str:
    cause: BaseException | None = error
    while cause is not None and cause.__cause__ is not None:
        cause = cause.__cause__
    detail = type(cause).__name__ if cause is not None else type(error).__name__
    return f"{LLM_UNAVAILABLE} ({detail}). Les sources trouvées sont jointes."


def _is_llm_failure(error: BaseException) -> bool:
    return isinstance(error, PipelineRuntimeError) and error.component_name == LLM_NODE


async def _run_streaming(
    pipeline: Pipeline, data: dict[str, Any], include: set[str], sources_node: str | None
) -> AsyncIterator[Event]:
    queue: asyncio.Queue[Event | None] = asyncio.Queue()

    async def on_chunk(chunk: StreamingChunk) -> None:
        if chunk.content:
            await queue.put(Event("response", chunk.content))

    data = {**data, LLM_NODE: {**data.get(LLM_NODE, {}), "streaming_callback": on_chunk}}

    async def produce() -> None:
        try:
            wanted = include | ({sources_node} if sources_node else set())
            seen: set[str] = set()  # run_async_generator yields each output once, then all of them again at the end
            async for partial in pipeline.run_async_generator(data, include_outputs_from=wanted):
                for name in wanted & partial.keys() - seen:
                    seen.add(name)
                    if name == sources_node:
                        await queue.put(Event("context", partial[name]["documents"]))
                    else:
                        await queue.put(Event("answer", partial[name]))
        except Exception as e:  # reported to the client as an event, never as a broken stream
            await queue.put(Event("error", e))
        finally:
            await queue.put(None)

    task = asyncio.create_task(produce())
    try:
        while (event := await queue.get()) is not None:
            yield event
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def rag_events(
    pipeline: Pipeline, question: str, filters: dict[str, Any] | None = None
) -> AsyncIterator[Event]:
    """
    Answer a question from the documents, as events.

    `context` (list of source summaries) comes first, then `response` text deltas, then `answer` (the final
    `Answer`, citations checked) or `error` (a message; the sources were already sent), then `done`.
    """
    documents: list[Any] = []
    async for event in _run_streaming(pipeline, rag_inputs(question, filters), {RAG_ANSWER_NODE}, RAG_SOURCES_NODE):
        if event.type == "context":
            documents = event.data
            yield Event("context", source_summaries(documents))
        elif event.type == "answer":
            out = event.data
            yield Event("answer", Answer(out["answer"], out["sources"], "rag", out["invalid_citations"]))
        elif event.type == "error":
            error = event.data
            if not _is_llm_failure(error):
                raise error
            yield Event("error", _failure_message(error))
        else:
            yield event
    yield Event("done")


async def chat_events(pipeline: Pipeline, messages: list[ChatMessage]) -> AsyncIterator[Event]:
    """Plain chat with the LLM, as events: `response` deltas, then `answer` or `error`, then `done`."""
    data = {"conversation_builder": {"messages": messages}}
    async for event in _run_streaming(pipeline, data, {LLM_NODE}, None):
        if event.type == "answer":
            replies = event.data.get("replies") or []
            yield Event("answer", Answer(replies[0].text or "" if replies else "", [], "chat"))
        elif event.type == "error":
            if not _is_llm_failure(event.data):
                raise event.data
            yield Event("error", _failure_message(event.data))
        else:
            yield event
    yield Event("done")


async def collect(events: AsyncIterator[Event]) -> Answer:
    """Run an event stream to its end; raise `LLMUnavailableError` (with the sources) if the LLM failed."""
    sources: list[dict[str, Any]] = []
    answer: Answer | None = None
    async for event in events:
        if event.type == "context":
            sources = event.data
        elif event.type == "answer":
            answer = event.data
        elif event.type == "error":
            raise LLMUnavailableError(event.data, sources)
    if answer is None:
        raise LLMUnavailableError(f"{LLM_UNAVAILABLE}.", sources)
    return answer


def sources_footer(sources: list[dict[str, Any]], invalid_citations: list[int] | None = None) -> str:
    """The sources as Markdown, appended to answers sent to OpenAI clients (Open WebUI shows it as is)."""
    if not sources:
        return ""
    lines = ["", "", "---", "**Sources**"]
    for src in sources:
        label = src.get("title") or src.get("source") or src.get("id")
        origin = f" — `{src['source']}`" if src.get("source") and src.get("source") != label else ""
        mark = " (citée)" if src.get("cited") else ""
        lines.append(f"[{src['number']}] {label}{origin}{mark}")
    if invalid_citations:
        numbers = ", ".join(f"[{n}]" for n in invalid_citations)
        lines.append(f"_Citations sans source correspondante retirées : {numbers}_")
    return "\n".join(lines)
