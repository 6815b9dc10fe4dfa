"""Ends an answer the model has started to write a second time (small models at a low temperature loop), or that
goes past the lines its prompt allows."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from typing import Any

from haystack.components.generators.utils import _convert_streaming_chunks_to_chat_message
from haystack.dataclasses import ChatMessage, StreamingCallbackT, StreamingChunk

# The end of a prompted reasoning: the answer that follows may restate its lines.
_ANSWER_STARTS = ("</thinking>", "<answer>", "</think>")


class StopGeneration(asyncio.CancelledError):
    """Raised from the streaming callback to end the stream: the generator closes the connection (vLLM then
    stops decoding) as it does for a cancelled request."""


class RepetitionGuard:
    """
    Watches a streamed answer line by line and ends it where it starts over.

    The packaged 0.5B and 1.5B models, at temperature 0.1, sometimes write a whole profile again and again
    (« Affaire B1037 … » three times, until `max_tokens`: 66 s here). Two long lines in a row (at least `min_chars`
    letters and digits each; blank and short lines between them do not count) that the answer already holds are a
    loop: the reply ends after the last line it had not written before. One repeated line alone is not (two
    affairs of one comparison may share their client's line). From the first line that may start a loop, the
    chunks are held back, so the client never sees the repeated lines; they go out as soon as a new line begins.

    With `max_lines`, the reply also ends after that many lines that are not blank: a profile asked in 8 lines at
    most that goes on copying the passages (« Présente-moi l'affaire A2511. »: six right lines, then an e-mail's
    header and body until `max_tokens`, 428 tokens and 70 s here).
    """

    def __init__(self, callback: StreamingCallbackT | None, min_chars: int, max_lines: int = 0) -> None:
        """
        :param callback: The caller's streaming callback (sync or async), or None.
        :param min_chars: Letters and digits a repeated line needs to count towards a loop; 0: loops are not looked
            for.
        :param max_lines: Lines (not blank) the reply may hold; 0: any number.
        """
        self.callback = callback
        self.min_chars = min_chars
        self.max_lines = max_lines
        self.line_count = 0  # lines not blank so far
        self.reason = ""  # why the reply was ended: "repeating", "max_lines" or "caller"
        self.text = ""  # the content so far
        self.line_start = 0  # where the line being written starts in `text`
        self.new_end = 0  # where the last line not written before ends in `text`
        self.run = 0  # long repeated lines since then
        self.lines: set[str] = set()
        self.held: list[StreamingChunk] = []
        self.sent: list[StreamingChunk] = []
        self.sent_chars = 0
        self.stopped = False

    @staticmethod
    def _key(line: str) -> str:
        return " ".join(line.split())

    def _long(self, key: str) -> bool:
        return sum(c.isalnum() for c in key) >= self.min_chars

    def _observe(self, chunk: StreamingChunk) -> bool:
        """Takes a chunk in; True when it completes the second long repeated line in a row, or the last line."""
        self.text += chunk.content or ""
        while (end := self.text.find("\n", self.line_start)) >= 0:
            line = self._key(self.text[self.line_start : end])
            self.line_start = end + 1
            if any(tag in line.lower() for tag in _ANSWER_STARTS):
                self.lines.clear()
                self.new_end, self.run = end + 1, 0
            elif self.min_chars and line in self.lines:
                self.run += self._long(line)
                if self.run >= 2:
                    self.reason = "repeating"
                    return True
            elif line:
                self.lines.add(line)
                self.new_end, self.run = end + 1, 0
                self.line_count += 1
                if self.max_lines and self.line_count >= self.max_lines:
                    self.reason = "max_lines"
                    return True
        return False

    def _may_loop(self) -> bool:
        """Whether what follows the last new line may be a loop: repeated lines, then the start of an earlier one."""
        if not self.min_chars or not self._key(self.text[self.new_end :]):
            return False
        partial = self._key(self.text[self.line_start :])
        return not partial or any(line.startswith(partial) for line in self.lines)

    def _release(self, chunks: list[StreamingChunk]) -> list[StreamingChunk]:
        self.sent += chunks
        self.sent_chars += sum(len(c.content or "") for c in chunks)
        return chunks if self.callback is not None else []

    def _step(self, chunk: StreamingChunk) -> list[StreamingChunk]:
        """The chunks to send the caller now; sets `stopped` at a loop."""
        if self._observe(chunk):
            self.stopped = True
            rest = self.text[self.sent_chars : self.new_end]
            tail = [dataclasses.replace(chunk, content=rest, finish_reason="stop")] if rest else []
            self.held = []
            return self._release(tail)
        self.held.append(chunk)
        if self._may_loop():
            return []
        held, self.held = self.held, []
        return self._release(held)

    def on_chunk(self, chunk: StreamingChunk) -> None:
        """The synchronous streaming callback."""
        try:
            for out in self._step(chunk):
                self.callback(out)  # type: ignore[misc]
        except StopGeneration:
            self._stopped_by_caller()
        if self.stopped:
            raise StopGeneration

    async def on_chunk_async(self, chunk: StreamingChunk) -> None:
        """The asynchronous streaming callback."""
        try:
            for out in self._step(chunk):
                result = self.callback(out)  # type: ignore[misc]
                if inspect.isawaitable(result):
                    await result
        except StopGeneration:
            self._stopped_by_caller()
        if self.stopped:
            raise StopGeneration

    def _stopped_by_caller(self) -> None:
        """The caller's callback raised `StopGeneration`: it needs no more text (e.g. the answer became a refusal)."""
        self.stopped = True
        self.reason = self.reason or "caller"

    def flush(self) -> list[StreamingChunk]:
        """After the stream: the chunks still held (it ended inside a line like an earlier one)."""
        held, self.held = self.held, []
        return self._release(held)

    def reply(self, meta: dict[str, Any] | None = None) -> ChatMessage:
        """The answer up to the repeated line (or its last allowed line), as the generator would have returned it."""
        message = _convert_streaming_chunks_to_chat_message(chunks=self.sent)
        ended = {
            {"repeating": "stopped_repeating", "caller": "stopped_by_caller"}.get(
                self.reason, "stopped_at_max_lines"
            ): True
        }
        message.meta.update({"finish_reason": "stop", **ended, **(meta or {})})
        return message
