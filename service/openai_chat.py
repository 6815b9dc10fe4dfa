"""Map OpenAI chat-completion requests onto the graphs, and the graphs' events back onto OpenAI text."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from fastapi import HTTPException
from haystack.dataclasses import ChatMessage

from service.answering import Answer, Event, LLMUnavailableError, sources_footer

USE_RAG_HEADER = "x-use-rag"
_FALSE = {"false", "0", "no", "off", "non"}
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


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts: keep the text ones
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def to_chat_messages(messages: list[dict[str, Any]]) -> list[ChatMessage]:
    """OpenAI messages as Haystack `ChatMessage`s; a request with no user text is a 400."""
    converted = []
    for message in messages:
        role = message.get("role")
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


def answer_text(answer: Answer) -> str:
    """The full text an OpenAI client receives for a finished answer."""
    return answer.answer + sources_footer(answer.sources, answer.invalid_citations)


def unavailable(error: LLMUnavailableError) -> HTTPException:
    """HTTP 503 that still carries the retrieved sources."""
    return HTTPException(status_code=503, detail={"message": error.message, "sources": error.sources})


async def openai_deltas(events: AsyncIterator[Event]) -> AsyncIterator[str]:
    """The text deltas of an OpenAI stream: the answer as it is written, then its sources (or the error)."""
    sources: list[dict[str, Any]] = []
    async for event in events:
        if event.type == "context":
            sources = event.data
        elif event.type == "response":
            yield event.data
        elif event.type == "answer":
            footer = sources_footer(event.data.sources, event.data.invalid_citations)
            if footer:
                yield footer
        elif event.type == "error":
            listed = [{**s, "cited": False} for s in sources]
            yield f"\n\n⚠️ {event.data}" + sources_footer(listed)
