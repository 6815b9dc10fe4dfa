"""The answer stream, run on the real `rag` and `chat` graphs with their model and server nodes replaced by fakes."""

from typing import Any

import pytest
from haystack import Document, Pipeline, component
from haystack.core.errors import PipelineRuntimeError
from haystack.dataclasses import ChatMessage, StreamingChunk

from components.builders.statement_citer import NOT_IN_DOCUMENTS
from components.generators.repetition_guard import StopGeneration
from service.answering import (
    LLM_UNAVAILABLE,
    Answer,
    Event,
    GenerationOptions,
    LLMUnavailableError,
    chat_events,
    collect,
    rag_events,
    rag_inputs,
    source_summaries,
    sources_footer,
    standalone_question,
)
from service.openai_chat import openai_deltas
from service.pipelines import ALLOWED_MODULES, bound_definition

pytestmark = pytest.mark.unit

QUESTION = "Quel est le délai d'exécution du lot 2 ?"
FILTERS = {"field": "meta.code_affaire", "operator": "==", "value": "A2458"}


@component
class FakeQueryEmbedder:
    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict[str, Any]:
        return {"embedding": [0.0, 1.0]}


@component
class FakeDenseRetriever:
    def __init__(self) -> None:
        self.filters: list[Any] = []

    @component.output_types(documents=list[Document])
    def run(self, query_embedding: list[float], filters: dict[str, Any] | None = None) -> dict[str, Any]:
        self.filters.append(filters)
        return {"documents": [Document(content="candidat")]}


@component
class FakeRanker:
    """Returns fixed passages, whatever it is given."""

    def __init__(self, documents: list[Document], error: Exception | None = None) -> None:
        self.documents, self.error, self.queries = documents, error, []

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document]) -> dict[str, Any]:
        self.queries.append(query)
        if self.error:
            raise self.error
        return {"documents": self.documents}


@component
class ScriptedChatGenerator:
    """
    Streams the given chunks as they are (tags may be cut anywhere) when given a callback, then replies with their
    text; or raises.
    """

    def __init__(self, chunks: list[str], error: Exception | None = None, then: list[str] | None = None) -> None:
        self.chunks, self.reply, self.error, self.prompts, self.calls = chunks, "".join(chunks), error, [], []
        self.then = then  # the chunks of the next call, if any

    @component.output_types(replies=list[ChatMessage])
    def run(
        self,
        messages: list[ChatMessage],
        backend: str | None = None,
        generation_kwargs: dict[str, Any] | None = None,
        enable_thinking: bool = False,
        streaming_callback: Any = None,
        *,
        max_lines: int = 0,
    ) -> dict[str, Any]:
        raise AssertionError("the service runs the graphs asynchronously")

    @component.output_types(replies=list[ChatMessage])
    async def run_async(
        self,
        messages: list[ChatMessage],
        backend: str | None = None,
        generation_kwargs: dict[str, Any] | None = None,
        enable_thinking: bool = False,
        streaming_callback: Any = None,
        *,
        max_lines: int = 0,
    ) -> dict[str, Any]:
        self.prompts.append(messages)
        self.calls.append(
            {
                "backend": backend,
                "generation_kwargs": generation_kwargs,
                "thinking": enable_thinking,
                "streamed": streaming_callback is not None,
                "max_lines": max_lines,
            }
        )
        if self.error:
            raise self.error
        if self.prompts[:-1] and self.then is not None:
            self.chunks, self.reply, self.then = self.then, "".join(self.then), None
        self.sent = 0
        for chunk in self.chunks if streaming_callback is not None else []:
            self.sent += 1
            try:
                await streaming_callback(StreamingChunk(content=chunk))
            except StopGeneration:  # the reader needs no more: the reply ends there, as RoutedChatGenerator's does
                return {"replies": [ChatMessage.from_assistant("".join(self.chunks[: self.sent]))]}
        return {"replies": [ChatMessage.from_assistant(self.reply)]}


@component
class FakeChatGenerator(ScriptedChatGenerator):
    """Streams its reply word by word through the callback, or raises."""

    def __init__(self, reply: str = "", error: Exception | None = None) -> None:
        ScriptedChatGenerator.__init__(self, [f"{word} " for word in reply.split(" ")], error)
        self.reply = reply


PASSAGES = [
    Document(
        content="Le délai d'exécution du lot 2 est de 3 mois.",
        meta={"title": "CCTP lot 2", "source": "A2458/cctp.md"},
        score=0.9,
    ),
    Document(
        content="Le planning prévoit une réception en juin.",
        meta={"title": "Planning", "source": "A2458/planning.md"},
        score=0.4,
    ),
]


@pytest.fixture
def rag(settings):
    """Build the real `rag` graph with fakes in place of the embedder, Qdrant, the ranker and the LLM."""

    def make(
        llm: FakeChatGenerator, ranker: FakeRanker | None = None, dense: FakeDenseRetriever | None = None
    ) -> Pipeline:
        fakes = {
            "query_embedder": FakeQueryEmbedder(),
            "dense_retriever": dense or FakeDenseRetriever(),
            "ranker": ranker or FakeRanker(PASSAGES),
            "llm": llm,
        }
        return Pipeline.from_dict(bound_definition("rag", settings), allowed_modules=ALLOWED_MODULES, components=fakes)

    return make


@pytest.fixture
def chat(settings):
    def make(llm: FakeChatGenerator) -> Pipeline:
        return Pipeline.from_dict(
            bound_definition("chat", settings), allowed_modules=ALLOWED_MODULES, components={"llm": llm}
        )

    return make


async def _all(events) -> list[Event]:
    return [event async for event in events]


def test_rag_inputs_are_named_not_by_node(settings):
    inputs = rag_inputs(QUESTION, FILTERS)
    assert not set(inputs) & set(bound_definition("rag", settings)["components"])
    assert (inputs["query"], inputs["filters"]) == (QUESTION, FILTERS)


def test_source_summaries_are_numbered_like_the_prompt():
    summaries = source_summaries(PASSAGES)
    assert [(s["number"], s["id"], s["title"], s["source"], s["score"]) for s in summaries] == [
        (i, d.id, d.meta["title"], d.meta["source"], d.score) for i, d in enumerate(PASSAGES, start=1)
    ]
    assert "cited" not in summaries[0]
    assert "text" not in summaries[0]
    assert source_summaries(PASSAGES, with_text=True)[0]["text"] == PASSAGES[0].content


async def test_rag_events_order(rag):
    events = await _all(rag_events(rag(FakeChatGenerator("Le délai est de 3 mois [1].")), QUESTION))
    types = [e.type for e in events]
    assert types[0] == "context"
    assert "response" in types
    assert types.index("context") < types.index("response") < types.index("answer")
    assert types[-1] == "done"
    assert "error" not in types


async def test_rag_events_content(rag):
    reply = "Le délai est de 3 mois [1]."
    events = await _all(rag_events(rag(FakeChatGenerator(reply)), QUESTION))
    context = next(e for e in events if e.type == "context")
    assert context.data == {"mode": "rag", "question": QUESTION, "sources": source_summaries(PASSAGES)}
    assert "".join(e.data for e in events if e.type == "response").strip() == reply
    answer = next(e for e in events if e.type == "answer").data
    assert isinstance(answer, Answer)
    assert (answer.answer, answer.mode, answer.invalid_citations) == (reply, "rag", [])
    assert [s["cited"] for s in answer.sources] == [True, False]


async def test_rag_events_feed_the_question_and_numbered_passages_to_the_graph(rag):
    question = "Que prévoit le planning du lot 2 ?"
    llm, ranker, dense = FakeChatGenerator("Oui [1]."), FakeRanker(PASSAGES), FakeDenseRetriever()
    await _all(rag_events(rag(llm, ranker, dense), question, FILTERS))
    assert ranker.queries == [question]
    assert dense.filters == [FILTERS]
    (prompt,) = llm.prompts
    user = prompt[-1].text
    assert question in user
    assert "[1] CCTP lot 2\nLe délai" in user
    assert "[2] Planning\nLe planning" in user


async def test_a_figure_question_reads_its_key_lines_numbered_like_the_sources(rag, settings):
    assert "question_chiffree" in settings.generation.context.key_lines_only
    llm = FakeChatGenerator("3 mois [1].")
    await _all(rag_events(rag(llm), QUESTION))
    user = llm.prompts[0][-1].text
    assert "[1] Le délai d'exécution du lot 2 est de 3 mois." in user
    assert "Le planning prévoit" not in user  # no figure, none of the question's words: not a key line


async def test_collect_returns_the_answer(rag):
    answer = await collect(rag_events(rag(FakeChatGenerator("Réception en juin [2][5].")), QUESTION))
    assert answer.answer == "Réception en juin [2]."
    assert answer.invalid_citations == [5]
    assert [s["number"] for s in answer.sources if s["cited"]] == [2]


async def test_rag_events_when_the_llm_fails(rag):
    events = await _all(rag_events(rag(FakeChatGenerator(error=ConnectionError("refused"))), QUESTION))
    assert [e.type for e in events] == ["context", "error", "done"]
    assert LLM_UNAVAILABLE in events[1].data
    assert "ConnectionError" in events[1].data


async def test_collect_raises_llm_unavailable_with_the_sources(rag):
    with pytest.raises(LLMUnavailableError) as info:
        await collect(rag_events(rag(FakeChatGenerator(error=TimeoutError("slow"))), QUESTION))
    assert info.value.sources == source_summaries(PASSAGES)
    assert "TimeoutError" in info.value.message


async def test_rag_events_reraise_failures_of_other_nodes(rag):
    ranker = FakeRanker(PASSAGES, error=RuntimeError("ranker broken"))
    with pytest.raises(PipelineRuntimeError, match="ranker broken"):
        await _all(rag_events(rag(FakeChatGenerator("Oui."), ranker), QUESTION))


async def test_collect_without_an_answer_raises_with_the_sources():
    async def events():
        yield Event("context", {"mode": "rag", "question": "q", "sources": [{"number": 1}]})
        yield Event("done")

    with pytest.raises(LLMUnavailableError) as info:
        await collect(events())
    assert info.value.sources == [{"number": 1}]


async def test_chat_events(chat):
    llm = FakeChatGenerator("Un DOE est le dossier des ouvrages exécutés.")
    events = await _all(chat_events(chat(llm), [ChatMessage.from_user("Qu'est-ce qu'un DOE ?")]))
    types = [e.type for e in events]
    assert types[:2] == ["context", "response"]
    assert events[0].data == {"mode": "chat", "question": "Qu'est-ce qu'un DOE ?", "sources": []}
    assert types[-1] == "done"
    answer = next(e for e in events if e.type == "answer").data
    assert (answer.answer, answer.sources, answer.mode) == (llm.reply, [], "chat")
    (prompt,) = llm.prompts
    assert prompt[0].is_from("system")
    assert prompt[-1].text == "Qu'est-ce qu'un DOE ?"


async def test_chat_collect_raises_when_the_llm_fails(chat):
    with pytest.raises(LLMUnavailableError) as info:
        await collect(chat_events(chat(FakeChatGenerator(error=ConnectionError())), [ChatMessage.from_user("Bonjour")]))
    assert info.value.sources == []


def test_sources_footer():
    sources = [
        {"number": 1, "id": "a", "title": "CCTP", "source": "A2458/cctp.md", "cited": True},
        {"number": 2, "id": "b", "title": None, "source": "A2458/planning.md", "cited": False},
        {"number": 3, "id": "c"},
    ]
    lines = sources_footer(sources, [4, 9]).splitlines()
    assert lines[:4] == ["", "", "---", "**Sources**"]
    assert lines[4] == "[1] CCTP — `A2458/cctp.md` (citée)"
    assert lines[5] == "[2] A2458/planning.md"  # the source is the label: not repeated
    assert lines[6] == "[3] c"
    assert "[4], [9]" in lines[7]


def test_sources_footer_without_sources_is_empty():
    assert sources_footer([], [3]) == ""


async def test_rag_events_send_context_and_answer_once(rag):
    types = [e.type for e in await _all(rag_events(rag(FakeChatGenerator("Oui [1].")), QUESTION))]
    assert types.count("context") == 1
    assert types.count("answer") == 1
    assert types[-2:] == ["answer", "done"]


async def test_streamed_openai_answer_lists_the_sources_once(rag):
    deltas = [d async for d in openai_deltas(rag_events(rag(FakeChatGenerator("Oui [1].")), QUESTION))]
    text = "".join(d for d in deltas if isinstance(d, str))
    assert text.count("**Sources**") == 1


PROMPTED = [
    "Le passage [1",
    "] donne 3 mois.\n</thin",
    "king>\n<ans",
    "wer>Le délai est de 3 mois [1][9",
    "].</answer>",
]


async def test_prompted_thinking_streams_reasoning_and_answer_apart(rag):
    llm = ScriptedChatGenerator(PROMPTED)
    options = GenerationOptions(
        enable_thinking=True, prompted_thinking=True, backend="b", generation_kwargs={"top_p": 0.5}
    )
    events = await _all(rag_events(rag(llm), QUESTION, options=options))
    thinking = "".join(e.data for e in events if e.type == "thinking")
    response = "".join(e.data for e in events if e.type == "response")
    assert thinking == "Le passage [1] donne 3 mois.\n"
    assert response == "Le délai est de 3 mois [1]."  # [9] points at no passage: never streamed
    answer = next(e for e in events if e.type == "answer").data
    assert (answer.answer, answer.thinking, answer.invalid_citations) == (response, thinking.strip(), [9])
    assert llm.calls == [
        {"backend": "b", "generation_kwargs": {"top_p": 0.5}, "thinking": True, "streamed": True, "max_lines": 0}
    ]
    prompt = llm.prompts[0]
    assert prompt[-1].is_from("assistant")
    assert prompt[-1].text == "<thinking>\n"
    assert "<thinking>" in prompt[0].text


async def test_thinking_off_never_sends_reasoning(rag):
    llm = ScriptedChatGenerator(["<think>je réfléchis</think>", "Trois mois [1]."])
    events = await _all(rag_events(rag(llm), QUESTION, options=GenerationOptions(enable_thinking=False)))
    assert [e for e in events if e.type == "thinking"] == []
    assert "".join(e.data for e in events if e.type == "response") == "Trois mois [1]."
    answer = next(e for e in events if e.type == "answer").data
    assert (answer.answer, answer.thinking) == ("Trois mois [1].", "")
    assert llm.prompts[0][-1].is_from("user")  # no prefilled reasoning


async def test_prompt_type_and_history_reach_the_prompt(rag):
    llm = FakeChatGenerator("Résumé [1].")
    history = [ChatMessage.from_user("Parlons du lot 2."), ChatMessage.from_assistant("D'accord.")]
    options = GenerationOptions(prompt_type="summary", history=history)
    await _all(rag_events(rag(llm), QUESTION, options=options))
    prompt = llm.prompts[0]
    assert "résumé" in prompt[0].text
    assert [m.text for m in prompt[1:3]] == ["Parlons du lot 2.", "D'accord."]
    assert QUESTION in prompt[-1].text


@pytest.fixture
def rewriter(settings):
    """The real `question_rewrite` graph with a fake LLM."""

    def make(llm: FakeChatGenerator) -> Pipeline:
        return Pipeline.from_dict(
            bound_definition("question_rewrite", settings), allowed_modules=ALLOWED_MODULES, components={"llm": llm}
        )

    return make


async def test_follow_up_question_is_rewritten_before_retrieval(rag, rewriter):
    ranker = FakeRanker(PASSAGES)
    rewrite_llm = FakeChatGenerator("Question autonome : « Quel est le délai du lot 2 de A2458 ? »")
    options = GenerationOptions(
        history=[ChatMessage.from_user("Parle-moi de A2458."), ChatMessage.from_assistant("Oui.")]
    )
    events = await _all(
        rag_events(
            rag(FakeChatGenerator("Oui [1]."), ranker),
            "Et son délai ?",
            options=options,
            rewriter=rewriter(rewrite_llm),
        )
    )
    assert ranker.queries == ["Quel est le délai du lot 2 de A2458 ?"]
    assert events[0].data["question"] == "Quel est le délai du lot 2 de A2458 ?"
    assert "Et son délai ?" in rewrite_llm.prompts[0][-1].text
    assert "Parle-moi de A2458." in rewrite_llm.prompts[0][-1].text


async def test_a_rewrite_that_loses_the_affair_gets_its_code_back(rewriter):
    options = GenerationOptions(
        history=[ChatMessage.from_user("Présente-moi l'affaire A2458."), ChatMessage.from_assistant("C'est la RD 912.")]
    )
    # The small model returns the follow-up unchanged: the affair of the earlier turn (the code its question named,
    # and the first other one its answer named) is carried in.
    unchanged = FakeChatGenerator("Quel est le montant de son marché ?")
    question = await standalone_question(rewriter(unchanged), "Quel est le montant de son marché ?", options)
    assert question == "Quel est le montant de son marché — A2458, RD 912 ?"
    # The rewrite is asked short and greedy (it took 100 s when these options were lost).
    assert unchanged.calls[0]["generation_kwargs"] == {"max_tokens": 64, "temperature": 0.0}


async def test_first_message_is_not_rewritten_and_a_failing_rewriter_still_carries_the_codes(rewriter):
    assert await standalone_question(rewriter(FakeChatGenerator("autre")), QUESTION, GenerationOptions()) == QUESTION
    options = GenerationOptions(history=[ChatMessage.from_user("Bonjour")])
    failing = rewriter(FakeChatGenerator(error=ConnectionError()))
    assert await standalone_question(failing, QUESTION, options) == QUESTION
    about_b1037 = GenerationOptions(history=[ChatMessage.from_user("Présente-moi B1037.")])
    assert await standalone_question(failing, "Et son délai ?", about_b1037) == "Et son délai — B1037 ?"


async def test_no_relevant_passage_answers_not_in_documents_without_the_llm(rag):
    llm = FakeChatGenerator("Inventé [1].")
    events = await _all(rag_events(rag(llm, FakeRanker([])), QUESTION))
    assert [e.type for e in events] == ["context", "response", "answer", "done"]
    assert events[0].data["sources"] == []
    assert events[2].data.answer == NOT_IN_DOCUMENTS
    assert llm.prompts == []


def test_the_refusal_is_the_graph_s_own_answer(rag):
    llm = FakeChatGenerator("Inventé [1].")
    result = rag(llm, FakeRanker([])).run(rag_inputs(QUESTION, FILTERS))
    assert result["answer_builder"]["answer"] == NOT_IN_DOCUMENTS
    assert llm.prompts == []


@pytest.mark.parametrize("stream_tokens", [True, False])
async def test_prompted_reasoning_never_closed_stays_reasoning_and_the_question_is_asked_again(rag, stream_tokens):
    llm = ScriptedChatGenerator(
        ["Repérez les extraits ", "utiles : [1] dit 3 mois."], then=["Le délai est ", "de 3 mois [1]."]
    )
    options = GenerationOptions(enable_thinking=True, prompted_thinking=True, stream_tokens=stream_tokens)
    events = await _all(rag_events(rag(llm), QUESTION, options=options))
    shown = "".join(e.data for e in events if e.type == "response")
    answer = next(e for e in events if e.type == "answer").data
    assert answer.answer == "Le délai est de 3 mois [1]."
    assert "Repérez" not in shown + answer.answer  # the reasoning never reaches the answer
    if stream_tokens:
        assert shown == "Le délai est de 3 mois [1]."
        assert (
            "".join(e.data for e in events if e.type == "thinking") == "Repérez les extraits utiles : [1] dit 3 mois."
        )
    assert answer.thinking == "Repérez les extraits utiles : [1] dit 3 mois."
    assert [e.type for e in events].count("context") == 1
    assert len(llm.prompts) == 2
    assert llm.prompts[0][-1].is_from("assistant")  # the first prompt opened the reasoning
    assert llm.prompts[1][-1].is_from("user")  # the second asks for the answer alone


async def test_a_question_the_passages_do_not_cover_keeps_the_sources_and_skips_the_llm(rag):
    llm = FakeChatGenerator("Inventé [1].")
    events = await _all(rag_events(rag(llm), "Quel est le cours de l'action Vinci en bourse ?"))
    assert [e.type for e in events] == ["context", "response", "answer", "done"]
    assert len(events[0].data["sources"]) == len(PASSAGES)
    answer = events[2].data
    assert answer.answer == NOT_IN_DOCUMENTS
    assert [s["cited"] for s in answer.sources] == [False, False]
    assert llm.prompts == []


@pytest.mark.parametrize("stream_tokens", [True, False])
async def test_an_empty_reply_is_the_refusal_streamed_or_whole(rag, stream_tokens):
    options = GenerationOptions(stream_tokens=stream_tokens)
    events = await _all(rag_events(rag(ScriptedChatGenerator([])), QUESTION, options=options))
    answer = next(e for e in events if e.type == "answer").data
    assert answer.answer == NOT_IN_DOCUMENTS
    streamed = "".join(e.data for e in events if e.type == "response")
    assert streamed == (NOT_IN_DOCUMENTS if stream_tokens else "")  # unstreamed: only the whole answer


async def test_a_whole_answer_is_asked_of_the_llm_without_streaming(rag):
    llm = ScriptedChatGenerator(PROMPTED)
    options = GenerationOptions(enable_thinking=True, prompted_thinking=True, stream_tokens=False)
    events = await _all(rag_events(rag(llm), QUESTION, options=options))
    assert [e.type for e in events] == ["context", "answer", "done"]  # no token events
    assert llm.calls[0]["streamed"] is False
    answer = events[1].data
    # the same answer as when streamed: reasoning apart, the citation with no passage dropped
    assert (answer.answer, answer.thinking, answer.invalid_citations) == (
        "Le délai est de 3 mois [1].",
        "Le passage [1] donne 3 mois.",
        [9],
    )


async def test_a_profile_question_hands_its_templates_line_bound_to_the_llm(rag, settings):
    profile, figure = FakeChatGenerator("Délai : 3 mois [1]."), FakeChatGenerator("3 mois [1].")
    await _all(rag_events(rag(profile), "Présente-moi le lot 2 du CCTP."))
    await _all(rag_events(rag(figure), QUESTION))
    assert profile.calls[0]["max_lines"] == settings.generation.max_lines["fiche"] > 0
    assert figure.calls[0]["max_lines"] == 0


async def test_the_llm_stops_once_its_answer_became_the_refusal(rag):
    fiche = Document(
        content="Client de ROV depuis : 2009. Chargé d'affaires : Nicolas Perrin.",
        meta={"title": "Fiche client – Département", "source": "fiche_client.md"},
        score=0.9,
    )
    pv = Document(
        content="Le SIEAL a réceptionné le collecteur de la rue des Tanneurs avec 4 réserves.",
        meta={"title": "PV de réception B1037", "source": "pv_b1037.md"},
        score=0.8,
    )
    chunks = [
        "Le SIEAL est ",
        "client de ROV ",
        "depuis 2009 [1]. ",
        "Son chargé ",
        "d'affaires est ",
        "Nicolas Perrin [1].",
    ]
    llm = ScriptedChatGenerator(chunks)
    events = await _all(rag_events(rag(llm, FakeRanker([fiche, pv])), "Depuis quand le SIEAL est-il client de ROV ?"))
    assert "".join(e.data for e in events if e.type == "response") == NOT_IN_DOCUMENTS
    assert next(e for e in events if e.type == "answer").data.answer == NOT_IN_DOCUMENTS
    assert llm.sent == 4  # the refused statement is complete once the next one begins: nothing asked after that
