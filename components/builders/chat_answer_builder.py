"""Turn the LLM's reply in a plain chat into an answer, its reasoning apart."""

from __future__ import annotations

from typing import Any

from haystack import component
from haystack.dataclasses import ChatMessage

from components.builders.reasoning import reasoning_unclosed, split_reply
from components.inline_async import runs_inline


@component
@runs_inline
class ChatAnswerBuilder:
    """
    Builds the answer of a plain (non-RAG) chat from the LLM's reply.

    Reasoning, whether the generator returned it apart (vLLM's reasoning field) or the model wrote it in its text
    (`<think>`, `<thinking>`), is returned as `thinking` and never as part of the answer.
    """

    @component.output_types(answer=str, thinking=str, reasoning_unclosed=bool)
    def run(self, replies: list[ChatMessage], prompted_thinking: bool = False) -> dict[str, Any]:
        """
        :param replies: The LLM's replies; the first one is the answer.
        :param prompted_thinking: The prompt asked for `<thinking>`/`<answer>` and opened the reasoning (`<thinking>`
            prefilled): the reply starts in it.
        :returns: `answer`, the text, `thinking`, the reasoning (empty if none), and `reasoning_unclosed` when the
            model wrote only the reasoning the prompt opened (no answer: ask again without reasoning).
        """
        thinking, answer = split_reply(replies[0] if replies else None, prompted_thinking)
        unclosed = reasoning_unclosed(thinking, answer, prompted_thinking)
        return {"answer": answer, "thinking": thinking, "reasoning_unclosed": unclosed}
