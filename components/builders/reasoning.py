"""Separate a model's reasoning from its answer, whichever way the model writes it.

Models give reasoning as a separate field (vLLM's reasoning parser: handled by the generator), as
`<think>…</think>` in the content (Qwen3 without a reasoning parser), or, when prompted to because they have no
native reasoning, as `<thinking>…</thinking>` then `<answer>…</answer>`. The parser below routes text between
`thinking` and `answer` as it arrives, tags split across stream chunks included; reasoning never reaches the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from haystack.dataclasses import ChatMessage

Part = Literal["thinking", "answer"]

_SWITCHES: dict[str, Part] = {
    "<think>": "thinking",
    "<thinking>": "thinking",
    "</think>": "answer",
    "</thinking>": "answer",
    "<answer>": "answer",
    "</answer>": "answer",
}
_LONGEST_TAG = max(len(tag) for tag in _SWITCHES)


class ReasoningStreamParser:
    """Routes streamed text to `thinking` or `answer`, holding back only what may be the start of a tag."""

    def __init__(self, starts_in_thinking: bool = False) -> None:
        """
        :param starts_in_thinking: Whether the text starts inside the reasoning (chat templates that open
            `<think>` themselves, so the model only writes `</think>`).
        """
        self._part: Part = "thinking" if starts_in_thinking else "answer"
        self._buffer = ""
        self._started: dict[Part, bool] = {"thinking": False, "answer": False}

    def feed(self, text: str) -> list[tuple[Part, str]]:
        """:returns: the (part, text) pieces that can be routed now, in order."""
        self._buffer += text
        pieces: list[tuple[Part, str]] = []
        while self._buffer:
            at = self._buffer.find("<")
            if at < 0:
                self._emit(pieces, self._buffer)
                self._buffer = ""
                break
            self._emit(pieces, self._buffer[:at])
            rest = self._buffer[at:]
            lowered = rest[:_LONGEST_TAG].lower()
            tag = next((t for t in _SWITCHES if lowered.startswith(t)), None)
            if tag is not None:
                self._part = _SWITCHES[tag]
                self._buffer = rest[len(tag) :]
            elif any(t.startswith(lowered) for t in _SWITCHES):
                self._buffer = rest  # maybe a tag cut by the end of the chunk: wait for more
                break
            else:
                self._emit(pieces, "<")
                self._buffer = rest[1:]
        return _merged(pieces)

    def close(self) -> list[tuple[Part, str]]:
        """:returns: what was held back, at the end of the stream."""
        pieces: list[tuple[Part, str]] = []
        self._emit(pieces, self._buffer)
        self._buffer = ""
        return pieces

    def _emit(self, pieces: list[tuple[Part, str]], text: str) -> None:
        if not self._started[self._part]:
            text = text.lstrip()  # no blank line at the start of a part
        if text:
            self._started[self._part] = True
            pieces.append((self._part, text))


def _merged(pieces: list[tuple[Part, str]]) -> list[tuple[Part, str]]:
    merged: list[tuple[Part, str]] = []
    for part, text in pieces:
        if merged and merged[-1][0] == part:
            merged[-1] = (part, merged[-1][1] + text)
        else:
            merged.append((part, text))
    return merged


def split_reasoning(text: str, starts_in_thinking: bool = False) -> tuple[str, str]:
    """
    A finished reply as (thinking, answer).

    A closing `</think>` with no opening tag before it means the template opened the reasoning: what precedes it
    is reasoning too. When the prompt opened the reasoning (`starts_in_thinking`) and the model never closed it, all
    of it is reasoning and the answer is empty (`reasoning_unclosed`): the caller asks again without reasoning, it
    never shows reasoning as the answer.
    """
    lowered = text.lower()
    close = min((i for i in (lowered.find("</think>"), lowered.find("</thinking>")) if i >= 0), default=-1)
    opened = min((i for i in (lowered.find("<think>"), lowered.find("<thinking>")) if i >= 0), default=-1)
    if close >= 0 and (opened < 0 or opened > close):
        starts_in_thinking = True
    parser = ReasoningStreamParser(starts_in_thinking)
    parts = {"thinking": "", "answer": ""}
    for part, piece in [*parser.feed(text), *parser.close()]:
        parts[part] += piece
    return parts["thinking"].strip(), parts["answer"].strip()


def reasoning_unclosed(thinking: str, answer: str, prompted_thinking: bool) -> bool:
    """The prompt opened the reasoning and the model wrote only reasoning: no answer to show."""
    return prompted_thinking and not answer and bool(thinking)


def split_reply(reply: ChatMessage | None, starts_in_thinking: bool = False) -> tuple[str, str]:
    """
    A finished LLM reply as (thinking, answer): the reasoning the generator returned apart (vLLM's reasoning
    field) first, then any the model wrote in its text (`split_reasoning`).
    """
    if reply is None:
        return "", ""
    thinking, answer = split_reasoning(reply.text or "", starts_in_thinking)
    if reply.reasoning is not None and reply.reasoning.reasoning_text:
        thinking = "\n".join(t for t in (reply.reasoning.reasoning_text.strip(), thinking) if t)
    return thinking, answer
