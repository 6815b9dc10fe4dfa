"""Hayhooks deployment of the `chat` graph: `POST /chat/run`, plain chat with the LLM, no retrieval.

OpenAI chat completions (model `chat`, or any model with `use_rag: false`) are served by service/openai_chat.py.
"""

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
            whole = answering.GenerationOptions(stream_tokens=False)
            answer = await answering.collect(answering.chat_events(self.pipeline, messages, whole))
        except answering.LLMUnavailableError as e:
            raise openai_chat.unavailable(e) from None
        return {"answer": answer.answer}
