"""The `/askai` API: one question answered from the documents, as typed events or as one JSON answer.

- `WebSocket /askai/ws`: send `{"question", "theme"?, "enable_thinking"?, "filters"?, "model"?, "prompt_type"?,
  "history"?, "use_rag"?}`; receive `context` (the sources, before the first token), `thinking` and `response`
  deltas, then `error` if the LLM failed, and always `done` (with the final answer and sources when there is one).
  Several questions may follow on one socket.
- `POST /askai/query`: the same fields → `{"answer", "thinking", "sources", "mode", "invalid_citations",
  "question"}`; 503 with the sources when the LLM is down.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from haystack.dataclasses import ChatMessage
from pydantic import BaseModel, Field

from service import answering
from service.answering import Answer, Event, LLMUnavailableError
from service.gateway.validation import INVALID_FIELD
from service.openai_chat import (
    answer_events,
    deployed_graphs,
    field_error,
    generation_options,
    resolve_model,
    to_chat_messages,
    unavailable,
    wants_rag,
)
from service.settings import Settings


class HistoryTurn(BaseModel):
    role: str = Field(pattern="^(user|assistant)$")
    content: str


class AskRequest(BaseModel):
    """One question to `/askai`."""

    question: str = Field(min_length=1, max_length=4000)
    theme: str | None = None
    enable_thinking: bool | None = None
    filters: dict[str, Any] | None = None
    model: str = "rag"
    prompt_type: str | None = None
    use_rag: bool | None = None  # None: the `x-use-rag` header decides, else RAG
    include_passage_text: bool | None = None
    history: list[HistoryTurn] = Field(default_factory=list)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None


def combined_filters(theme: str | None, filters: dict[str, Any] | None) -> dict[str, Any] | None:
    """The request's filters ANDed with `meta.theme == theme`."""
    conditions = []
    if theme:
        conditions.append({"field": "meta.theme", "operator": "==", "value": theme})
    if filters:
        conditions.append(filters)
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"operator": "AND", "conditions": conditions}


def request_events(
    app: FastAPI, settings: Settings, ask: AskRequest, stream_tokens: bool, headers: Mapping[str, str] | None = None
) -> Any:
    """The event stream answering one `/askai` request (HTTPException on bad input); tokens one by one if asked."""
    if not ask.question.strip():
        raise field_error("'question' is empty.")
    route = resolve_model(ask.model, settings)
    turns = [{"role": t.role, "content": t.content} for t in ask.history]
    messages: list[ChatMessage] = to_chat_messages([*turns, {"role": "user", "content": ask.question.strip()}])
    history = messages[:-1]
    body = ask.model_dump(exclude={"history", "question"})
    options = generation_options(body, settings, route.backend, history, route.thinking)
    options.stream_tokens = stream_tokens
    mode = "rag" if route.mode == "rag" and wants_rag({"use_rag": ask.use_rag}, headers) else "chat"
    filters = combined_filters(ask.theme, ask.filters)
    return answer_events(deployed_graphs(app), settings, mode, messages, options, filters=filters)


def answer_json(answer: Answer) -> dict[str, Any]:
    return {
        "answer": answer.answer,
        "thinking": answer.thinking,
        "sources": answer.sources,
        "mode": answer.mode,
        "invalid_citations": answer.invalid_citations,
        "unsupported": answer.unsupported,
        "left_out": answer.left_out,
        "question": answer.question,
    }


def event_json(event: Event, final: Answer | None) -> dict[str, Any] | None:
    """One event as the WebSocket sends it; None for events the socket does not show (`answer`)."""
    if event.type == "context":
        return {"type": "context", **event.data}
    if event.type in {"thinking", "response"}:
        return {"type": event.type, "content": event.data}
    if event.type == "error":
        return {"type": "error", "message": event.data}
    if event.type == "done":
        return {"type": "done", **(answer_json(final) if final is not None else {})}
    return None


def add_askai_routes(app: FastAPI, settings: Settings) -> None:
    """Mount `POST /askai/query` and `WebSocket /askai/ws`."""

    @app.post("/askai/query", tags=["askai"], summary="Answer one question (JSON)")
    async def query(ask: AskRequest, request: Request) -> dict[str, Any]:
        events = request_events(request.app, settings, ask, stream_tokens=False, headers=request.headers)
        try:
            answer = await answering.collect(events)
        except LLMUnavailableError as e:
            raise unavailable(e) from None
        return answer_json(answer)

    @app.websocket("/askai/ws")
    async def ask_socket(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await _answer_one(websocket, await websocket.receive_json())
        except WebSocketDisconnect:
            return

    async def _answer_one(websocket: WebSocket, payload: Any) -> None:
        try:
            ask = AskRequest.model_validate(payload)
            events = request_events(websocket.app, settings, ask, stream_tokens=True, headers=websocket.headers)
        except HTTPException as e:
            await websocket.send_json({"type": "error", "message": str(e.detail), "status": e.status_code})
            await websocket.send_json({"type": "done"})
            return
        except ValueError as e:  # pydantic's ValidationError
            await websocket.send_json({"type": "error", "message": f"Invalid request: {e}", "status": INVALID_FIELD})
            await websocket.send_json({"type": "done"})
            return
        final: Answer | None = None
        try:
            async for event in events:
                if event.type == "answer":
                    final = event.data
                message = event_json(event, final)
                if message is not None:
                    await websocket.send_json(message)
        except WebSocketDisconnect:
            raise
        except Exception as e:  # a failure outside the LLM: still an error, then done
            await websocket.send_json({"type": "error", "message": f"Erreur interne ({type(e).__name__})."})
            await websocket.send_json({"type": "done"})
