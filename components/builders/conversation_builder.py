"""Put a preset system prompt in front of a conversation trimmed to a token budget."""

from __future__ import annotations

from typing import Any

from haystack import component
from haystack.dataclasses import ChatMessage

from components.builders.prompt_selector import THINKING_PREFILL, trim_history
from components.builders.token_budget import TokenBudget
from components.inline_async import runs_inline


@component
@runs_inline
class ConversationBuilder:
    """
    Builds the chat prompt for plain (non-RAG) chat: the preset system prompt, then the conversation.

    System messages sent by the client replace nothing: they follow the preset prompt, which stays first. The
    turns before the last user message are trimmed, oldest first, to `max_history_tokens`.
    """

    def __init__(
        self,
        system_prompt: str,
        max_history_tokens: int = 1024,
        tokenizer: str | None = None,
        thinking_instruction: str = "",
    ) -> None:
        """
        :param system_prompt: The preset system prompt (the graph YAML reads it from `prompts/`).
        :param max_history_tokens: Token budget of the turns before the last user message.
        :param tokenizer: The LLM's tokenizer (a folder with `tokenizer.json`); None estimates token counts.
        :param thinking_instruction: Text added to the system prompt for prompted thinking.
        """
        self.system_prompt = system_prompt.strip()
        self.max_history_tokens = max_history_tokens
        self.tokenizer = tokenizer
        self.thinking_instruction = thinking_instruction.strip()
        self._budget = TokenBudget(tokenizer)

    def warm_up(self) -> None:
        self._budget.warm_up()

    @component.output_types(prompt=list[ChatMessage])
    def run(self, messages: list[ChatMessage], prompted_thinking: bool = False) -> dict[str, Any]:
        """
        :param messages: The conversation so far, oldest first; it must end with a user message.
        :param prompted_thinking: Ask the model to reason in `<thinking>` before its `<answer>`.
        :returns: `prompt`, the messages to send to the LLM.
        """
        if not messages:
            raise ValueError("The conversation is empty: send at least one user message.")
        last_user = (
            max(i for i, m in enumerate(messages) if m.is_from("user"))
            if any(m.is_from("user") for m in messages)
            else len(messages) - 1
        )
        earlier, current = messages[:last_user], messages[last_user:]
        client_system = [m for m in earlier if m.is_from("system")]
        turns = trim_history([m for m in earlier if not m.is_from("system")], self.max_history_tokens, self._budget)
        system = self.system_prompt
        prefill = []
        if prompted_thinking and self.thinking_instruction:
            system = f"{system}\n\n{self.thinking_instruction}"
            prefill = [ChatMessage.from_assistant(THINKING_PREFILL)]
        return {"prompt": [ChatMessage.from_system(system), *client_system, *turns, *current, *prefill]}
