"""Run the `rag` and `chat` graphs for one request, as one stream of typed events.

The graph is run with `Pipeline.run_async_generator`, so the sources are known (and sent) as soon as the context
is formatted, before the LLM writes its first token; the LLM's tokens arrive through its streaming callback. Both
feed one queue, read in order by the caller. Streamed text is routed between `thinking` and `response` as it
arrives (`ReasoningStreamParser`), and its citations are checked by the answer node's own rule as it goes
(`CitedAnswerBuilder.stream_citer`: statement by statement, a statement's end held back until it is checked; with
the citation step off, numbers that point at no source are dropped). An answer the graph gives without the LLM (the
refusal, when no passage can answer) comes as one `response`. A failing LLM ends the stream with an `error` event
after the sources.

Event types: `context` (`{"mode", "question", "sources"}`, always first), `thinking` and `response` (text deltas),
`answer` (the finished `Answer`), `error` (a message), `done` (always last).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from haystack import Document, Pipeline
from haystack.core.errors import PipelineRuntimeError
from haystack.dataclasses import ChatMessage, StreamingChunk

from components.builders.citations import CitationStreamFilter
from components.builders.cited_answer_builder import source_entry
from components.builders.reasoning import ReasoningStreamParser
from components.builders.standalone_question import StandaloneQuestionBuilder
from components.builders.statement_citer import StreamingStatementCiter
from components.generators.repetition_guard import StopGeneration

logger = logging.getLogger(__name__)

EventType = Literal["context", "thinking", "response", "answer", "error", "done"]
Mode = Literal["rag", "chat"]

# The nodes whose outputs (or failure) the service reads, in the graphs of pipelines/. Their inputs are never given
# node by node: a graph is run with its inputs by name (`rag_inputs`, `chat_inputs`).
RAG_SOURCES_NODE = "context_formatter"
RAG_NAMES_NODE = "answerability"  # the question's names, which the answer's figures must be grounded in
ANSWER_NODE = "answer_builder"  # the answer, in the `rag` and `chat` graphs alike
RAG_PROMPT_NODE = "prompt_builder"  # its `templates` are the prompt types a request may name
REWRITE_GRAPH = "question_rewrite"  # follow-ups made standalone before retrieval (no wrapper: service.pipelines)
STANDALONE_NODE = "standalone_question"  # its node that gives the question retrieval uses
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
    mode: Mode = "rag"
    invalid_citations: list[int] = field(default_factory=list)
    thinking: str = ""
    question: str | None = None  # the standalone question retrieval used (rewritten from a follow-up)
    unsupported: list[str] = field(default_factory=list)  # statements no passage supports (never cited)
    left_out: list[str] = field(default_factory=list)  # statements whose figures came from the wrong documents


@dataclass
class GenerationOptions:
    """What one request asks of the generation half (everything optional)."""

    backend: str | None = None  # a name of models.llm.backends; None: the default
    enable_thinking: bool = False
    prompted_thinking: bool = False  # the backend has no native reasoning: ask for <thinking>/<answer>
    generation_kwargs: dict[str, Any] = field(default_factory=dict)  # temperature, top_p, max_tokens (bounded)
    prompt_type: str | None = None  # summary, comparison...: wins over the query class
    history: list[ChatMessage] = field(default_factory=list)  # earlier turns, oldest first
    include_passage_text: bool | None = None
    # True: the LLM's text arrives token by token (`thinking`/`response` events), for clients that stream. False:
    # only the finished `answer` is wanted (`collect`), and the LLM is asked without streaming: a streamed reply,
    # parsed chunk by chunk, raised the event loop's CPU time per RAG answer of 16 tokens from 15.0 to 26.5 ms.
    stream_tokens: bool = True


class LLMUnavailableError(Exception):
    """The LLM could not answer; carries the sources retrieved so far so the client still gets them."""

    def __init__(self, message: str, sources: list[dict[str, Any]] | None = None, mode: Mode = "rag") -> None:
        super().__init__(message)
        self.message = message
        self.sources = sources or []
        self.mode = mode


def retrieval_inputs(query: str, filters: dict[str, Any] | None = None) -> dict[str, Any]:
    """
    The inputs of the `rag` graph's retrieval half, by name.

    Haystack gives a named input to every node with an unconnected input of that name: `query` reaches the query
    classifier, the BM25 retriever, the rankers, the answerability check, the context formatter and the prompt
    builder; `filters` both retrievers (which AND them with the caller's access scope themselves: access_scope).
    """
    return {
        "query": query,
        # Haystack's text embedders take the text to embed as `text`; the query embedder (CachedTextEmbedder) wraps
        # one and keeps its input, so that any Haystack text embedder can stand in for it in the YAML.
        "text": query,
        "filters": filters,
    }


def generation_inputs(options: GenerationOptions) -> dict[str, Any]:
    """The inputs of the generation half (`rag` and `chat` graphs alike), by name."""
    return {
        "backend": options.backend,  # the LLM
        "generation_kwargs": dict(options.generation_kwargs),
        "enable_thinking": options.enable_thinking,
        # The prompt builder asks for <thinking>/<answer> and opens the reasoning; the answer builder splits it.
        "prompted_thinking": options.prompted_thinking and options.enable_thinking,
    }


def rag_inputs(
    query: str, filters: dict[str, Any] | None = None, options: GenerationOptions | None = None
) -> dict[str, Any]:
    """The `rag` graph's inputs for one question, by name (`pipeline.run(rag_inputs(...))`)."""
    options = options or GenerationOptions()
    return {
        **retrieval_inputs(query, filters),
        **generation_inputs(options),
        "prompt_type": options.prompt_type,  # the prompt builder
        "history": list(options.history),
        "include_passage_text": options.include_passage_text,  # the answer builder
    }


def source_summaries(documents: list[Document], with_text: bool = False) -> list[dict[str, Any]]:
    """The sources as sent before the answer: numbered as the prompt numbers them (not yet known to be cited)."""
    summaries = []
    for i, doc in enumerate(documents, start=1):
        entry = source_entry(i, doc, cited=False, with_text=with_text)
        entry.pop("cited")
        summaries.append(entry)
    return summaries


def _failure_message(error: BaseException) -> str:
    cause: BaseException | None = error
    while cause is not None and cause.__cause__ is not None:
        cause = cause.__cause__
    detail = type(cause).__name__ if cause is not None else type(error).__name__
    return f"{LLM_UNAVAILABLE} ({detail}). Les sources trouvées sont jointes."


def _is_llm_failure(error: BaseException) -> bool:
    return isinstance(error, PipelineRuntimeError) and error.component_name == LLM_NODE


class _StreamRouter:
    """Routes the LLM's streamed chunks to `thinking` and `response` events, citations checked."""

    def __init__(self, enable_thinking: bool, starts_in_thinking: bool = False) -> None:
        self.enable_thinking = enable_thinking
        self.starts_in_thinking = starts_in_thinking
        self.parser = ReasoningStreamParser(starts_in_thinking)
        self.thinking_text = ""
        self.answered = False
        self.citations: CitationStreamFilter | StreamingStatementCiter | None = None  # once the passages are known

    def route(self, chunk: StreamingChunk) -> list[Event]:
        if chunk.reasoning is not None and chunk.reasoning.reasoning_text:
            return self._thinking(chunk.reasoning.reasoning_text)
        if not chunk.content:
            return []
        return self._events(self.parser.feed(chunk.content))

    def close(self) -> list[Event]:
        # A model that never leaves the reasoning the prompt opened has answered nothing: its text stays reasoning
        # (the answer builder says `reasoning_unclosed`, and the caller asks again without reasoning).
        events = self._events(self.parser.close())
        if self.starts_in_thinking and not self.answered and self.thinking_text.strip():
            return events  # nothing answered: no refusal either, the question is asked again
        if self.citations is not None:
            rest = self.citations.close()
            if rest:
                events.append(Event("response", rest))
        return events

    def _thinking(self, text: str) -> list[Event]:
        return [Event("thinking", text)] if self.enable_thinking else []  # asked off: never shown

    def _events(self, pieces: list[tuple[str, str]]) -> list[Event]:
        events: list[Event] = []
        for part, text in pieces:
            if part == "thinking":
                self.thinking_text += text
                events.extend(self._thinking(text))
                continue
            self.answered = self.answered or bool(text.strip())
            shown = self.citations.feed(text) if self.citations is not None else text
            if shown:
                events.append(Event("response", shown))
        return events


def _stream_citer(
    pipeline: Pipeline,
    documents: list[Document],
    query: str | None,
    key_lines: list[dict[str, Any]] | None,
    names: list[str] | None,
) -> CitationStreamFilter | StreamingStatementCiter:
    """The answer node's own citation check for a stream (the same rule as the whole answer)."""
    try:
        builder = pipeline.get_component(ANSWER_NODE)
    except ValueError:
        return CitationStreamFilter(len(documents))
    make = getattr(builder, "stream_citer", None)
    return make(documents, query, key_lines, names) if callable(make) else CitationStreamFilter(len(documents))


async def _run_streaming(
    pipeline: Pipeline,
    data: dict[str, Any],
    include: set[str],
    sources_node: str | None,
    options: GenerationOptions,
) -> AsyncIterator[Event]:
    queue: asyncio.Queue[Event | None] = asyncio.Queue()
    router = _StreamRouter(options.enable_thinking, options.prompted_thinking and options.enable_thinking)

    async def on_chunk(chunk: StreamingChunk) -> None:
        for event in router.route(chunk):
            await queue.put(event)
        if getattr(router.citations, "refused", False):
            # The answer became the refusal sentence (its first figure is from documents about something else): the
            # rest of the model's text would be dropped, so the LLM server stops decoding it (the connection closes).
            raise StopGeneration

    if options.stream_tokens:
        data = {**data, "streaming_callback": on_chunk}  # the LLM's

    async def produce() -> None:
        try:
            names_node = RAG_NAMES_NODE if sources_node and RAG_NAMES_NODE in pipeline.graph.nodes else None
            wanted = include | {LLM_NODE} | ({sources_node} if sources_node else set())
            wanted |= {names_node} if names_node else set()
            names: list[str] | None = None
            seen: set[str] = set()  # run_async_generator yields each output once, then all of them again at the end
            async for partial in pipeline.run_async_generator(data, include_outputs_from=wanted):
                for name in sorted(wanted & partial.keys() - seen, key=lambda n: (n != LLM_NODE, n != names_node)):
                    seen.add(name)
                    if name == names_node:  # runs before the context is formatted
                        names = partial[name].get("names")
                    elif name == sources_node:
                        documents = partial[name]["documents"]
                        key_lines = partial[name].get("key_lines")
                        router.citations = _stream_citer(pipeline, documents, data.get("query"), key_lines, names)
                        await queue.put(Event("context", partial[name]))
                    elif name == LLM_NODE:
                        # The end of the stream (the refusal when it said nothing); unstreamed, the answer comes whole
                        for event in router.close() if options.stream_tokens else []:
                            await queue.put(event)
                    else:
                        if LLM_NODE not in seen and partial[name].get("answer"):
                            # The graph answered without the LLM (the refusal when no passage can answer): its text
                            # is sent whole, as the LLM's would have been streamed.
                            await queue.put(Event("response", partial[name]["answer"]))
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


async def _reasked_when_reasoning_stays_open(
    run: Callable[[GenerationOptions], AsyncIterator[Event]], options: GenerationOptions
) -> AsyncIterator[Event]:
    """
    The events of `run(options)`; when the model wrote only the reasoning the prompt opened for it (a small model
    that ignores the `<thinking>`/`<answer>` format), its reasoning stays reasoning and the question is asked once
    more without it: that reply is the answer, the first one's reasoning its `thinking`.
    """
    thinking = None
    async with contextlib.aclosing(run(options)) as events:
        async for event in events:
            if event.type == "answer" and event.data.get("reasoning_unclosed"):
                thinking = event.data.get("thinking", "")
                break
            yield event
    if thinking is None:
        return
    logger.warning("The model did not close its reasoning: the question is asked again without reasoning")
    async for event in run(replace(options, prompted_thinking=False)):
        yield Event("answer", {**event.data, "thinking": thinking}) if event.type == "answer" else event


def rewrite_inputs(query: str, options: GenerationOptions, max_tokens: int = 64) -> dict[str, Any]:
    """The `question_rewrite` graph's inputs, by name: a short, greedy rewrite, never reasoned."""
    return {
        "query": query,
        "history": list(options.history),
        "backend": options.backend,
        "generation_kwargs": {"max_tokens": max_tokens, "temperature": 0.0},
        "enable_thinking": False,
    }


async def standalone_question(
    rewriter: Pipeline | None, question: str, options: GenerationOptions, max_tokens: int = 64
) -> str:
    """
    The question rewritten to stand alone, from the conversation's earlier turns.

    The first message of a conversation (no history), or no rewriter, keeps the question as it is; so does a
    rewriter that fails (the answer graph then reports the LLM's failure itself).
    """
    if rewriter is None or not options.history:
        return question
    try:
        result = await rewriter.run_async(rewrite_inputs(question, options, max_tokens))
    except Exception:  # the LLM failed: the earlier turns' codes are still carried in (the answer reports the fault)
        return StandaloneQuestionBuilder.resolve(question, question, list(options.history))
    return result[STANDALONE_NODE]["query"]


async def rag_events(
    pipeline: Pipeline,
    question: str,
    filters: dict[str, Any] | None = None,
    *,
    options: GenerationOptions | None = None,
    rewriter: Pipeline | None = None,
    rewrite_max_tokens: int = 64,
) -> AsyncIterator[Event]:
    """
    Answer a question from the documents, as events.

    `context` (`{"mode": "rag", "question", "sources"}`) comes first, then `thinking` and `response` text deltas,
    then `answer` (the final `Answer`, citations checked) or `error` (a message; the sources were already sent),
    then `done`. A follow-up question (the options carry history) is first rewritten by `rewriter`.
    """
    options = options or GenerationOptions()
    standalone = await standalone_question(rewriter, question, options, rewrite_max_tokens)
    with_text = bool(options.include_passage_text)
    sent_context = False

    def run(attempt: GenerationOptions) -> AsyncIterator[Event]:
        inputs = rag_inputs(standalone, filters, attempt)
        return _run_streaming(pipeline, inputs, {ANSWER_NODE}, RAG_SOURCES_NODE, attempt)

    async for event in _reasked_when_reasoning_stays_open(run, options):
        if event.type == "context":
            if sent_context:  # asked again: the same passages, already sent
                continue
            sent_context = True
            sources = source_summaries(event.data["documents"], with_text)
            yield Event("context", {"mode": "rag", "question": standalone, "sources": sources})
        elif event.type == "answer":
            out = event.data
            yield Event(
                "answer",
                Answer(
                    out["answer"],
                    out["sources"],
                    "rag",
                    out["invalid_citations"],
                    out.get("thinking", "") if options.enable_thinking else "",
                    standalone,
                    out.get("unsupported", []),
                    out.get("left_out", []),
                ),
            )
        elif event.type == "error":
            error = event.data
            if not _is_llm_failure(error):
                raise error
            if not sent_context:
                yield Event("context", {"mode": "rag", "question": standalone, "sources": []})
            yield Event("error", _failure_message(error))
        else:
            yield event
    yield Event("done")


def chat_inputs(messages: list[ChatMessage], options: GenerationOptions | None = None) -> dict[str, Any]:
    """The `chat` graph's inputs for one conversation, by name."""
    return {"messages": messages, **generation_inputs(options or GenerationOptions())}


async def chat_events(
    pipeline: Pipeline, messages: list[ChatMessage], options: GenerationOptions | None = None
) -> AsyncIterator[Event]:
    """Plain chat with the LLM, as events: `context` (no sources), deltas, then `answer` or `error`, then `done`."""
    options = options or GenerationOptions()
    question = next((m.text for m in reversed(messages) if m.is_from("user")), None)
    yield Event("context", {"mode": "chat", "question": question, "sources": []})

    def run(attempt: GenerationOptions) -> AsyncIterator[Event]:
        return _run_streaming(pipeline, chat_inputs(messages, attempt), {ANSWER_NODE}, None, attempt)

    async for event in _reasked_when_reasoning_stays_open(run, options):
        if event.type == "answer":
            thinking = event.data["thinking"] if options.enable_thinking else ""
            yield Event("answer", Answer(event.data["answer"], [], "chat", [], thinking))
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
    mode: Mode = "rag"
    answer: Answer | None = None
    async for event in events:
        if event.type == "context":
            sources, mode = event.data["sources"], event.data["mode"]
        elif event.type == "answer":
            answer = event.data
        elif event.type == "error":
            raise LLMUnavailableError(event.data, sources, mode)
    if answer is None:
        raise LLMUnavailableError(f"{LLM_UNAVAILABLE}.", sources, mode)
    return answer


UNSUPPORTED_NOTE = "⚠ Aucun extrait ne confirme"
SOURCES_HEADING = "**Sources**"
_EXTRAS = re.compile(rf"(?:\n\n_{UNSUPPORTED_NOTE}.*?_)?(?:\n\n---\n{re.escape(SOURCES_HEADING)}\n.*)?\s*$", re.DOTALL)


def strip_answer_extras(text: str) -> str:
    """An answer as the model wrote it: the note and the Markdown sources footer added for clients cut off."""
    return _EXTRAS.sub("", text, count=1).rstrip()


def unsupported_note(unsupported: list[str]) -> str:
    """A note a person sees after the answer: the statements (figures among them) that no passage confirms."""
    if not unsupported:
        return ""
    quoted = " ; ".join(f"« {text} »" for text in unsupported)
    return f"\n\n_{UNSUPPORTED_NOTE} : {quoted}_"


OCR_MARK = " (texte lu par OCR sur un scan)"


def sources_footer(sources: list[dict[str, Any]], invalid_citations: list[int] | None = None) -> str:
    """The sources as Markdown, appended to answers sent to OpenAI clients (Open WebUI shows it as is)."""
    if not sources:
        return ""
    lines = ["", "", "---", SOURCES_HEADING]
    for src in sources:
        label = src.get("title") or src.get("source") or src.get("id")
        origin = f" — `{src['source']}`" if src.get("source") and src.get("source") != label else ""
        mark = OCR_MARK if src.get("ocr") else ""
        mark += " (citée)" if src.get("cited") else ""
        lines.append(f"[{src['number']}] {label}{origin}{mark}")
    if invalid_citations:
        numbers = ", ".join(f"[{n}]" for n in invalid_citations)
        lines.append(f"_Citations sans source correspondante retirées : {numbers}_")
    return "\n".join(lines)
