import pytest
from fastapi import HTTPException
from fastapi_openai_compat.chat_completions.models import ChatCompletion
from haystack.dataclasses import StreamingChunk
from starlette.datastructures import Headers

from service.answering import Answer, Event, LLMUnavailableError, sources_footer, unsupported_note
from service.openai_chat import (
    ModelRoute,
    answer_text,
    background_task_reply,
    bounded_generation_kwargs,
    earlier_turns,
    generation_options,
    last_user_question,
    model_routes,
    open_webui_source_event,
    open_webui_task,
    openai_deltas,
    resolve_model,
    shows_structured_sources,
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
def test_to_chat_messages_without_user_text_is_a_422(messages):
    with pytest.raises(HTTPException) as info:
        to_chat_messages(messages)
    assert info.value.status_code == 422


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
    assert events[0]["data"]["source"]["name"] == "1. CCTP lot 2"
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
    assert routes["rag-thinking"] == ModelRoute("rag", default, thinking=True)
    assert routes["chat-thinking"] == ModelRoute("chat", default, thinking=True)
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
def test_bad_generation_parameters_are_a_422(settings, body):
    with pytest.raises(HTTPException) as info:
        bounded_generation_kwargs(body, settings)
    assert info.value.status_code == 422


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


def test_thinking_model_names_turn_thinking_on_unless_the_body_says_otherwise(settings):
    backend = settings.models.llm.default
    assert generation_options({}, settings, backend, thinking_default=True).enable_thinking is True
    assert (
        generation_options({"enable_thinking": False}, settings, backend, thinking_default=True).enable_thinking
        is False
    )


def test_earlier_answers_lose_the_footer_and_note_the_client_sends_back():
    shown = "Le total est 3 € [1]." + unsupported_note(["Le TTC est 9 €."]) + sources_footer(SOURCES)
    messages = to_chat_messages(
        [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": shown}, {"role": "user", "content": "Q2"}]
    )
    assert [m.text for m in earlier_turns(messages)] == ["Q1", "Le total est 3 € [1]."]


def test_two_passages_of_one_document_are_two_open_webui_sources():
    first = {"number": 1, "id": "x1", "title": "Fiche A2458", "source": "fiche.md", "page": 2, "text": "Total HT"}
    second = {"number": 2, "id": "x2", "title": "Fiche A2458", "source": "fiche.md", "section": "DQE", "text": "TVA"}
    a, b = open_webui_source_event(first)["data"], open_webui_source_event(second)["data"]
    # Open WebUI groups by metadata.source: one key per passage keeps them apart, in our numbering.
    assert (a["metadata"][0]["source"], b["metadata"][0]["source"]) == ("fiche.md#1", "fiche.md#2")
    assert (a["source"]["name"], b["source"]["name"]) == ("1. Fiche A2458", "2. Fiche A2458 — DQE")
    assert a["document"] == ["Total HT"]
    assert a["metadata"][0]["page"] == 1  # Open WebUI counts pages from 0
    assert "page" not in b["metadata"][0]


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({}, {}, False),
        ({"X-OpenWebUI-Chat-Id": "c1"}, {}, True),
        ({"x-rag-sources-footer": "false"}, {}, True),
        ({"X-OpenWebUI-User-Name": "u"}, {"sources_footer": True}, False),
        ({}, {"sources_footer": False}, True),
    ],
)
def test_structured_sources_clients_get_no_footer(headers, body, expected):
    assert shows_structured_sources(Headers(headers), body) is expected


TITLE_TASK = (
    "### Task:\nGenerate a concise, 3-5 word title with an emoji summarizing the chat history.\n"
    "<chat_history>\nUSER: Quel est le montant total HT du marché de l'affaire A2458 ?\nASSISTANT: 631 592,50 €\n"
    "</chat_history>"
)


def test_open_webui_background_tasks_are_recognised_and_answered_without_the_llm():
    import json

    title = to_chat_messages([{"role": "user", "content": TITLE_TASK}])
    assert open_webui_task([{"role": "user", "content": TITLE_TASK}]) == "title"
    assert json.loads(background_task_reply("title", title)) == {"title": "Quel est le montant total HT …"}
    follow = to_chat_messages(
        [{"role": "user", "content": "### Task:\nSuggest 3-5 relevant follow-up questions or prompts..."}]
    )
    assert open_webui_task([{"role": "user", "content": follow[0].text}]) == "follow_ups"
    assert json.loads(background_task_reply("follow_ups", follow)) == {"follow_ups": []}
    assert open_webui_task([{"role": "user", "content": "### Task:\nGenerate 1-3 broad tags"}]) == "tags"
    # A user's own question, even one that starts alike in a conversation, is not a task.
    assert open_webui_task([{"role": "user", "content": "Quel est le montant ?"}]) is None
    two = [
        {"role": "user", "content": TITLE_TASK},
        {"role": "assistant", "content": "x"},
        {"role": "user", "content": "y"},
    ]
    assert open_webui_task(two) is None
