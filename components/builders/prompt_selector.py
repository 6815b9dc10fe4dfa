"""Choose the answer prompt for a question and build it: by explicit type, else by the question's class."""

from __future__ import annotations

import functools
from typing import Any

from haystack import component
from haystack.components.builders import ChatPromptBuilder
from haystack.dataclasses import ChatMessage

from components.builders.token_budget import TokenBudget
from components.inline_async import runs_inline

# The retrieval graph's query classes and the prompt each one gets.
DEFAULT_CLASS_PROMPTS = {"question_chiffree": "chiffres", "fiche_identite": "fiche", "autre": "default"}
DEFAULT_PROMPT = "default"
# The start of the assistant's turn when thinking is prompted: the model continues inside its reasoning, which small
# models follow far more reliably than an instruction alone (the generator sends it as a message to continue).
THINKING_PREFILL = "<thinking>\n"


def trim_history(history: list[ChatMessage], max_tokens: int, budget: TokenBudget) -> list[ChatMessage]:
    """The most recent turns of `history` that fit in `max_tokens`, oldest first; a turn is never cut in half."""
    kept: list[ChatMessage] = []
    used = 0
    for message in reversed(history):
        cost = budget.count(message.text or "") + 4  # role and separators
        if used + cost > max_tokens:
            break
        kept.append(message)
        used += cost
    return kept[::-1]


@component
@runs_inline
class PromptSelector:
    """
    Builds the RAG prompt from the template that fits the question.

    An explicit `prompt_type` (`summary`, `comparison`, or any template name) wins; otherwise the query class from
    the retrieval graph picks the template (`question_chiffree` → chiffres, `fiche_identite` → fiche, anything else
    → default). The conversation history, trimmed to `max_history_tokens`, goes between the system message and the
    question. When the LLM has no native reasoning and thinking is asked for, the thinking instruction is added to
    the system message. A template with a line bound (`line_limits`) gets it as `max_lines`, and so does the
    generator, which ends the reply there (`RoutedChatGenerator`).
    """

    def __init__(
        self,
        templates: dict[str, str],
        class_prompts: dict[str, str] | None = None,
        thinking_instruction: str = "",
        max_history_tokens: int = 1024,
        tokenizer: str | None = None,
        *,
        line_limits: dict[str, int] | None = None,
    ) -> None:
        """
        :param templates: Template name → Jinja chat template (`{% message %}` blocks) using `question` and `context`.
            Must hold `default`.
        :param class_prompts: Query class → template name.
        :param thinking_instruction: Text added to the system message for prompted thinking.
        :param max_history_tokens: Token budget of the conversation history.
        :param tokenizer: The LLM's tokenizer (a folder with `tokenizer.json`); None estimates token counts.
        :param line_limits: Template name → lines (not blank) its answer may hold: the template's `max_lines`.
        """
        if DEFAULT_PROMPT not in templates:
            raise ValueError(f"templates must hold a '{DEFAULT_PROMPT}' template (got {', '.join(templates)})")
        self.class_prompts = dict(DEFAULT_CLASS_PROMPTS if class_prompts is None else class_prompts)
        unknown = sorted(set(self.class_prompts.values()) - set(templates))
        if unknown:
            raise ValueError(f"class_prompts names templates that do not exist: {', '.join(unknown)}")
        self.templates = dict(templates)
        self.line_limits = dict(line_limits or {})
        unknown = sorted(set(self.line_limits) - set(templates))
        if unknown:
            raise ValueError(f"line_limits names templates that do not exist: {', '.join(unknown)}")
        if any(limit < 1 for limit in self.line_limits.values()):
            raise ValueError("line_limits must be 1 line or more")
        self.thinking_instruction = thinking_instruction.strip()
        self.max_history_tokens = max_history_tokens
        self.tokenizer = tokenizer
        self._builders = {
            name: ChatPromptBuilder(template=text, required_variables=["question", "context"])
            for name, text in self.templates.items()
        }
        for builder in self._builders.values():
            # ChatPromptBuilder compiles its template at every run (`Environment.from_string`, ~1.2 ms here, on the
            # event loop since this node runs inline); the templates are fixed at init, so each is compiled once.
            builder._env.from_string = functools.lru_cache(maxsize=4)(builder._env.from_string)
        self._budget = TokenBudget(tokenizer)

    def warm_up(self) -> None:
        self._budget.warm_up()

    def template_name(self, query_class: str | None, prompt_type: str | None) -> str:
        """The template a request gets; an unknown `prompt_type` is a ValueError."""
        if prompt_type:
            if prompt_type not in self.templates:
                raise ValueError(f"unknown prompt_type '{prompt_type}' (one of {', '.join(sorted(self.templates))})")
            return prompt_type
        return self.class_prompts.get(query_class or "", DEFAULT_PROMPT)

    @component.output_types(prompt=list[ChatMessage], prompt_name=str, max_lines=int)
    def run(
        self,
        query: str,
        context: str,
        *,
        query_class: str = "autre",
        prompt_type: str | None = None,
        history: list[ChatMessage] | None = None,
        prompted_thinking: bool = False,
    ) -> dict[str, Any]:
        """
        :param query: The (standalone) question (the templates' `question`).
        :param context: The numbered passages (`ContextFormatter`).
        :param query_class: The retrieval graph's class of the question.
        :param prompt_type: An explicit template name (`summary`, `comparison`...), winning over the class.
        :param history: Earlier turns of the conversation, oldest first.
        :param prompted_thinking: Ask the model to reason in `<thinking>` before its `<answer>`.
        :returns: `prompt`, the messages for the LLM, `prompt_name`, the template used, and `max_lines`, the lines
            its answer may hold (0: any number).
        """
        name = self.template_name(query_class, prompt_type)
        max_lines = self.line_limits.get(name, 0)
        messages = self._builders[name].run(question=query, context=context, max_lines=max_lines)["prompt"]
        if prompted_thinking and self.thinking_instruction:
            messages = self._with_thinking_instruction(messages)
        turns = trim_history(list(history or []), self.max_history_tokens, self._budget)
        turns = [m for m in turns if m.is_from("user") or m.is_from("assistant")]
        if turns:
            messages = [*messages[:-1], *turns, messages[-1]]
        if prompted_thinking and self.thinking_instruction:
            messages = [*messages, ChatMessage.from_assistant(THINKING_PREFILL)]
        return {"prompt": messages, "prompt_name": name, "max_lines": max_lines}

    def _with_thinking_instruction(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        if messages and messages[0].is_from("system"):
            system = f"{messages[0].text or ''}\n\n{self.thinking_instruction}"
            return [ChatMessage.from_system(system), *messages[1:]]
        return [ChatMessage.from_system(self.thinking_instruction), *messages]
