"""OpenAI chat completions on the graphs: which model, which mode, which options; the events back as OpenAI.

The service answers `/v1/models` and `/v1/chat/completions` itself, ahead of Hayhooks' routes (which map a model
to a *pipeline* name): a model name resolves to a graph and an LLM backend. `rag` and `chat` use the default
backend; every name of `models.llm.backends` answers from the documents with that backend. `use_rag: false` (body)
or `x-use-rag: false` (header) switches any of them to the `chat` graph.

Streaming: the reasoning goes out as `reasoning_content` deltas (Open WebUI shows them as thinking), the answer as
`content` deltas, then the sources three ways: a Markdown "Sources" list in the content (any client shows it), one
Open WebUI `source` event per passage (`"event"` on an empty-delta chunk: Open WebUI lists them as citations), and
the structured list in a top-level `sources` field of the last chunk (and of a non-streamed completion), with the
`mode` that answered (also in the `x-rag-mode` response header).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi_openai_compat.chat_completions.models import ChatCompletion, Choice, Message
from fastapi_openai_compat.chat_completions.streaming import create_async_streaming_response, create_sse_data_msg
from haystack import Pipeline
from haystack.dataclasses import ChatMessage, ReasoningContent, StreamingChunk

from service import answering
from service.answering import (
    OCR_MARK,
    RAG_PROMPT_NODE,
    REWRITE_GRAPH,
    Answer,
    Event,
    GenerationOptions,
    LLMUnavailableError,
    Mode,
    sources_footer,
    strip_answer_extras,
    unsupported_note,
)
from service.gateway.validation import (
    INVALID_FIELD,
    UNREADABLE,
    BadRequestError,
    message_text,
    read_flag,
)
from service.gateway.validation import wants_rag as _wants_rag
from service.pipelines import service_pipeline
from service.settings import Settings

MODE_HEADER = "x-rag-mode"
logger = logging.getLogger("service.openai_chat")
_ROLES = {"user": ChatMessage.from_user, "assistant": ChatMessage.from_assistant, "system": ChatMessage.from_system}


def field_error(message: str) -> HTTPException:
    """A readable request with a wrong field: the request layer's status (service/gateway/validation.py)."""
    return HTTPException(status_code=INVALID_FIELD, detail=message)


def wants_rag(body: Mapping[str, Any], headers: Mapping[str, str] | None) -> bool:
    """RAG unless the body says `use_rag: false` or the header `x-use-rag: false` is set (the body wins)."""
    try:
        return _wants_rag(body, headers)
    except BadRequestError as e:
        raise field_error(e.message) from None


def flag(value: Any, name: str) -> bool | None:
    """A boolean request field (true/false, "oui"/"non", 1/0); None when absent; anything else is a 422."""
    try:
        return read_flag(value, name)
    except BadRequestError as e:
        raise field_error(e.message) from None


def to_chat_messages(messages: list[dict[str, Any]]) -> list[ChatMessage]:
    """OpenAI messages as Haystack `ChatMessage`s; a request with no user text is a 422."""
    if not isinstance(messages, list):
        raise field_error("'messages' must be a list of messages.")
    converted = []
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES:
            continue  # tool and function messages have no place in these graphs
        converted.append(_ROLES[role](message_text(message.get("content"))))
    if not any(m.is_from("user") and (m.text or "").strip() for m in converted):
        raise field_error("The request has no user message with text.")
    return converted


def last_user_question(messages: list[ChatMessage]) -> str:
    for message in reversed(messages):
        if message.is_from("user") and (message.text or "").strip():
            return (message.text or "").strip()
    raise field_error("The request has no user message with text.")


def earlier_turns(messages: list[ChatMessage]) -> list[ChatMessage]:
    """
    The user and assistant turns before the last user message (the conversation history). Earlier answers come
    back as the client showed them: their Markdown sources footer and the unsupported-statements note are cut off.
    """
    last = max(i for i, m in enumerate(messages) if m.is_from("user") and (m.text or "").strip())
    turns = []
    for m in messages[:last]:
        if not (m.is_from("user") or m.is_from("assistant")) or not (m.text or "").strip():
            continue
        turns.append(ChatMessage.from_assistant(strip_answer_extras(m.text or "")) if m.is_from("assistant") else m)
    return turns


# ---- model routing and request options ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRoute:
    """What a model name means: a graph, an LLM backend, and thinking when the name asks for it."""

    mode: Mode
    backend: str
    thinking: bool | None = None  # True: `rag-thinking`, `chat-thinking` (a client that has no thinking switch)


THINKING_SUFFIX = "-thinking"


def model_routes(settings: Settings) -> dict[str, ModelRoute]:
    """
    Every model name clients may use: `rag`, `chat` (default backend) and each backend's name (RAG), and
    `rag-thinking` / `chat-thinking` when the default backend can think (Open WebUI's model picker is its switch).
    """
    default = settings.models.llm.default
    routes = {"rag": ModelRoute("rag", default), "chat": ModelRoute("chat", default)}
    if settings.llm_backend(default).thinking != "none":
        routes["rag" + THINKING_SUFFIX] = ModelRoute("rag", default, thinking=True)
        routes["chat" + THINKING_SUFFIX] = ModelRoute("chat", default, thinking=True)
    for name in settings.models.llm.backends:
        routes.setdefault(name, ModelRoute("rag", name))
    return routes


def resolve_model(model: Any, settings: Settings) -> ModelRoute:
    """The route of a model name; an unknown name is a 404 listing the known ones."""
    routes = model_routes(settings)
    if not isinstance(model, str) or model not in routes:
        raise HTTPException(
            status_code=404, detail=f"Unknown model {model!r}: use one of {', '.join(routes)} (GET /v1/models)."
        )
    return routes[model]


def _number(body: Mapping[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise field_error(f"'{name}' must be a number (got {value!r})")
    return float(value)


def bounded_generation_kwargs(body: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """temperature, top_p and max_tokens from the request, within `generation.limits` (a negative value is a 422)."""
    limits = settings.generation.limits
    kwargs: dict[str, Any] = {}
    temperature = _number(body, "temperature")
    if temperature is not None:
        if temperature < 0:
            raise field_error("'temperature' must be 0 or more")
        kwargs["temperature"] = min(temperature, limits.temperature)
    top_p = _number(body, "top_p")
    if top_p is not None:
        if top_p <= 0:
            raise field_error("'top_p' must be more than 0")
        kwargs["top_p"] = min(top_p, limits.top_p)
    max_tokens = _number(body, "max_completion_tokens")
    max_tokens = _number(body, "max_tokens") if max_tokens is None else max_tokens
    if max_tokens is not None:
        if max_tokens < 1:
            raise field_error("'max_tokens' must be 1 or more")
        kwargs["max_tokens"] = int(min(max_tokens, limits.max_tokens))
    return kwargs


def generation_options(
    body: Mapping[str, Any],
    settings: Settings,
    backend: str,
    history: list[ChatMessage] | None = None,
    thinking_default: bool | None = None,
) -> GenerationOptions:
    """The generation options a request asks for, checked against the configuration."""
    backend_settings = settings.llm_backend(backend)
    thinking = flag(body.get("enable_thinking"), "enable_thinking")
    if thinking is None:
        thinking = settings.generation.enable_thinking if thinking_default is None else thinking_default
    prompt_type = body.get("prompt_type")
    if prompt_type is not None and not isinstance(prompt_type, str):
        raise field_error("'prompt_type' must be a string")
    with_text = flag(body.get("include_passage_text"), "include_passage_text")
    return GenerationOptions(
        backend=backend,
        enable_thinking=thinking and backend_settings.thinking != "none",
        prompted_thinking=backend_settings.thinking == "prompted",
        generation_kwargs=bounded_generation_kwargs(body, settings),
        prompt_type=prompt_type or None,
        history=list(history or []),
        include_passage_text=settings.generation.include_passage_text if with_text is None else with_text,
    )


# ---- the graphs deployed by Hayhooks ---------------------------------------------------------------------------


@dataclass
class Graphs:
    """The built graphs a request may run: each deployed wrapper's own, and the rewriter the service built."""

    rag: Pipeline | None
    chat: Pipeline | None
    rewriter: Pipeline | None


def deployed_graphs(app: FastAPI) -> Graphs:
    registry = getattr(app.state, "pipeline_registry", None)

    def graph_of(name: str) -> Pipeline | None:  # the graph a Hayhooks wrapper built in its setup()
        return getattr(registry.get(name), "pipeline", None) if registry is not None else None

    return Graphs(rag=graph_of("rag"), chat=graph_of("chat"), rewriter=service_pipeline(REWRITE_GRAPH))


def check_prompt_type(rag: Pipeline, prompt_type: str | None) -> None:
    """422 for a `prompt_type` the `rag` graph's prompt builder has no template for (before anything runs)."""
    if not prompt_type:
        return
    try:
        templates = getattr(rag.get_component(RAG_PROMPT_NODE), "templates", None)
    except ValueError:  # a graph without that node: nothing to check against
        return
    if isinstance(templates, Mapping) and prompt_type not in templates:
        raise field_error(f"Unknown 'prompt_type' {prompt_type!r}: one of {', '.join(sorted(templates))}.")


def answer_events(
    graphs: Graphs,
    settings: Settings,
    mode: Mode,
    messages: list[ChatMessage],
    options: GenerationOptions,
    *,
    filters: dict[str, Any] | None = None,
) -> AsyncIterator[Event]:
    """The event stream of one request, on the graph its mode names (503 if that graph is not deployed)."""
    if mode == "rag":
        if graphs.rag is None:
            raise HTTPException(status_code=503, detail="The 'rag' graph is not deployed (server.pipelines).")
        check_prompt_type(graphs.rag, options.prompt_type)
        history = settings.generation.history
        return answering.rag_events(
            graphs.rag,
            last_user_question(messages),
            filters,
            options=options,
            rewriter=graphs.rewriter if history.rewrite_questions else None,
            rewrite_max_tokens=history.rewrite_max_tokens,
        )
    if graphs.chat is None:
        raise HTTPException(status_code=503, detail="The 'chat' graph is not deployed (server.pipelines).")
    return answering.chat_events(graphs.chat, messages, options)


# ---- events as OpenAI ------------------------------------------------------------------------------------------


def answer_text(answer: Answer, footer: bool = True) -> str:
    """The full text an OpenAI client receives for a finished answer."""
    note = unsupported_note(answer.unsupported)
    return answer.answer + note + (sources_footer(answer.sources, answer.invalid_citations) if footer else "")


def unavailable(error: LLMUnavailableError) -> HTTPException:
    """HTTP 503 that still carries the retrieved sources."""
    return HTTPException(status_code=503, detail={"message": error.message, "sources": error.sources})


def open_webui_source_event(source: dict[str, Any]) -> dict[str, Any]:
    """
    One passage as an Open WebUI `source` event, listed under the answer and opened by its `[n]` chip.

    Open WebUI groups the passages of its source events by `metadata.source` and numbers its chips by those groups,
    in the order the events came: each passage gets a key of its own (`<document>#<n>`, never a URL), so two
    passages of one document stay two sources and `[n]` opens passage `n`. The name shown starts with the number.
    """
    title = source.get("title") or source.get("source") or source.get("id")
    name = f"{source['number']}. {title}"
    if source.get("section"):
        name += f" — {source['section']}"
    if source.get("ocr"):
        name += OCR_MARK
    metadata = {k: v for k, v in source.items() if k != "text" and v is not None and not isinstance(v, (dict, list))}
    metadata.update(source=f"{source.get('source') or source.get('id')}#{source['number']}", name=name)
    if isinstance(source.get("page"), int) and source["page"] >= 1:
        metadata["page"] = source["page"] - 1  # Open WebUI shows `page + 1`
    else:
        metadata.pop("page", None)
    return {
        "type": "source",
        "data": {
            "source": {"name": name, "id": metadata["source"]},
            "document": [source.get("text") or str(title)],
            "metadata": [metadata],
        },
    }


class _Chunk:
    """Builds the `chat.completion.chunk` objects of one stream."""

    def __init__(self, model: str) -> None:
        self.id, self.model, self.created = f"{model}-{uuid.uuid4()}", model, int(time.time())

    def __call__(self, finish_reason: str | None = None, **extra: Any) -> ChatCompletion:
        return ChatCompletion(
            id=self.id,
            object="chat.completion.chunk",
            created=self.created,
            model=self.model,
            choices=[Choice(index=0, delta=Message(role="assistant", content=""), finish_reason=finish_reason)],
            **extra,
        )


async def openai_deltas(
    events: AsyncIterator[Event], model: str = "rag", footer: bool = True
) -> AsyncIterator[str | StreamingChunk | ChatCompletion]:
    """
    An OpenAI stream: reasoning chunks (sent as `reasoning_content`), answer text, then the sources (Markdown
    footer, Open WebUI source events, a last chunk carrying `sources` and `mode`), or the error and the sources.
    """
    chunk = _Chunk(model)
    sources: list[dict[str, Any]] = []
    mode: Mode = "rag"
    async for event in events:
        if event.type == "context":
            sources, mode = event.data["sources"], event.data["mode"]
        elif event.type == "thinking":
            yield StreamingChunk(content="", index=0, reasoning=ReasoningContent(reasoning_text=event.data))
        elif event.type == "response":
            yield event.data
        elif event.type == "answer":
            answer: Answer = event.data
            if answer.unsupported:
                yield unsupported_note(answer.unsupported)
            if footer and answer.sources:
                yield sources_footer(answer.sources, answer.invalid_citations)
            for source in answer.sources:
                yield chunk(event=open_webui_source_event(source))
            yield chunk(
                sources=answer.sources,
                mode=answer.mode,
                invalid_citations=answer.invalid_citations,
                unsupported=answer.unsupported,
                question=answer.question,
            )
        elif event.type == "error":
            listed = [{**s, "cited": False} for s in sources]
            yield f"\n\n⚠️ {event.data}" + (sources_footer(listed) if footer else "")
            yield chunk(sources=listed, mode=mode, service_error=event.data)
            yield StreamEnd(INCOMPLETE)  # the answer did not complete: no `stop`


INCOMPLETE = "error"  # the finish_reason of a stream whose answer could not be completed


@dataclass
class StreamEnd:
    """The last delta of a stream, with its `finish_reason` (the streaming response reads it off any chunk)."""

    finish_reason: str
    content: str = ""


async def ended_stream(body: AsyncIterator[Any], resp_id: str, model: str) -> AsyncIterator[str]:
    """
    An SSE body that always ends as OpenAI's does, with `data: [DONE]`. A failure after the headers went out (the
    status is 200 by then) ends it with an `error` object a client can read and a chunk whose finish_reason says the
    answer did not complete.
    """
    try:
        async for part in body:
            yield part
    except Exception as e:
        logger.exception("A streamed answer failed after its first bytes")
        message = f"Erreur interne pendant la réponse ({type(e).__name__}) ; réessayez."
        error = {"error": {"message": message, "type": "service_unavailable", "code": 500}}
        yield f"data: {json.dumps(error, ensure_ascii=False)}\n\n"
        yield create_sse_data_msg(resp_id, model, finish_reason=INCOMPLETE)
    yield "data: [DONE]\n\n"


def _whole_completion(model: str, message: Message, **extra: Any) -> dict[str, Any]:
    """A non-streamed `chat.completion` holding one message, with extra top-level fields."""
    body = ChatCompletion(
        id=f"{model}-{uuid.uuid4()}",
        object="chat.completion",
        created=int(time.time()),
        model=model,
        choices=[Choice(index=0, message=message, finish_reason="stop")],
        **extra,
    )
    return body.model_dump(exclude_none=True)


def completion(answer: Answer, model: str, footer: bool) -> dict[str, Any]:
    """A non-streamed chat completion, with the reasoning apart and the structured sources alongside."""
    message = Message(role="assistant", content=answer_text(answer, footer), reasoning_content=answer.thinking or None)
    return _whole_completion(
        model,
        message,
        sources=answer.sources,
        mode=answer.mode,
        invalid_citations=answer.invalid_citations,
        unsupported=answer.unsupported,
        question=answer.question,
    )


# ---- clients ---------------------------------------------------------------------------------------------------

OPEN_WEBUI_HEADER_PREFIX = "x-openwebui-"
SOURCES_FOOTER_HEADER = "x-rag-sources-footer"


def shows_structured_sources(headers: Mapping[str, str], body: Mapping[str, Any]) -> bool:
    """
    Whether the client lists the structured sources itself, so the Markdown footer would show them twice: Open
    WebUI (it forwards `X-OpenWebUI-*` headers when started with `ENABLE_FORWARD_USER_INFO_HEADERS=true`), or any
    client that says `x-rag-sources-footer: false` (header) or `"sources_footer": false` (body).
    """
    asked = flag(body.get("sources_footer"), "sources_footer")
    if asked is None and headers.get(SOURCES_FOOTER_HEADER) is not None:
        asked = flag(headers.get(SOURCES_FOOTER_HEADER), SOURCES_FOOTER_HEADER)
    if asked is not None:
        return not asked
    return any(name.lower().startswith(OPEN_WEBUI_HEADER_PREFIX) for name in headers)


# Open WebUI's background tasks (its config.py templates) all start with « ### Task: » and carry the chat in
# <chat_history>; they go to the chat's own model, after or alongside the user's message.
_TASK_PROMPTS = {
    "title": "generate a concise",
    "tags": "generate 1-3 broad tags",
    "follow_ups": "suggest 3-5 relevant follow-up",
    "follow_ups_v2": "predict 3-5 useful messages",
    "queries": "analyze the chat history to determine the necessity of generating search queries",
    "autocomplete": "you are an autocompletion system",
}
_CHAT_HISTORY = re.compile(r"<chat_history>\s*(.*?)\s*</chat_history>", re.DOTALL)
_TITLE_WORDS = 6


def open_webui_task(messages: Any) -> str | None:
    """
    The kind of Open WebUI background task a request's OpenAI `messages` are (`title`, `tags`...), or None for a
    user's message.
    """
    if not isinstance(messages, list):
        return None
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if len(users) != 1:
        return None
    text = message_text(users[0].get("content")).lstrip()
    if not text.startswith("### Task:"):
        return None
    head = text[:400].lower()
    kind = next((k for k, marker in _TASK_PROMPTS.items() if marker in head), "other")
    return "follow_ups" if kind == "follow_ups_v2" else kind


def background_task_reply(task: str, messages: list[ChatMessage]) -> str:
    """
    A cheap, valid answer to an Open WebUI background task, without retrieval or LLM: the title is the start of the
    first question; tags, follow-ups, queries and completions are empty (Open WebUI keeps its defaults). On the
    embedded default each of them would otherwise cost a whole RAG answer of the local CPU model.
    """
    history = _CHAT_HISTORY.search(messages[-1].text or "")
    first_user = ""
    if history:
        for line in history.group(1).splitlines():
            if line.upper().startswith("USER:"):
                first_user = line.split(":", 1)[1].strip()
                break
    if task == "title":
        words = re.sub(r"[?!.]+$", "", first_user).split()
        title = " ".join(words[:_TITLE_WORDS]) + (" …" if len(words) > _TITLE_WORDS else "")
        return json.dumps({"title": title or "Question"}, ensure_ascii=False)
    empty = {"tags": {"tags": []}, "follow_ups": {"follow_ups": []}, "queries": {"queries": []}}
    if task in empty:
        return json.dumps(empty[task])
    return ""


def background_task_completion(task: str, messages: list[ChatMessage], model: str) -> dict[str, Any]:
    message = Message(role="assistant", content=background_task_reply(task, messages))
    return _whole_completion(model, message, mode="task", task=task)


# ---- the routes ------------------------------------------------------------------------------------------------


def add_openai_routes(app: FastAPI, settings: Settings) -> None:
    """`GET /v1/models` and `POST /v1/chat/completions`, put ahead of the Hayhooks routes of the same paths."""

    async def list_models() -> dict[str, Any]:
        created = int(time.time())
        data = [
            {
                "id": name,
                "object": "model",
                "created": created,
                "owned_by": "btp-rag",
                "name": name,
                "mode": route.mode,
                "backend": route.backend,
            }
            for name, route in model_routes(settings).items()
        ]
        return {"object": "list", "data": data}

    async def chat_completions(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(status_code=UNREADABLE, detail="The body must be JSON.") from None
        if not isinstance(body, dict):
            raise field_error("The body must be a JSON object.")
        route = resolve_model(body.get("model"), settings)
        messages = to_chat_messages(body.get("messages"))
        mode: Mode = "rag" if route.mode == "rag" and wants_rag(body, request.headers) else "chat"
        filters = body.get("filters")
        if filters is not None and not isinstance(filters, dict):
            raise field_error("'filters' must be a Haystack filter object.")
        model = str(body["model"])
        task = open_webui_task(body.get("messages"))
        if task is not None:  # Open WebUI's title, tags, follow-ups...: answered here, no retrieval, no LLM
            return JSONResponse(background_task_completion(task, messages, model), headers={MODE_HEADER: "task"})
        history = earlier_turns(messages)
        options = generation_options(body, settings, route.backend, history, route.thinking)
        options.stream_tokens = bool(flag(body.get("stream"), "stream"))
        graphs = deployed_graphs(request.app)
        footer = settings.generation.openai_sources_footer and not shows_structured_sources(request.headers, body)
        events = answer_events(graphs, settings, mode, messages, options, filters=filters)
        if options.stream_tokens:
            deltas = openai_deltas(events, model, footer)
            resp_id = f"{model}-{uuid.uuid4()}"
            response = create_async_streaming_response(deltas, resp_id, model)
            response.body_iterator = ended_stream(response.body_iterator, resp_id, model)
            response.headers[MODE_HEADER] = mode
            return response
        try:
            answer = await answering.collect(events)
        except LLMUnavailableError as e:
            raise unavailable(e) from None
        return JSONResponse(completion(answer, model, footer), headers={MODE_HEADER: mode})

    before = len(app.router.routes)
    app.add_api_route("/v1/models", list_models, methods=["GET"], tags=["openai"], summary="Models (graph + LLM)")
    app.add_api_route("/models", list_models, methods=["GET"], tags=["openai"], include_in_schema=False)
    app.add_api_route(
        "/v1/chat/completions", chat_completions, methods=["POST"], tags=["openai"], summary="OpenAI chat completion"
    )
    app.add_api_route("/chat/completions", chat_completions, methods=["POST"], tags=["openai"], include_in_schema=False)
    # Routes match in order: move ours ahead of the ones Hayhooks included.
    ours = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[0:0] = ours
