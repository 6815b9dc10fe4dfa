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

import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi_openai_compat.chat_completions.models import ChatCompletion, Choice, Message
from fastapi_openai_compat.chat_completions.streaming import create_async_streaming_response
from haystack import Pipeline
from haystack.dataclasses import ChatMessage, ReasoningContent, StreamingChunk

from service import answering
from service.answering import (
    RAG_PROMPT_NODE,
    Answer,
    Event,
    GenerationOptions,
    LLMUnavailableError,
    Mode,
    sources_footer,
    unsupported_note,
)
from service.settings import Settings

USE_RAG_HEADER = "x-use-rag"
MODE_HEADER = "x-rag-mode"
_FALSE = {"false", "0", "no", "off", "non"}
_TRUE = {"true", "1", "yes", "on", "oui"}
_ROLES = {"user": ChatMessage.from_user, "assistant": ChatMessage.from_assistant, "system": ChatMessage.from_system}


def wants_rag(body: Mapping[str, Any], headers: Mapping[str, str] | None) -> bool:
    """RAG unless the body says `use_rag: false` or the header `x-use-rag: false` is set (the body wins)."""
    if "use_rag" in body and body["use_rag"] is not None:
        value = body["use_rag"]
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() not in _FALSE
    if headers is not None and headers.get(USE_RAG_HEADER) is not None:
        return str(headers.get(USE_RAG_HEADER)).strip().lower() not in _FALSE
    return True


def flag(value: Any, name: str) -> bool | None:
    """A boolean request field (true/false, "oui"/"non", 1/0); None when absent; anything else is a 400."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise HTTPException(status_code=400, detail=f"'{name}' must be true or false (got {value!r})")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts: keep the text ones
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def to_chat_messages(messages: list[dict[str, Any]]) -> list[ChatMessage]:
    """OpenAI messages as Haystack `ChatMessage`s; a request with no user text is a 400."""
    if not isinstance(messages, list):
        raise HTTPException(status_code=400, detail="'messages' must be a list of messages.")
    converted = []
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES:
            continue  # tool and function messages have no place in these graphs
        converted.append(_ROLES[role](_text_of(message.get("content"))))
    if not any(m.is_from("user") and (m.text or "").strip() for m in converted):
        raise HTTPException(status_code=400, detail="The request has no user message with text.")
    return converted


def last_user_question(messages: list[ChatMessage]) -> str:
    for message in reversed(messages):
        if message.is_from("user") and (message.text or "").strip():
            return (message.text or "").strip()
    raise HTTPException(status_code=400, detail="The request has no user message with text.")


def earlier_turns(messages: list[ChatMessage]) -> list[ChatMessage]:
    """The user and assistant turns before the last user message (the conversation history)."""
    last = max(i for i, m in enumerate(messages) if m.is_from("user") and (m.text or "").strip())
    return [m for m in messages[:last] if (m.is_from("user") or m.is_from("assistant")) and (m.text or "").strip()]


# ---- model routing and request options ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRoute:
    """What a model name means: a graph and an LLM backend."""

    mode: Mode
    backend: str


def model_routes(settings: Settings) -> dict[str, ModelRoute]:
    """Every model name clients may use: `rag`, `chat` (default backend) and each backend's name (RAG)."""
    default = settings.models.llm.default
    routes = {"rag": ModelRoute("rag", default), "chat": ModelRoute("chat", default)}
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
        raise HTTPException(status_code=400, detail=f"'{name}' must be a number (got {value!r})")
    return float(value)


def bounded_generation_kwargs(body: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """temperature, top_p and max_tokens from the request, within `generation.limits` (a negative value is a 400)."""
    limits = settings.generation.limits
    kwargs: dict[str, Any] = {}
    temperature = _number(body, "temperature")
    if temperature is not None:
        if temperature < 0:
            raise HTTPException(status_code=400, detail="'temperature' must be 0 or more")
        kwargs["temperature"] = min(temperature, limits.temperature)
    top_p = _number(body, "top_p")
    if top_p is not None:
        if top_p <= 0:
            raise HTTPException(status_code=400, detail="'top_p' must be more than 0")
        kwargs["top_p"] = min(top_p, limits.top_p)
    max_tokens = _number(body, "max_completion_tokens")
    max_tokens = _number(body, "max_tokens") if max_tokens is None else max_tokens
    if max_tokens is not None:
        if max_tokens < 1:
            raise HTTPException(status_code=400, detail="'max_tokens' must be 1 or more")
        kwargs["max_tokens"] = int(min(max_tokens, limits.max_tokens))
    return kwargs


def generation_options(
    body: Mapping[str, Any], settings: Settings, backend: str, history: list[ChatMessage] | None = None
) -> GenerationOptions:
    """The generation options a request asks for, checked against the configuration."""
    backend_settings = settings.llm_backend(backend)
    thinking = flag(body.get("enable_thinking"), "enable_thinking")
    thinking = settings.generation.enable_thinking if thinking is None else thinking
    prompt_type = body.get("prompt_type")
    if prompt_type is not None and not isinstance(prompt_type, str):
        raise HTTPException(status_code=400, detail="'prompt_type' must be a string")
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
    """The built graphs a request may run (held by the `rag` wrapper Hayhooks deployed)."""

    rag: Pipeline | None
    chat: Pipeline | None
    rewriter: Pipeline | None


def deployed_graphs(app: FastAPI) -> Graphs:
    registry = getattr(app.state, "pipeline_registry", None)
    rag = registry.get("rag") if registry is not None else None
    chat = registry.get("chat") if registry is not None else None
    return Graphs(
        rag=getattr(rag, "pipeline", None),
        chat=getattr(rag, "chat_pipeline", None) or getattr(chat, "pipeline", None),
        rewriter=getattr(rag, "rewrite_pipeline", None),
    )


def check_prompt_type(rag: Pipeline, prompt_type: str | None) -> None:
    """400 for a `prompt_type` the `rag` graph's prompt builder has no template for (before anything runs)."""
    if not prompt_type:
        return
    try:
        templates = getattr(rag.get_component(RAG_PROMPT_NODE), "templates", None)
    except ValueError:  # a graph without that node: nothing to check against
        return
    if isinstance(templates, Mapping) and prompt_type not in templates:
        raise HTTPException(
            status_code=400,
            detail=f"Unknown 'prompt_type' {prompt_type!r}: one of {', '.join(sorted(templates))}.",
        )


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
    """One source as an Open WebUI `source` event (listed under the answer as a citation)."""
    name = source.get("title") or source.get("source") or source.get("id")
    metadata = {k: v for k, v in source.items() if k != "text" and v is not None}
    return {
        "type": "source",
        "data": {
            "source": {"name": f"[{source['number']}] {name}", "id": source.get("id")},
            "document": [source.get("text") or name],
            "metadata": [{**metadata, "source": name, "name": f"[{source['number']}] {name}"}],
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


def completion(answer: Answer, model: str, footer: bool) -> dict[str, Any]:
    """A non-streamed chat completion, with the reasoning apart and the structured sources alongside."""
    message = Message(role="assistant", content=answer_text(answer, footer), reasoning_content=answer.thinking or None)
    body = ChatCompletion(
        id=f"{model}-{uuid.uuid4()}",
        object="chat.completion",
        created=int(time.time()),
        model=model,
        choices=[Choice(index=0, message=message, finish_reason="stop")],
        sources=answer.sources,
        mode=answer.mode,
        invalid_citations=answer.invalid_citations,
        unsupported=answer.unsupported,
        question=answer.question,
    )
    return body.model_dump(exclude_none=True)


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
            raise HTTPException(status_code=400, detail="The body must be JSON.") from None
        if not isinstance(body, dict):
            raise HTTPException(status_code=400, detail="The body must be a JSON object.")
        route = resolve_model(body.get("model"), settings)
        messages = to_chat_messages(body.get("messages"))
        mode: Mode = "rag" if route.mode == "rag" and wants_rag(body, request.headers) else "chat"
        filters = body.get("filters")
        if filters is not None and not isinstance(filters, dict):
            raise HTTPException(status_code=400, detail="'filters' must be a Haystack filter object.")
        history = earlier_turns(messages)
        options = generation_options(body, settings, route.backend, history)
        options.stream_tokens = bool(flag(body.get("stream"), "stream"))
        graphs = deployed_graphs(request.app)
        footer = settings.generation.openai_sources_footer
        events = answer_events(graphs, settings, mode, messages, options, filters=filters)
        model = str(body["model"])
        if options.stream_tokens:
            deltas = openai_deltas(events, model, footer)
            response = create_async_streaming_response(deltas, f"{model}-{uuid.uuid4()}", model)
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
