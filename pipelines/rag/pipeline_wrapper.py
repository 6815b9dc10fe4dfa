"""Hayhooks deployment of the `rag` graph: `POST /rag/run`.

OpenAI chat completions (`/v1/chat/completions`, models `rag`, `chat` and each LLM backend) and `/askai` are served
by the service's own routes (service/openai_chat.py, service/askai.py), which run the graph built here (and the
`chat` wrapper's, and the `question_rewrite` graph the service builds itself: service/server.py).
"""

from typing import Any

from hayhooks import BasePipelineWrapper

from service import answering, openai_chat
from service.pipelines import build_pipeline
from service.settings import load_settings


class PipelineWrapper(BasePipelineWrapper):
    def setup(self) -> None:
        self.pipeline = build_pipeline("rag", load_settings())
        self.pipeline.warm_up()

    async def run_api_async(self, query: str, filters: dict[str, Any] | None = None) -> dict[str, Any]:
        """
        Answer a question from the indexed documents, with numbered sources.

        :param query: The question, in French.
        :param filters: Haystack metadata filters applied by every retriever, e.g.
            `{"field": "meta.code_affaire", "operator": "==", "value": "A2458"}`.
        :returns: `answer` (citations `[n]` point at `sources[n-1]`) and `sources`.
        """
        if not query.strip():
            raise openai_chat.field_error("'query' is empty.")
        try:
            whole = answering.GenerationOptions(stream_tokens=False)
            answer = await answering.collect(answering.rag_events(self.pipeline, query.strip(), filters, options=whole))
        except answering.LLMUnavailableError as e:
            raise openai_chat.unavailable(e) from None
        return {
            "answer": answer.answer,
            "sources": answer.sources,
            "invalid_citations": answer.invalid_citations,
            "unsupported": answer.unsupported,
        }
