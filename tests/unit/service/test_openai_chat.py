import pytest
from fastapi import HTTPException
from starlette.datastructures import Headers

from service.answering import Answer, Event, LLMUnavailableError
from service.openai_chat import (
    answer_text,
    last_user_question,
    openai_deltas,
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


async def test_openai_deltas_streams_text_then_sources():
    stream = _events(
        Event("context", SOURCES),
        Event("response", "Le délai "),
        Event("response", "est de 3 mois [1]."),
        Event("answer", Answer("Le délai est de 3 mois [1].", SOURCES, "rag")),
        Event("done"),
    )
    deltas = [delta async for delta in openai_deltas(stream)]
    assert deltas[:2] == ["Le délai ", "est de 3 mois [1]."]
    assert len(deltas) == 3
    assert "**Sources**" in deltas[2]
    assert "[2] Planning" in deltas[2]


async def test_openai_deltas_on_error_sends_the_message_and_uncited_sources():
    stream = _events(Event("context", SOURCES), Event("error", "Le modèle ne répond pas"), Event("done"))
    (delta,) = [delta async for delta in openai_deltas(stream)]
    assert "Le modèle ne répond pas" in delta
    assert "[1] CCTP lot 2" in delta
    assert "(citée)" not in delta


async def test_openai_deltas_chat_answer_adds_nothing():
    stream = _events(Event("response", "Bonjour"), Event("answer", Answer("Bonjour", [], "chat")), Event("done"))
    assert [delta async for delta in openai_deltas(stream)] == ["Bonjour"]
