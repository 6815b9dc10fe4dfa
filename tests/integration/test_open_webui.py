"""
Open WebUI, the seeds' client, in a real headless browser: the pinned Open WebUI (scripts/setup_open_webui.sh)
connected to `rag serve` on the indexed sample corpus with the real local vLLM, driven through the Debian chromium
by Playwright. Assertions are on the DOM a user sees; screenshots go to var/screenshots/ for people to look at.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import PROJECT_ROOT, RunningService, free_port, start_service
from tests.integration.open_webui import CHROMIUM, OpenWebUI

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.browser]

SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"
ANSWER_TIMEOUT = 360  # seconds: a RAG answer of the local CPU model, Open WebUI's own requests queued behind it
CHIPS = '.markdown-prose button[aria-label^="View source: "]'
MODAL = 'div.modal[role="dialog"]'


@pytest.fixture(scope="module")
def served(
    local_llm: str, indexed_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    running = start_service(tmp_path_factory.mktemp("owui-service"), indexed_data_dir)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def webui(served: RunningService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenWebUI]:
    ui = OpenWebUI(served.base_url, tmp_path_factory.mktemp("open-webui"), free_port())
    yield ui
    ui.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, webui):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    yield page
    page.close()


def dismiss_whats_new(page) -> None:
    """A new Open WebUI user first sees its changelog dialog: close it as a user would."""
    time.sleep(2)
    dialog = page.locator(MODAL)
    if dialog.count() and dialog.first.is_visible():
        okay = dialog.first.get_by_role("button", name=re.compile(r"okay|let's go", re.IGNORECASE))
        if okay.count():
            okay.first.click()
        else:
            page.keyboard.press("Escape")
        dialog.first.wait_for(state="detached", timeout=10_000)


def ask(page, webui: OpenWebUI, question: str, model: str | None = None):
    """Send a question (a new chat with `model`, else a follow-up in the open chat); :returns: the answer's element."""
    if model is not None:
        page.goto(f"{webui.url}/?models={model}&q={urllib.parse.quote(question)}", wait_until="domcontentloaded")
        page.wait_for_selector("#chat-input", timeout=120_000)
        dismiss_whats_new(page)
        page.wait_for_function(
            "q => document.querySelector('#chat-input')?.innerText.trim() === q", arg=question, timeout=60_000
        )
    else:
        page.locator("#chat-input").fill(question)
    answers = page.locator("#response-content-container")
    before = answers.count()
    finished = page.locator(".copy-response-button")  # a message's action buttons come once it is done
    finished_before = finished.count()
    page.click("#send-message-button")
    deadline, last, stable = time.monotonic() + ANSWER_TIMEOUT, "", 0
    while time.monotonic() < deadline:
        # Done: a new answer with its action buttons, whose text has not changed for 4 s (the text alone stays
        # still while the model thinks behind a collapsed « Thinking… » block).
        time.sleep(2)
        text = answers.nth(before).inner_text() if answers.count() > before else ""
        stable = stable + 1 if text.strip() and text == last else 0
        last = text
        if stable >= 2 and finished.count() > finished_before:
            return answers.nth(before)
    raise AssertionError(f"no complete answer within {ANSWER_TIMEOUT} s; last text: {last[:300]!r}")


def api_sources(served: RunningService, question: str, model: str = "rag") -> list[dict]:
    """The passages the service gives for `question` (retrieval is the same whatever the LLM writes)."""
    body = {"model": model, "messages": [{"role": "user", "content": question}], "max_tokens": 2}
    response = httpx.post(f"{served.base_url}/v1/chat/completions", json=body, timeout=600)
    assert response.status_code == 200, response.text
    return response.json()["sources"]


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sources_count(page) -> int:
    toggle = page.locator('button[aria-label^="Toggle "]').last
    return int(toggle.inner_text().split()[0])


def test_every_chip_opens_the_passage_it_numbers_two_passages_of_one_document_apart(page, webui, served):
    question = "Présente-moi l'affaire A2511."
    sources = api_sources(served, question)
    by_document = [s["source"] for s in sources]
    assert any(by_document.count(d) >= 2 for d in by_document), f"precondition: 2 passages of a document {sources}"
    answer = ask(page, webui, question, "rag")
    shot(page, "cited-answer")
    assert sources_count(page) == len(sources)  # one entry per passage, not per document
    chips = answer.locator(CHIPS)
    assert chips.count() >= 1
    opened: dict[int, str] = {}
    for i in range(chips.count()):
        label = chips.nth(i).get_attribute("aria-label").removeprefix("View source: ")
        number = int(label.split(".")[0])
        assert 1 <= number <= len(sources)
        if number in opened:
            continue
        chips.nth(i).click()
        modal = page.locator(MODAL)
        modal.wait_for(timeout=10_000)
        shown = " ".join(modal.inner_text().split())
        passage = sources[number - 1]
        assert shown.startswith(f"{number}. {passage['title']}"), shown[:200]
        first_line = next(line for line in passage["text"].splitlines() if line.strip() and "|" not in line)
        snippet = " ".join(re.sub(r"^[\s#>*-]+", "", first_line).replace("*", "").split())[:30]  # as rendered
        assert snippet in shown, (number, snippet, shown[:500])
        opened[number] = passage["source"]
        if len(opened) == 1:
            time.sleep(1)  # the dialog's fade-in
            shot(page, "cited-answer-passage")
        page.locator('[aria-label="Close citation modal"]').click()
        modal.wait_for(state="detached", timeout=10_000)
    assert "Sources :" not in answer.inner_text()  # Open WebUI lists them: no Markdown footer twice


def test_a_table_answer_is_a_rendered_table(page, webui):
    answer = ask(page, webui, "Donne le tableau du détail quantitatif estimatif (DQE) de l'affaire A2458.", "rag")
    shot(page, "table-answer")
    assert answer.locator("table").count() >= 1
    assert "|---" not in answer.inner_text()


def test_thinking_shows_in_the_reasoning_block_and_never_in_the_answer(page, webui):
    answer = ask(page, webui, "Quel est le montant HT du marché de l'affaire A2458 ?", "rag-thinking")
    shot(page, "thinking-answer")
    block = answer.locator("button[aria-expanded]").filter(has_text="Thought")
    assert block.count() == 1
    text = answer.inner_text()
    assert "<thinking>" not in text
    assert "<answer>" not in text


def test_the_chat_model_answers_without_sources(page, webui):
    answer = ask(page, webui, "Bonjour ! En une phrase, que peux-tu faire pour moi ?", "chat")
    shot(page, "chat-answer")
    assert answer.inner_text().strip()
    assert page.locator('button[aria-label^="Toggle "]').count() == 0
    assert answer.locator(CHIPS).count() == 0


def test_a_follow_up_in_the_same_chat_retrieves_for_the_same_affair(page, webui):
    ask(page, webui, "Quel est le montant HT du marché de l'affaire A2458 ?", "rag")
    ask(page, webui, "Et qui est le maître d'œuvre ?")
    page.locator('button[aria-label^="Toggle "]').last.click()
    names = [s.inner_text() for s in page.locator('button[id^="source-"]').all()]
    shot(page, "follow-up")
    assert names
    assert all("A2458" in name or "RD 912" in name for name in names), names


def test_open_webui_background_requests_run_no_retrieval(served):
    """By now Open WebUI has asked titles, tags and follow-ups of the `rag` model: the access log shows them."""
    lines = [json.loads(line) for line in served.log.read_text().splitlines() if line.startswith('{"ts"')]
    tasks = [entry for entry in lines if entry.get("mode") == "task"]
    assert tasks, "no Open WebUI background request reached the service"
    assert all(entry["status"] == 200 for entry in tasks)
    assert not [entry for entry in tasks if "retrieval" in entry.get("ms", {})]
