"""Turn the LLM's reply into an answer whose citation numbers point at real sources."""

from __future__ import annotations

import re
from typing import Any

from haystack import Document, component
from haystack.dataclasses import ChatMessage

# [1], [1, 3], [1-2], [1][2]: the forms models write; each bracket group is parsed on its own.
_CITATION_GROUP = re.compile(r"\[(\d+(?:\s*[-,;]\s*\d+)*)\]")
# A closed <think> block, or one the model never closed (cut by max_tokens): reasoning, never answer.
_THINK_BLOCK = re.compile(r"<think>.*?(?:</think>\s*|$)", re.DOTALL)
_REMOVED = "\x00"

SOURCE_META_FIELDS = ("title", "source", "theme", "document_type", "publish_date", "code_affaire", "client")


def _numbers_in(group: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group):
        if "-" in part:
            start, end = (int(x) for x in part.split("-", 1))
            if 0 < end - start < 20:
                numbers.extend(range(start, end + 1))
                continue
            numbers.extend((start, end))
        else:
            numbers.append(int(part))
    return numbers


@component
class CitedAnswerBuilder:
    """
    Builds the answer and its numbered sources from the LLM reply and the passages it was given.

    The passages are numbered from 1 in the order the prompt showed them, so `[n]` in the reply means the n-th
    passage. Citations to numbers that match no passage are removed from the text and reported in
    `invalid_citations`; every source says whether it was cited. A `<think>` block the model wrote in its content
    is never part of the answer.
    """

    def __init__(self, include_passage_text: bool = True) -> None:
        """
        :param include_passage_text: Whether each source carries the passage text it points at.
        """
        self.include_passage_text = include_passage_text

    @component.output_types(answer=str, sources=list[dict[str, Any]], invalid_citations=list[int])
    def run(self, replies: list[ChatMessage], documents: list[Document]) -> dict[str, Any]:
        """
        :param replies: The LLM's replies; the first one is the answer.
        :param documents: The passages the prompt showed, in the same order.
        :returns: `answer` (text with valid citations only), `sources` (one per passage, numbered, with a `cited`
            flag) and `invalid_citations` (numbers the model cited that point at no passage).
        """
        text = (replies[0].text or "") if replies else ""
        text = _THINK_BLOCK.sub("", text).strip()
        count = len(documents)
        cited: set[int] = set()
        invalid: list[int] = []

        def keep_valid(match: re.Match[str]) -> str:
            numbers = _numbers_in(match.group(1))
            valid = [n for n in numbers if 1 <= n <= count]
            invalid.extend(n for n in numbers if not 1 <= n <= count)
            cited.update(valid)
            return "".join(f"[{n}]" for n in dict.fromkeys(valid)) or _REMOVED

        answer = _CITATION_GROUP.sub(keep_valid, text)
        answer = re.sub(f"[ \t]*{_REMOVED}", "", answer).strip()
        sources = [self._source(i, doc, i in cited) for i, doc in enumerate(documents, start=1)]
        return {"answer": answer, "sources": sources, "invalid_citations": sorted(set(invalid))}

    def _source(self, number: int, document: Document, cited: bool) -> dict[str, Any]:
        source: dict[str, Any] = {"number": number, "cited": cited, "id": document.id, "score": document.score}
        for field in SOURCE_META_FIELDS:
            if field in document.meta:
                source[field] = document.meta[field]
        if self.include_passage_text:
            source["text"] = document.content
        return source
