"""Hayhooks deployment of the `rag` graph: `POST /rag/run` and the OpenAI chat endpoints (model `rag`)."""

from collections.abc import AsyncGenerator
from typing import Any

from hayhooks import BasePipelineWrapper
from starlette.datastructures import Headers

from service import answering, openai_chat
from service.pipelines import build_pipeline
from service.settings import load_settings


class PipelineWrapper(BasePipelineWrapper):
    def setup(self) -> None:
        settings = load_settings()
        self.pipeline = build_pipeline("rag", settings)
        self.pipeline.warm_up()
        self.chat_pipeline = build_pipeline("chat", settings)  # for requests that turn RAG off
        self.chat_pipeline.warm_up()

    async def run_api_async(self, query: str, filters: dict[str, Any] | None = None) -> dict[str, Any]:
        """
        Answer a question from the indexed documents, with numbered sources.

        :param query: The question, in French.
        :param filters: Haystack metadata filters applied by every retriever, e.g.
            `{"field": "meta.code_affaire", "operator": "==", "value": "A2458"}`.
        :returns: `answer` (citations `[n]` point at `sources[n-1]`) and `sources`.
        """
        if not query.strip():
            raise openai_chat.HTTPException(status_code=400, detail="'query' is empty.")
        try:
            answer = await answering.collect(answering.rag_events(self.pipeline, query.strip(), filters))
        except answering.LLMUnavailableError as e:
            raise openai_chat.unavailable(e) from None
        return {"answer": answer.answer, "sources": answer.sources, "invalid_citations": answer.invalid_citations}

    async def run_chat_completion_async(
        self, model: str, messages: list[dict], body: dict, headers: Headers | None = None
    ) -> str | AsyncGenerator:
        chat_messages = openai_chat.to_chat_messages(messages)
        if openai_chat.wants_rag(body, headers):
            question = openai_chat.last_user_question(chat_messages)
            events = answering.rag_events(self.pipeline, question, body.get("filters"))
        else:
            events = answering.chat_events(self.chat_pipeline, chat_messages)
        if body.get("stream"):
            return openai_chat.openai_deltas(events)
        try:
            return openai_chat.answer_text(await answering.collect(events))
        except answering.LLMUnavailableError as e:
            raise openai_chat.unavailable(e) from None
