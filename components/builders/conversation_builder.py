"""Put a preset system prompt in front of a conversation."""

from __future__ import annotations

from typing import Any

from haystack import component
from haystack.dataclasses import ChatMessage


@component
class ConversationBuilder:
    """
    Builds the chat prompt for plain (non-RAG) chat: the preset system prompt, then the conversation.

    System messages sent by the client replace nothing: they follow the preset prompt, which stays first.
    """

    def __init__(self, system_prompt: str) -> None:
        """
        :param system_prompt: The preset system prompt (the graph YAML reads it from `prompts/`).
        """
        self.system_prompt = system_prompt.strip()

    @component.output_types(prompt=list[ChatMessage])
    def run(self, messages: list[ChatMessage]) -> dict[str, Any]:
        """
        :param messages: The conversation so far, oldest first; it must end with a user message.
        :returns: `prompt`, the messages to send to the LLM.
        """
        if not messages:
            raise ValueError("The conversation is empty: send at least one user message.")
        return {"prompt": [ChatMessage.from_system(self.system_prompt), *messages]}
