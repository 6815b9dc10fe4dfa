import pytest
from fastapi import HTTPException
from fastapi_openai_compat.chat_completions.models import ChatCompletion
from haystack.dataclasses import StreamingChunk
from starlette.datastructures import Headers

from service.answering import Answer, Event, LLMUnavailableError
from service.openai_chat import (
    ModelRoute,
    answer_text,
    bounded_generation_kwargs,
    earlier_turns,
    generation_options,
    last_user_question,
    model_routes,
    openai_deltas,
    resolve_model,
    to_chat_messages,
    unavailable,
    wants_rag,
)

pytestmark = pytest.mark.unit

SOURCES = [
    {"number": 1, "id": "a", "title": "CCTP lot 2", "source": "A2458/cctp.md", "cited": True},
    {"number": 2, "id": "b", "title": "Planning", "source": "A2458/planning.md", "cited": False},
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, True),
        ({"use_rag": None}, True),
        ({"use_rag": True}, True),
        ({"use_rag": False}, False),
        ({"use_rag": "false"}, False),
        ({"use_rag": " FALSE "}, False),
        ({"use_rag": "non"}, False),
        ({"use_rag": 0}, False),
        ({"use_rag": "true"}, True),
        ({"use_rag": "oui"}, True),
    ],
)
def test_wants_rag_from_the_body(body, expected):
    assert wants_rag(body, None) is expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({}, True), ({"x-use-rag": "false"}, False), ({"x-use-rag": "0"}, False), ({"x-use-rag": "true"}, True)],
)
def test_wants_rag_from_the_header(headers, expected):
    assert wants_rag({}, headers) is expected


def test_wants_rag_header_is_case_insensitive_with_http_headers():
    assert wants_rag({}, Headers({"X-Use-RAG": "false"})) is False


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [({"use_rag": True}, "false", True), ({"use_rag": "false"}, "true", False), ({"use_rag": None}, "false", False)],
)
def test_wants_rag_body_wins_over_header(body, header, expected):
    assert wants_rag(body, {"x-use-rag": header}) is expected


def test_to_chat_messages_with_string_content():
    messages = to_chat_messages(
        [
            {"role": "system", "content": "Sois bref."},
            {"role": "user", "content": "Bonjour"},
            {"role": "assistant", "content": "Bonjour !"},
            {"role": "user", "content": "Qu'est-ce qu'un DOE ?"},
        ]
    )
    assert [(m.role.value, m.text) for m in messages] == [
        ("system", "Sois bref."),
        ("user", "Bonjour"),
        ("assistant", "Bonjour !"),
        ("user", "Qu'est-ce qu'un DOE ?"),
    ]


def test_to_chat_messages_with_content_parts():
    parts = [
        {"type": "text", "text": "Que montre"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "text", "text": "ce plan ?"},
    ]
    (message,) = to_chat_messages([{"role": "user", "content": parts}])
    assert message.is_from("user")
    assert message.text == "Que montre\nce plan ?"


def test_to_chat_messages_skips_tool_messages():
    messages = to_chat_messages(
        [
            {"role": "user", "content": "Météo ?"},
            {"role": "tool", "content": "22 °C", "tool_call_id": "1"},
            {"role": "function", "name": "f", "content": "x"},
        ]
    )
    assert [m.text for m in messages] == ["Météo ?"]


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "system", "content": "Sois bref."}],
        [{"role": "user", "content": "   "}],
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
        [{"role": "user", "content": None}],
        [{"role": "tool", "content": "Bonjour"}],
    ],
)
def test_to_chat_messages_without_user_text_is_a_400(messages):
    with pytest.raises(HTTPException) as info:
        to_chat_messages(messages)
    assert info.value.status_code == 400


def test_last_user_question():
    messages = to_chat_messages(
        [
            {"role": "user", "content": " Première ? "},
            {"role": "assistant", "content": "R"},
            {"role": "user", "content": " "},
        ]
    )
    assert last_user_question(messages) == "Première ?"


def test_answer_text_appends_numbered_sources():
    text = answer_text(Answer("Le délai est de 3 mois [1].", SOURCES, "rag", [7]))
    answer, footer = text.split("\n\n---\n", 1)
    assert answer == "Le délai est de 3 mois [1]."
    lines = footer.splitlines()
    assert lines[0] == "**Sources**"
    assert lines[1].startswith("[1] CCTP lot 2")
    assert "A2458/cctp.md" in lines[1]
    assert "(citée)" in lines[1]
    assert lines[2].startswith("[2] Planning")
    assert "(citée)" not in lines[2]
    assert "[7]" in lines[3]


def test_answer_text_without_sources_is_the_answer():
    assert answer_text(Answer("Bonjour !", [], "chat")) == "Bonjour !"


def test_unavailable_is_a_503_that_keeps_the_sources():
    error = unavailable(LLMUnavailableError("Le modèle ne répond pas", SOURCES))
    assert error.status_code == 503
    assert error.detail == {"message": "Le modèle ne répond pas", "sources": SOURCES}


async def _events(*events: Event):
    for event in events:
        yield event


CONTEXT = {"mode": "rag", "question": "q", "sources": SOURCES}


async def _deltas(*events: Event) -> list:
    return [delta async for delta in openai_deltas(_events(*events))]


async def test_openai_deltas_streams_text_then_sources():
    deltas = await _deltas(
        Event("context", CONTEXT),
        Event("response", "Le délai "),
        Event("response", "est de 3 mois [1]."),
        Event("answer", Answer("Le délai est de 3 mois [1].", SOURCES, "rag")),
        Event("done"),
    )
    texts = [d for d in deltas if isinstance(d, str)]
    assert texts[:2] == ["Le délai ", "est de 3 mois [1]."]
    assert len(texts) == 3
    assert "**Sources**" in texts[2]
    assert "[2] Planning" in texts[2]
    chunks = [d for d in deltas if isinstance(d, ChatCompletion)]
    events = [c.model_extra["event"] for c in chunks if "event" in c.model_extra]
    assert [e["type"] for e in events] == ["source", "source"]
    assert events[0]["data"]["source"]["name"] == "[1] CCTP lot 2"
    (last,) = [c for c in chunks if "sources" in c.model_extra]
    assert last.model_extra["sources"] == SOURCES
    assert last.model_extra["mode"] == "rag"
    assert all(c.choices[0].delta.content == "" for c in chunks)  # plain clients see empty deltas


async def test_openai_deltas_send_reasoning_as_reasoning_chunks():
    deltas = await _deltas(Event("context", CONTEXT), Event("thinking", "Voyons"), Event("response", "Oui"))
    reasoning = [d for d in deltas if isinstance(d, StreamingChunk)]
    assert [r.reasoning.reasoning_text for r in reasoning] == ["Voyons"]
    assert reasoning[0].content == ""
    assert [d for d in deltas if isinstance(d, str)] == ["Oui"]


async def test_openai_deltas_on_error_sends_the_message_and_uncited_sources():
    deltas = await _deltas(Event("context", CONTEXT), Event("error", "Le modèle ne répond pas"), Event("done"))
    (delta,) = [d for d in deltas if isinstance(d, str)]
    assert "Le modèle ne répond pas" in delta
    assert "[1] CCTP lot 2" in delta
    assert "(citée)" not in delta
    (last,) = [d for d in deltas if isinstance(d, ChatCompletion)]
    assert last.model_extra["service_error"] == "Le modèle ne répond pas"
    assert "error" not in last.model_extra  # the openai client would raise on an `error` key


async def test_openai_deltas_chat_answer_adds_no_sources():
    deltas = await _deltas(
        Event("context", {"mode": "chat", "question": "q", "sources": []}),
        Event("response", "Bonjour"),
        Event("answer", Answer("Bonjour", [], "chat")),
        Event("done"),
    )
    assert [d for d in deltas if isinstance(d, str)] == ["Bonjour"]
    (last,) = [d for d in deltas if isinstance(d, ChatCompletion)]
    assert last.model_extra["mode"] == "chat"


def test_model_routes_and_unknown_model(settings):
    routes = model_routes(settings)
    default = settings.models.llm.default
    assert routes["rag"] == ModelRoute("rag", default)
    assert routes["chat"] == ModelRoute("chat", default)
    assert routes[default] == ModelRoute("rag", default)
    with pytest.raises(HTTPException) as info:
        resolve_model("gpt-17", settings)
    assert info.value.status_code == 404
    assert "rag" in info.value.detail


def test_generation_kwargs_are_bounded(settings):
    limits = settings.generation.limits
    body = {"temperature": 9, "top_p": 0.5, "max_tokens": 10**6}
    assert bounded_generation_kwargs(body, settings) == {
        "temperature": limits.temperature,
        "top_p": 0.5,
        "max_tokens": limits.max_tokens,
    }
    assert bounded_generation_kwargs({"max_completion_tokens": 12}, settings) == {"max_tokens": 12}
    assert bounded_generation_kwargs({}, settings) == {}


@pytest.mark.parametrize(
    "body", [{"temperature": -1}, {"top_p": 0}, {"max_tokens": 0}, {"temperature": "hot"}, {"max_tokens": True}]
)
def test_bad_generation_parameters_are_a_400(settings, body):
    with pytest.raises(HTTPException) as info:
        bounded_generation_kwargs(body, settings)
    assert info.value.status_code == 400


def test_generation_options(settings):
    backend = settings.models.llm.default
    options = generation_options({"enable_thinking": "true", "prompt_type": "summary"}, settings, backend)
    assert (options.enable_thinking, options.prompted_thinking, options.prompt_type) == (True, True, "summary")
    assert options.backend == backend
    assert generation_options({}, settings, backend).enable_thinking is settings.generation.enable_thinking
    with pytest.raises(HTTPException):
        generation_options({"enable_thinking": "peut-être"}, settings, backend)


def test_earlier_turns_are_the_history():
    messages = to_chat_messages(
        [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "Q1"},
            {"role": "assistant", "content": "R1"},
            {"role": "user", "content": "Q2"},
        ]
    )
    assert [m.text for m in earlier_turns(messages)] == ["Q1", "R1"]
