import pytest
from haystack.dataclasses import ChatMessage, StreamingChunk

from components.generators.repetition_guard import RepetitionGuard, StopGeneration
from components.generators.routed_chat_generator import RoutedChatGenerator

pytestmark = pytest.mark.unit

PROFILE = (
    "Affaire B1037 [1]:\n\n"
    "- Intitulé : renouvellement du collecteur de la rue des Tanneurs [1].\n"
    "- Maître d'œuvre : Hydra Conseil (M. Olivier Brun) [1].\n"
    "- Montant du marché : 498 760,00 € HT [1].\n"
)


def _pieces(text, size=7):
    return [text[i : i + size] for i in range(0, len(text), size)]


def _stream(text, min_chars=16, max_lines=0):
    """Feeds `text` to a guard in small chunks: (what the caller saw, the reply, whether it stopped)."""
    seen = []
    guard = RepetitionGuard(lambda chunk: seen.append(chunk.content), min_chars, max_lines)
    try:
        for piece in _pieces(text):
            guard.on_chunk(StreamingChunk(content=piece))
    except StopGeneration:
        return "".join(seen), guard.reply().text, True
    for chunk in guard.flush():
        seen.append(chunk.content)
    return "".join(seen), None, False


def test_a_profile_written_again_ends_after_its_first_copy_and_the_client_never_sees_the_second():
    seen, reply, stopped = _stream(PROFILE + "\n" + PROFILE + "\n" + PROFILE[:40])
    assert stopped
    assert seen == reply == PROFILE


def test_one_shared_line_is_no_loop():
    comparison = (
        "A2458 :\n- Client : Conseil départemental du Val-de-Lière [1].\n- Montant : 631 592,50 € HT [1].\n"
        "A2511 :\n- Client : Conseil départemental du Val-de-Lière [2].\n- Montant : 386 420,00 € HT [2].\n"
        "A2458 :\n- Client : Conseil départemental du Val-de-Lière [1].\n- Délai : 6 semaines [1].\n"
    )
    seen, _, stopped = _stream(comparison)
    assert not stopped
    assert seen == comparison


def test_short_lines_and_table_separators_may_repeat():
    tables = "| a | b |\n|---|---|\n| 1 | 2 |\n\n| c | d |\n|---|---|\n| 3 | 4 |\n| 1 | 2 |\n| 3 | 4 |\n"
    seen, _, stopped = _stream(tables)
    assert (seen, stopped) == (tables, False)


def test_the_answer_may_restate_its_reasoning():
    thought = "- Montant du marché : 498 760,00 € HT [1].\n- Maître d'œuvre : Hydra Conseil [1].\n"
    text = f"<thinking>\n{thought}</thinking>\n<answer>\n{thought}</answer>\n"
    seen, _, stopped = _stream(text)
    assert (seen, stopped) == (text, False)


def test_an_answer_ending_inside_a_repeated_line_is_sent_whole():
    text = PROFILE + "- Intitulé : renouvellement"
    seen, _, stopped = _stream(text)
    assert (seen, stopped) == (text, False)


COPYING = (
    "Intitulé : aménagement de la Grande Rue [1].\n"
    "Maître d'œuvre : Terrae Ingénierie [1].\n\n"
    "Montant initial du marché : 386 420,00 € HT [1].\n"
    "De : Martine Coulon À : Sophie Lemaire Date : mardi 22 juillet 2025 [3]\n"
    "Objet : RE: RE: Grande Rue - prolongement du trottoir [3]\n"
)


def test_an_answer_ends_after_its_last_allowed_line_blank_lines_aside():
    seen, reply, stopped = _stream(COPYING, max_lines=3)
    assert stopped
    assert seen == reply == COPYING[: COPYING.index("De :")]
    # Within the bound, or without one, the answer is sent as written.
    assert _stream(COPYING, max_lines=6) == (COPYING, None, False)
    assert _stream(COPYING) == (COPYING, None, False)


def test_without_loop_detection_lines_may_repeat_and_only_the_line_bound_ends_the_answer():
    seen, _, stopped = _stream(PROFILE * 2, min_chars=0)
    assert (seen, stopped) == (PROFILE * 2, False)
    seen, reply, stopped = _stream(PROFILE * 2, min_chars=0, max_lines=6)
    assert stopped
    assert seen == reply == PROFILE + PROFILE[: PROFILE.index("- Maître")]  # repeated lines count too


class _FakeVLLM:
    """Streams a text in chunks to the callback, as VLLMChatGenerator does; counts the chunks it produced."""

    def __init__(self, text):
        self.text, self.produced = text, 0

    async def run_async(self, messages, streaming_callback=None, generation_kwargs=None):
        for piece in _pieces(self.text):
            self.produced += 1
            if streaming_callback is not None:
                await streaming_callback(StreamingChunk(content=piece))
        return {"replies": [ChatMessage.from_assistant(self.text)]}


async def test_the_router_ends_a_looping_reply_and_returns_what_came_before():
    router = RoutedChatGenerator(
        {"a": {"base_url": "http://127.0.0.1:1/v1", "model": "m"}}, "a", repeated_line_chars=16
    )
    looping = _FakeVLLM(PROFILE * 5)
    router._generators["a"] = looping
    seen = []

    async def callback(chunk):
        seen.append(chunk.content)

    result = await router.run_async([ChatMessage.from_user("Présente B1037")], streaming_callback=callback)
    assert result["replies"][0].text == "".join(seen) == PROFILE
    assert result["replies"][0].meta["stopped_repeating"] is True
    assert looping.produced < len(_pieces(PROFILE * 5)) / 2  # the stream was left early
    # Without a callback (a non-streaming request) the reply is streamed from the server and ended the same way.
    router._generators["a"] = _FakeVLLM(PROFILE * 5)
    assert (await router.run_async([ChatMessage.from_user("Présente B1037")]))["replies"][0].text == PROFILE
    # Off: the reply as the model wrote it.
    off = RoutedChatGenerator({"a": {"base_url": "http://127.0.0.1:1/v1", "model": "m"}}, "a")
    off._generators["a"] = _FakeVLLM(PROFILE * 2)
    assert (await off.run_async([ChatMessage.from_user("q")], streaming_callback=callback))["replies"][0].text == (
        PROFILE * 2
    )


async def test_the_router_ends_a_reply_at_the_lines_the_prompt_allows_unless_it_reasons_first():
    router = RoutedChatGenerator({"a": {"base_url": "http://127.0.0.1:1/v1", "model": "m"}}, "a")
    router._generators["a"] = _FakeVLLM(COPYING)
    result = await router.run_async([ChatMessage.from_user("Présente A2511")], max_lines=3)
    assert result["replies"][0].text == COPYING[: COPYING.index("De :")]
    assert result["replies"][0].meta["stopped_at_max_lines"] is True
    # A prompted reasoning's lines come first in the same text: the bound is not applied to them.
    router._generators["a"] = _FakeVLLM(COPYING)
    thinking = await router.run_async([ChatMessage.from_user("Présente A2511")], max_lines=3, enable_thinking=True)
    assert thinking["replies"][0].text == COPYING


@pytest.mark.parametrize("repeated_line_chars", [0, 16])
async def test_the_caller_ends_a_streamed_reply_it_needs_no_more_of(repeated_line_chars):
    router = RoutedChatGenerator(
        {"a": {"base_url": "http://127.0.0.1:1/v1", "model": "m"}}, "a", repeated_line_chars=repeated_line_chars
    )
    server = _FakeVLLM(PROFILE * 3)
    router._generators["a"] = server
    seen = []

    async def callback(chunk):  # e.g. the answer became the refusal sentence after its first statement
        seen.append(chunk.content)
        if "\n" in "".join(seen):
            raise StopGeneration

    result = await router.run_async([ChatMessage.from_user("Présente B1037")], streaming_callback=callback)
    reply = result["replies"][0]
    assert reply.text == "".join(seen)
    assert reply.text.startswith("Affaire B1037 [1]:\n")
    assert len(reply.text) < len(PROFILE)
    assert reply.meta["stopped_by_caller"] is True
    assert server.produced == len(seen)  # the stream was left at once
