"""
The request layer: bad input gets a clear 4xx before it reaches a graph, and every route reads a request the same
way (message text, booleans, `use_rag`).

One status rule for every route: **400** when the body cannot be read (not UTF-8, not JSON), **413** when it or a
message is too large, **422** when it is readable JSON with a wrong, missing or out-of-range field (wrong types,
empty question, no user message, bad filters, unknown `prompt_type`), **404** for an unknown model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from service.gateway.access import FilterCheck, InvalidFiltersError, check_filters_apply, validate_filters
from service.gateway.config import AccessSettings, LimitsSettings

CHAT_ROUTES = {"/v1/chat/completions", "/chat/completions"}
QUESTION_ROUTES = {"/rag/run", "/askai/query"}
ROLES = {"system", "user", "assistant", "developer", "tool", "function"}
UNREADABLE = 400  # the body is not UTF-8 JSON
INVALID_FIELD = 422  # readable JSON, a field is wrong
USE_RAG_HEADER = "x-use-rag"
FALSE_WORDS = frozenset({"false", "0", "no", "off", "non"})
TRUE_WORDS = frozenset({"true", "1", "yes", "on", "oui"})
BOOLEAN_FIELDS = ("use_rag", "enable_thinking", "include_passage_text", "sources_footer", "stream")


class BadRequestError(Exception):
    """A request the gateway refuses: `status` (400, 413, 422) and a message for the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_json_body(raw: bytes) -> Any:
    """:raises BadRequestError: for bytes that are not UTF-8 JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRequestError(UNREADABLE, f"The request body is not valid UTF-8 (byte {e.start}).") from None
    try:
        body = json.loads(text)
        _check_unicode(body)
    except json.JSONDecodeError as e:
        raise BadRequestError(
            UNREADABLE, f"The request body is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})."
        ) from None
    except RecursionError:
        raise BadRequestError(UNREADABLE, "The request body is nested too deeply.") from None
    return body


def _check_unicode(node: Any) -> None:
    """JSON escapes can spell lone surrogates (`"\\ud800"`), which are not text: refuse them here."""
    if isinstance(node, str):
        try:
            node.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequestError(
                UNREADABLE, "The request body holds an invalid Unicode escape (a lone surrogate)."
            ) from None
    elif isinstance(node, dict):
        for key, value in node.items():
            _check_unicode(key)
            _check_unicode(value)
    elif isinstance(node, list):
        for value in node:
            _check_unicode(value)


def _int_in_range(body: dict[str, Any], name: str, low: int, high: int) -> None:
    if name not in body or body[name] is None:
        return
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequestError(INVALID_FIELD, f"'{name}' must be an integer.")
    if not low <= value <= high:
        raise BadRequestError(INVALID_FIELD, f"'{name}' must be between {low} and {high} (got {value}).")


def message_text(content: Any) -> str:
    """The text of an OpenAI message's `content`: a string, or its `text` parts joined (images and files skipped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p["text"]
            for p in content
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        )
    return ""


def read_flag(value: Any, name: str) -> bool | None:
    """
    A boolean request field or header: true/false, "oui"/"non", 1/0, on/off; None when absent.

    :raises BadRequestError: 422 for anything else.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise BadRequestError(INVALID_FIELD, f"'{name}' must be true or false (got {value!r}).")


def wants_rag(body: Mapping[str, Any], headers: Mapping[str, str] | None) -> bool:
    """RAG unless the body says `use_rag: false` or the header `x-use-rag: false` is set (the body wins)."""
    value = read_flag(body.get("use_rag"), "use_rag")
    if value is None and headers is not None:
        value = read_flag(headers.get(USE_RAG_HEADER), USE_RAG_HEADER)
    return True if value is None else value


def _text_of(content: Any, where: str) -> str:
    """`message_text`, with a 422 naming the part that is not text-shaped."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        parts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise BadRequestError(INVALID_FIELD, f"{where}.content[{i}] must be an object with a 'type'.")
            if part["type"] == "text":
                if not isinstance(part.get("text"), str):
                    raise BadRequestError(INVALID_FIELD, f"{where}.content[{i}].text must be a string.")
                parts.append(part["text"])
        return "\n".join(parts)
    raise BadRequestError(INVALID_FIELD, f"{where}.content must be a string or a list of content parts.")


def _check_messages(body: dict[str, Any], limits: LimitsSettings) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise BadRequestError(INVALID_FIELD, "'messages' must be a list of messages.")
    if not messages:
        raise BadRequestError(INVALID_FIELD, "'messages' is empty.")
    if len(messages) > limits.max_messages:
        raise BadRequestError(INVALID_FIELD, f"Too many messages: {len(messages)} (at most {limits.max_messages}).")
    has_user_text = False
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise BadRequestError(INVALID_FIELD, f"{where} must be an object with 'role' and 'content'.")
        if message.get("role") not in ROLES:
            raise BadRequestError(INVALID_FIELD, f"{where}.role must be one of {', '.join(sorted(ROLES))}.")
        text = _text_of(message.get("content"), where)
        if len(text) > limits.max_message_chars:
            limit = limits.max_message_chars
            raise BadRequestError(413, f"{where} is too long: {len(text)} characters (at most {limit}).")
        has_user_text = has_user_text or (message["role"] == "user" and bool(text.strip()))
    if not has_user_text:
        raise BadRequestError(INVALID_FIELD, "The request has no user message with text.")


def _check_question(body: dict[str, Any], limits: LimitsSettings) -> None:
    for name in ("query", "question"):
        if name not in body:
            continue
        value = body[name]
        if not isinstance(value, str):
            raise BadRequestError(INVALID_FIELD, f"'{name}' must be a string.")
        if not value.strip():
            raise BadRequestError(INVALID_FIELD, f"'{name}' is empty.")
        if len(value) > limits.max_message_chars:
            raise BadRequestError(
                413, f"'{name}' is too long: {len(value)} characters (at most {limits.max_message_chars})."
            )


def _check_generation(body: dict[str, Any], limits: LimitsSettings) -> None:
    """max_tokens, top_k, temperature and top_p within their ranges."""
    _int_in_range(body, "max_tokens", 1, limits.max_tokens)
    _int_in_range(body, "max_completion_tokens", 1, limits.max_tokens)
    _int_in_range(body, "top_k", 1, limits.max_top_k)
    if "temperature" in body and body["temperature"] is not None:
        value = body["temperature"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2:
            raise BadRequestError(INVALID_FIELD, "'temperature' must be a number between 0 and 2.")
    if "top_p" in body and body["top_p"] is not None:
        value = body["top_p"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise BadRequestError(INVALID_FIELD, "'top_p' must be a number more than 0 and at most 1.")


def _check_history(body: dict[str, Any], limits: LimitsSettings) -> None:
    """`/askai`'s earlier turns: as many, and as long, as the messages of a chat request may be."""
    history = body.get("history")
    if history is None:
        return
    if not isinstance(history, list):
        raise BadRequestError(INVALID_FIELD, "'history' must be a list of {role, content} turns.")
    if len(history) > limits.max_messages:
        raise BadRequestError(
            INVALID_FIELD, f"Too many turns in 'history': {len(history)} (at most {limits.max_messages})."
        )
    for i, turn in enumerate(history):
        if not isinstance(turn, dict) or not isinstance(turn.get("content"), str):
            raise BadRequestError(INVALID_FIELD, f"history[{i}] must be an object with 'role' and a 'content' string.")
        if len(turn["content"]) > limits.max_message_chars:
            raise BadRequestError(
                413,
                f"history[{i}] is too long: {len(turn['content'])} characters (at most {limits.max_message_chars}).",
            )


def validate_body(
    path: str,
    body: Any,
    limits: LimitsSettings,
    access: AccessSettings,
    filter_checks: dict[str, FilterCheck] | None = None,
) -> None:
    """
    Check a question route's JSON body (a WebSocket question too: `path` is then `/askai/query`).

    :param filter_checks: The stores' filter conversions (`store_filter_checks`): a filter one of them cannot apply
        is a 422 here, not a failure in the middle of the graph.

    :raises BadRequestError: naming the first problem found.
    """
    if not isinstance(body, dict):
        raise BadRequestError(INVALID_FIELD, "The request body must be a JSON object.")
    for name in BOOLEAN_FIELDS:
        read_flag(body.get(name), name)
    if body.get("prompt_type") is not None and not isinstance(body["prompt_type"], str):
        raise BadRequestError(INVALID_FIELD, "'prompt_type' must be a string.")
    if path in CHAT_ROUTES:
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise BadRequestError(INVALID_FIELD, "'model' must be a non-empty string.")
        _check_messages(body, limits)
        if "stream" in body and body["stream"] is not None and not isinstance(body["stream"], bool):
            raise BadRequestError(INVALID_FIELD, "'stream' must be true or false.")
    elif "messages" in body:
        _check_messages(body, limits)
    if path == "/rag/run" and "query" not in body:
        raise BadRequestError(INVALID_FIELD, "'query' is missing.")
    _check_question(body, limits)
    _check_history(body, limits)
    _check_generation(body, limits)
    if body.get("filters") is not None:
        if not isinstance(body["filters"], dict):
            raise BadRequestError(INVALID_FIELD, "'filters' must be a Haystack filter object.")
        try:
            validate_filters(body["filters"], access.filter_fields)
            if filter_checks:
                check_filters_apply(body["filters"], filter_checks)
        except InvalidFiltersError as e:
            raise BadRequestError(INVALID_FIELD, f"Invalid filters: {e}") from None


def is_question_route(path: str) -> bool:
    return path in CHAT_ROUTES or path in QUESTION_ROUTES
