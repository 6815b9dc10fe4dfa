"""A chat generator that sends each request to the LLM backend it names (several vLLM servers, one graph)."""

from __future__ import annotations

import inspect
from typing import Any

from haystack import component, logging
from haystack.dataclasses import ChatMessage, StreamingCallbackT
from haystack.utils import Secret
from haystack_integrations.components.generators.vllm.chat.chat_generator import VLLMChatGenerator

from components.generators.repetition_guard import RepetitionGuard, StopGeneration

logger = logging.getLogger(__name__)

BACKEND_FIELDS = {"base_url", "model", "api_key_env", "timeout", "max_tokens", "temperature", "top_p", "thinking"}
THINKING_MODES = {"none", "prompted", "native"}


def native_thinking_kwargs(enable_thinking: bool) -> dict[str, Any]:
    """What tells a vLLM server with a reasoning model to think or not (Qwen3's chat template flag)."""
    return {"chat_template_kwargs": {"enable_thinking": enable_thinking}}


# A prompt ending with an assistant message is a reply to continue (a prefilled `<thinking>`), not a finished turn.
CONTINUE_LAST_MESSAGE = {"continue_final_message": True, "add_generation_prompt": False}


@component
class RoutedChatGenerator:
    """
    Sends the conversation to one of several OpenAI-compatible LLM servers (vLLM), chosen per request.

    Each backend is a `VLLMChatGenerator` (vLLM's reasoning field becomes `ReasoningContent`, streaming
    included). For a backend whose `thinking` is `native`, `enable_thinking` is passed to the chat template; for
    `prompted` backends the prompt asks for `<thinking>` sections instead and nothing is sent here.

    With `repeated_line_chars`, the reply is always streamed from the server and ends where the model writes a line
    of that many characters a second time (`RepetitionGuard`): the connection is closed, so the server stops
    decoding a loop the reader would only skip. A request's `max_lines` (the prompt's own bound, from
    `PromptSelector`) ends the reply the same way after that many lines.
    """

    def __init__(self, backends: dict[str, dict[str, Any]], default: str, repeated_line_chars: int = 0) -> None:
        """
        :param backends: Name → `base_url`, `model`, and optionally `api_key_env`, `timeout`, `max_tokens`,
            `temperature`, `top_p`, `thinking` (`none`, `prompted` or `native`).
        :param default: The backend used when a request names none.
        :param repeated_line_chars: A line of at least this many characters (spaces aside) written a second time
            ends the reply; 0: never.
        """
        if repeated_line_chars < 0:
            raise ValueError("repeated_line_chars must be 0 (off) or more")
        if default not in backends:
            raise ValueError(f"default backend '{default}' is not one of {', '.join(backends)}")
        for name, backend in backends.items():
            missing = {"base_url", "model"} - set(backend)
            if missing:
                raise ValueError(f"backend '{name}' lacks {', '.join(sorted(missing))}")
            if backend.get("thinking", "none") not in THINKING_MODES:
                raise ValueError(f"backend '{name}': thinking must be one of {', '.join(sorted(THINKING_MODES))}")
        self.backends = {name: {k: v for k, v in b.items() if k in BACKEND_FIELDS} for name, b in backends.items()}
        self.default = default
        self.repeated_line_chars = repeated_line_chars
        self._generators: dict[str, VLLMChatGenerator] = {}

    def _generator(self, name: str) -> VLLMChatGenerator:
        if name not in self._generators:
            backend = self.backends[name]
            generation_kwargs = {k: backend[k] for k in ("max_tokens", "temperature", "top_p") if k in backend}
            self._generators[name] = VLLMChatGenerator(
                model=backend["model"],
                api_base_url=backend["base_url"],
                api_key=Secret.from_env_var(backend.get("api_key_env", "VLLM_API_KEY"), strict=False),
                timeout=backend.get("timeout"),
                max_retries=0,
                generation_kwargs=generation_kwargs,
            )
        return self._generators[name]

    def warm_up(self) -> None:
        for name in self.backends:
            self._generator(name).warm_up()

    def _call(
        self,
        messages: list[ChatMessage],
        backend: str | None,
        generation_kwargs: dict[str, Any] | None,
        enable_thinking: bool,
    ) -> tuple[VLLMChatGenerator, dict[str, Any]]:
        name = backend or self.default
        if name not in self.backends:
            raise ValueError(f"unknown LLM backend '{name}' (one of {', '.join(self.backends)})")
        kwargs = dict(generation_kwargs or {})
        extra_body = dict(kwargs.pop("extra_body", None) or {})
        if self.backends[name].get("thinking") == "native":
            extra_body.update(native_thinking_kwargs(enable_thinking))
        if messages and messages[-1].is_from("assistant") and messages[-1].text:
            extra_body.update(CONTINUE_LAST_MESSAGE)
        if extra_body:
            kwargs["extra_body"] = extra_body
        return self._generator(name), kwargs

    def _guard(
        self, streaming_callback: StreamingCallbackT | None, max_lines: int, enable_thinking: bool
    ) -> RepetitionGuard | None:
        # A prompted reasoning comes before the answer in the same text: its lines are not the answer's.
        max_lines = 0 if enable_thinking else max_lines
        if not self.repeated_line_chars and not max_lines and streaming_callback is None:
            return None  # a streamed reply is always guarded: the caller may end it (StopGeneration)
        return RepetitionGuard(streaming_callback, self.repeated_line_chars, max_lines)

    @staticmethod
    def _ended(guard: RepetitionGuard) -> ChatMessage:
        reply = guard.reply()
        why = {"repeating": "started its reply over", "caller": "was stopped: its reader needs no more"}.get(
            guard.reason, f"reached {guard.max_lines} lines"
        )
        logger.info("The LLM {why}: ended after {chars} characters", why=why, chars=len(reply.text or ""))
        return reply

    @component.output_types(replies=list[ChatMessage])
    def run(
        self,
        messages: list[ChatMessage],
        backend: str | None = None,
        generation_kwargs: dict[str, Any] | None = None,
        enable_thinking: bool = False,
        streaming_callback: StreamingCallbackT | None = None,
        *,
        max_lines: int = 0,
    ) -> dict[str, Any]:
        """
        :param messages: The prompt.
        :param backend: The backend's name; None for the default.
        :param generation_kwargs: Per-request parameters (temperature, top_p, max_tokens), already bounded.
        :param enable_thinking: Whether the model should reason before answering.
        :param streaming_callback: Called with each chunk as it arrives.
        :param max_lines: Lines (not blank) the reply may hold, when it is not a reasoning; 0: any number.
        :returns: `replies`, the LLM's messages.
        """
        generator, kwargs = self._call(messages, backend, generation_kwargs, enable_thinking)
        guard = self._guard(streaming_callback, max_lines, enable_thinking)
        if guard is None:
            return generator.run(messages, streaming_callback=streaming_callback, generation_kwargs=kwargs)
        try:
            result = generator.run(messages, streaming_callback=guard.on_chunk, generation_kwargs=kwargs)
        except StopGeneration:
            return {"replies": [self._ended(guard)]}
        for chunk in guard.flush():
            streaming_callback(chunk)  # type: ignore[misc]
        return result

    @component.output_types(replies=list[ChatMessage])
    async def run_async(
        self,
        messages: list[ChatMessage],
        backend: str | None = None,
        generation_kwargs: dict[str, Any] | None = None,
        enable_thinking: bool = False,
        streaming_callback: StreamingCallbackT | None = None,
        *,
        max_lines: int = 0,
    ) -> dict[str, Any]:
        """Asynchronous `run`, same parameters."""
        generator, kwargs = self._call(messages, backend, generation_kwargs, enable_thinking)
        guard = self._guard(streaming_callback, max_lines, enable_thinking)
        if guard is None:
            return await generator.run_async(messages, streaming_callback=streaming_callback, generation_kwargs=kwargs)
        try:
            result = await generator.run_async(
                messages, streaming_callback=guard.on_chunk_async, generation_kwargs=kwargs
            )
        except StopGeneration:
            return {"replies": [self._ended(guard)]}
        for chunk in guard.flush():
            sent = streaming_callback(chunk)  # type: ignore[misc]
            if inspect.isawaitable(sent):
                await sent
        return result
