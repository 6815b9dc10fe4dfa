"""End to end on the embedded default: sample corpus indexed, service started, real `openai` client, real vLLM."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import yaml
from openai import APIStatusError, OpenAI

from components.builders.statement_citer import NOT_IN_DOCUMENTS
from tests.integration.conftest import PROJECT_ROOT, free_port, start_service

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "Quel est le montant de l'avenant n° 1 proposé à la commune de Bréchy ?"
EXPECTED_SOURCE = "echange_mairie_brechy_avenant1_A2511.txt"
SOURCE_LINE = re.compile(r"^\[(\d+)\] .*", re.MULTILINE)


def split_answer(content: str) -> tuple[str, dict[int, str]]:
    """The answer text and the numbered source lines of the footer."""
    answer, sep, footer = content.partition("\n---\n**Sources**\n")
    assert sep, f"no sources footer in: {content!r}"
    return answer, {int(m.group(1)): m.group(0) for m in SOURCE_LINE.finditer(footer)}


def assert_cited_answer(content: str) -> None:
    answer, sources = split_answer(content)
    assert answer.strip(), "empty answer"
    assert any(EXPECTED_SOURCE in line for line in sources.values()), sources
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer)}
    assert cited <= set(sources), f"citations {cited} point outside the listed sources {sorted(sources)}"


def client(base_url: str) -> OpenAI:
    return OpenAI(base_url=f"{base_url}/v1", api_key="not-needed-in-dev", timeout=600, max_retries=0)


def test_models_lists_both_graphs(service: str) -> None:
    ids = {m.id for m in client(service).models.list()}
    assert {"rag", "chat"} <= ids


def test_openai_chat_completion_answers_with_cited_sources(service: str) -> None:
    reply = client(service).chat.completions.create(
        model="rag", messages=[{"role": "user", "content": QUESTION}], max_tokens=200
    )
    assert_cited_answer(reply.choices[0].message.content or "")


def test_streamed_and_whole_answers_carry_the_same_checked_citations(service: str) -> None:
    """The stream shows each statement once checked (StatementCiter): the same citations as the whole answer."""
    ask = {"model": "rag", "messages": [{"role": "user", "content": QUESTION}], "temperature": 0, "max_tokens": 200}
    whole = client(service).chat.completions.create(**ask).choices[0].message.content or ""
    stream = client(service).chat.completions.create(**ask, stream=True)
    deltas = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    streamed = "".join(deltas)
    assert_cited_answer(streamed)
    assert_cited_answer(whole)
    answer, _ = split_answer(streamed)
    assert sum(1 for d in deltas if d) >= 2, "the answer and its sources came in one piece"
    assert re.findall(r"\[\d+\]", answer) == re.findall(r"\[\d+\]", split_answer(whole)[0])
    assert answer.strip() == split_answer(whole)[0].strip()


def _ask_whole_and_streamed(service: str, question: str) -> list[str]:
    ask = {"model": "rag", "messages": [{"role": "user", "content": question}], "temperature": 0, "max_tokens": 200}
    whole = client(service).chat.completions.create(**ask).choices[0].message.content or ""
    stream = client(service).chat.completions.create(**ask, stream=True)
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    return [split_answer(whole)[0].strip(), split_answer(streamed)[0].strip()]


def test_a_figure_from_another_client_s_document_is_refused_not_shown(service: str) -> None:
    """SIEAL is a client the documents name, but only the Département's fiche gives a « client since » year."""
    for answer in _ask_whole_and_streamed(service, "Depuis quand le SIEAL est-il client de ROV ?"):
        assert answer == NOT_IN_DOCUMENTS


def test_a_figure_answer_shows_the_line_it_comes_from(service: str) -> None:
    """The planning row gives the start and the end; the reader sees both, whichever the model copied."""
    question = "Quand la signalisation horizontale provisoire de la RD 912 est-elle prévue ?"
    for answer in _ask_whole_and_streamed(service, question):
        assert "10/11/2025" in answer, answer
        assert "14/11/2025" in answer, answer


def test_rag_run_returns_answer_and_numbered_sources(service: str) -> None:
    response = httpx.post(f"{service}/rag/run", json={"query": QUESTION}, timeout=600)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert [s["number"] for s in result["sources"]] == list(range(1, len(result["sources"]) + 1))
    assert EXPECTED_SOURCE in {s["source"] for s in result["sources"]}
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", result["answer"])}
    assert cited <= {s["number"] for s in result["sources"]}
    assert {s["number"] for s in result["sources"] if s["cited"]} == cited


def test_rag_run_filters_reach_the_retrievers(service: str) -> None:
    only_b1037 = {"field": "meta.code_affaire", "operator": "==", "value": "B1037"}
    response = httpx.post(f"{service}/rag/run", json={"query": QUESTION, "filters": only_b1037}, timeout=600)
    assert response.status_code == 200, response.text
    sources = response.json()["result"]["sources"]
    assert sources, "the filter matched nothing"
    assert all(s.get("code_affaire") == "B1037" for s in sources), sources


def test_use_rag_false_chats_without_retrieval(service: str) -> None:
    reply = client(service).chat.completions.create(
        model="rag",
        messages=[{"role": "user", "content": "Dis bonjour en une phrase."}],
        extra_body={"use_rag": False},
        max_tokens=40,
    )
    content = reply.choices[0].message.content or ""
    assert content.strip()
    assert "**Sources**" not in content


def test_empty_question_is_a_clear_client_error(service: str) -> None:
    with pytest.raises(APIStatusError) as caught:
        client(service).chat.completions.create(model="rag", messages=[{"role": "user", "content": "  "}])
    assert caught.value.status_code == 422  # the gateway's request validation: a well-formed body, a wrong field
    assert "Traceback" not in caught.value.response.text
    assert caught.value.response.json()  # a JSON body a client can show, not a bare status


def _follow_up(service: str, code: str, title: str) -> httpx.Response:
    """A conversation about one affair, ending with a follow-up that names none."""
    messages = [
        {"role": "user", "content": f"Présente-moi l'affaire {code}."},
        {"role": "assistant", "content": f"L'affaire {code} : {title}."},
        {"role": "user", "content": "Quel est le montant de son marché ?"},
    ]
    body = {"model": "rag", "messages": messages, "max_tokens": 40, "temperature": 0}
    return httpx.post(f"{service}/v1/chat/completions", json=body, timeout=600)


def test_the_same_follow_up_after_another_affair_is_not_served_from_the_cache(service: str) -> None:
    first = _follow_up(service, "A2458", "renforcement de la RD 912")
    again = _follow_up(service, "A2458", "renforcement de la RD 912")
    other = _follow_up(service, "B1037", "collecteur d'eaux usées de Montreval")
    assert (first.status_code, again.status_code, other.status_code) == (200, 200, 200)
    assert (first.headers["x-cache"], again.headers["x-cache"], other.headers["x-cache"]) == ("miss", "hit", "miss")
    assert "B1037" in other.json()["question"]  # retrieval asked about the right affair
    assert any(s.get("code_affaire") == "B1037" for s in other.json()["sources"]), other.json()["sources"]


def test_draw_is_served_offline(service: str) -> None:
    response = httpx.get(f"{service}/draw/rag", params={"fmt": "svg"}, timeout=60)
    assert response.status_code == 200
    assert "dense_retriever" in response.text
    assert "<svg" in response.text


def test_edited_top_k_and_dead_llm(indexed_data_dir: Path, tmp_path: Path) -> None:
    """Editing top_k in hayhooks.yml changes /rag/run without code; a dead LLM is a 503 that keeps the sources."""
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"
    backend = yaml.safe_load((PROJECT_ROOT / "hayhooks.yml").read_text())["models"]["llm"]["default"]
    running = start_service(
        tmp_path,
        indexed_data_dir,
        **{"retrieval/top_k": 2, f"models/llm/backends/{backend}/base_url": dead_llm, "models/llm/local": None},
    )
    try:
        response = httpx.post(f"{running.base_url}/rag/run", json={"query": QUESTION}, timeout=120)
        assert response.status_code == 503
        detail = response.json()["detail"]
        assert "ne répond pas" in detail["message"]
        assert len(detail["sources"]) == 2
        assert "Traceback" not in response.text
    finally:
        running.stop()
