"""The generation half against the real local vLLM: thinking apart from the answer, typed WebSocket events, refusal.

Each LLM answer costs 5-30 s on CPU: these tests are few and ask for short answers.
"""

from __future__ import annotations

import json

import httpx
import pytest
from haystack.dataclasses import ChatMessage, StreamingChunk
from openai import NotFoundError, OpenAI

from components.builders.statement_citer import NOT_IN_DOCUMENTS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "Quel est le net à payer de la facture F2025-0412 ?"


def client(base_url: str) -> OpenAI:
    return OpenAI(base_url=f"{base_url}/v1", api_key="not-needed-in-dev", timeout=600, max_retries=0)


def stream_parts(base_url: str, enable_thinking: bool) -> tuple[str, str]:
    """(reasoning, content) of a streamed `rag` answer, read as a plain `openai` client reads it."""
    stream = client(base_url).chat.completions.create(
        model="rag",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        max_tokens=160,
        extra_body={"enable_thinking": enable_thinking},
    )
    reasoning, content = [], []
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        reasoning.append((delta.model_extra or {}).get("reasoning_content") or "")
        content.append(delta.content or "")
    return "".join(reasoning), "".join(content)


def test_openai_stream_sends_reasoning_apart_with_thinking_on_and_none_with_it_off(service: str) -> None:
    reasoning, content = stream_parts(service, enable_thinking=True)
    assert reasoning.strip(), "no reasoning_content deltas with thinking on"
    answer = content.partition("\n---\n**Sources**")[0]
    assert answer.strip(), "no answer after the reasoning"
    for tag in ("<thinking>", "</thinking>", "<answer>", "</answer>", "<think>"):
        assert tag not in content
    reasoning, content = stream_parts(service, enable_thinking=False)
    assert reasoning == ""
    assert content.strip()


def test_openai_whole_answer_keeps_reasoning_apart_too(service: str) -> None:
    # Asked without "stream": the reasoning is split from the finished reply.
    completion = client(service).chat.completions.create(
        model="rag",
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=160,
        extra_body={"enable_thinking": True},
    )
    message = completion.choices[0].message
    reasoning = (message.model_extra or {}).get("reasoning_content") or ""
    assert reasoning.strip(), "no reasoning_content with thinking on"
    assert message.content.partition("\n---\n**Sources**")[0].strip(), "no answer after the reasoning"
    for tag in ("<thinking>", "</thinking>", "<answer>", "</answer>", "<think>"):
        assert tag not in message.content


def test_askai_websocket_sends_context_first_and_ends_with_done(service: str) -> None:
    from websockets.sync.client import connect

    with connect(service.replace("http", "ws") + "/askai/ws", open_timeout=30) as socket:
        socket.send(json.dumps({"question": QUESTION, "max_tokens": 60}))
        events = []
        while not events or events[-1]["type"] != "done":
            events.append(json.loads(socket.recv(timeout=600)))
    types = [e["type"] for e in events]
    assert types[0] == "context"
    assert events[0]["sources"], "no sources in the context event"
    assert "response" in types
    assert types.index("context") < types.index("response")
    assert types[-1] == "done"
    assert "error" not in types
    assert events[-1]["answer"]


def test_question_outside_the_documents_gets_the_refusal_sentence(service: str) -> None:
    response = httpx.post(
        f"{service}/askai/query",
        json={"question": "Quel est le cours de l'action Vinci en bourse aujourd'hui ?"},
        timeout=600,
    )
    assert response.status_code == 200, response.text
    assert response.json()["answer"] == NOT_IN_DOCUMENTS


def test_unknown_model_is_a_404_and_models_list_the_backends(service: str) -> None:
    ids = {m.id for m in client(service).models.list()}
    assert {"rag", "chat"} < ids  # and each LLM backend
    with pytest.raises(NotFoundError):
        client(service).chat.completions.create(model="gpt-17", messages=[{"role": "user", "content": "Bonjour"}])


async def test_a_reply_that_starts_over_ends_at_its_first_copy_and_the_server_stops_decoding_it(local_llm: str) -> None:
    from components.generators.routed_chat_generator import RoutedChatGenerator
    from service.settings import load_settings

    settings = load_settings()
    backends = {name: b.model_dump() for name, b in settings.models.llm.backends.items()}
    router = RoutedChatGenerator(backends, settings.models.llm.default, repeated_line_chars=16)
    line = "Le chantier de la RD 912 avance bien et la couche de roulement sera posée demain."
    ask = f"Recopie exactement cette ligne vingt fois, une par ligne, sans rien d'autre :\n{line}"
    prompt = [ChatMessage.from_user(ask)]
    seen: list[str] = []

    async def callback(chunk: StreamingChunk) -> None:
        seen.append(chunk.content)

    kwargs = {"max_tokens": 400, "temperature": 0.0}
    result = await router.run_async(prompt, generation_kwargs=kwargs, streaming_callback=callback)
    reply = result["replies"][0]
    assert reply.meta.get("stopped_repeating") is True, reply.text
    assert reply.text.count("RD 912") == 1
    assert "".join(seen) == reply.text  # the client saw no repeated line
    # The early close left the server serving: the next request is answered whole.
    again = await router.run_async([ChatMessage.from_user("Réponds par un seul mot : oui.")], generation_kwargs=kwargs)
    assert again["replies"][0].text.strip()


async def test_a_reply_ends_at_the_lines_its_prompt_allows(local_llm: str) -> None:
    from components.generators.routed_chat_generator import RoutedChatGenerator
    from service.settings import load_settings

    settings = load_settings()
    backends = {name: b.model_dump() for name, b in settings.models.llm.backends.items()}
    router = RoutedChatGenerator(backends, settings.models.llm.default)  # loops not looked for: the bound alone
    ask = "Écris les nombres de un à vingt en toutes lettres, un par ligne, sans rien d'autre."
    seen: list[str] = []

    async def callback(chunk: StreamingChunk) -> None:
        seen.append(chunk.content)

    kwargs = {"max_tokens": 300, "temperature": 0.0}
    result = await router.run_async(
        [ChatMessage.from_user(ask)], generation_kwargs=kwargs, streaming_callback=callback, max_lines=5
    )
    reply = result["replies"][0]
    assert reply.meta.get("stopped_at_max_lines") is True, reply.text
    assert len([line for line in reply.text.splitlines() if line.strip()]) == 5
    assert "".join(seen) == reply.text  # the client saw no line past the bound
    assert "Six" not in reply.text
