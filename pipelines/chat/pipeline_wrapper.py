"""Hayhooks deployment of the `chat` graph: plain chat with the LLM (model `chat`), no retrieval."""

from collections.abc import AsyncGenerator

from hayhooks import BasePipelineWrapper

from service import answering, openai_chat
from service.pipelines import build_pipeline
from service.settings import load_settings


class PipelineWrapper(BasePipelineWrapper):
    def setup(self) -> None:
        self.pipeline = build_pipeline("chat", load_settings())
        self.pipeline.warm_up()

    async def run_api_async(self, message: str) -> dict:
        """
        Chat with the LLM without the documents.

        :param message: The user's message.
        :returns: `answer`.
        """
        messages = openai_chat.to_chat_messages([{"role": "user", "content": message}])
        try:
            answer = await answering.collect(answering.chat_events(self.pipeline, messages))
        except answering.LLMUnavailableError as e:
            raise openai_chat.unavailable(e) from None
        return {"answer": answer.answer}

    async def run_chat_completion_async(self, model: str, messages: list[dict], body: dict) -> str | AsyncGenerator:
        events = answering.chat_events(self.pipeline, openai_chat.to_chat_messages(messages))
        if body.get("stream"):
            return openai_chat.openai_deltas(events)
        try:
            return openai_chat.answer_text(await answering.collect(events))
        except answering.LLMUnavailableError as e:
            raise openai_chat.unavailable(e) from None
