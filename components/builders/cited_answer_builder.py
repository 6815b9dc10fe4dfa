"""Turn the LLM's reply into an answer whose citation numbers point at real sources."""

from __future__ import annotations

from typing import Any

from haystack import Document, component
from haystack.dataclasses import ChatMessage

from components.builders.citations import check_citations
from components.builders.context_formatter import section_path
from components.builders.reasoning import split_reasoning
from components.inline_async import runs_inline

SOURCE_META_FIELDS = ("title", "source", "theme", "document_type", "publish_date", "code_affaire", "client")


@component
@runs_inline
class CitedAnswerBuilder:
    """
    Builds the answer, its reasoning and its numbered sources from the LLM reply and the passages it was given.

    The passages are numbered from 1 in the order the prompt showed them, so `[n]` in the reply means the n-th
    passage. Citations to numbers that match no passage are removed from the text and reported in
    `invalid_citations`; every source says whether it was cited. Reasoning, whether the generator returned it
    apart (vLLM's reasoning field) or the model wrote it in its text (`<think>`, `<thinking>`), is returned as
    `thinking` and never as part of the answer.
    """

    def __init__(self, include_passage_text: bool = True) -> None:
        """
        :param include_passage_text: Whether each source carries the passage text it points at (a default that a
            request can override).
        """
        self.include_passage_text = include_passage_text

    @component.output_types(answer=str, thinking=str, sources=list[dict[str, Any]], invalid_citations=list[int])
    def run(
        self,
        replies: list[ChatMessage],
        documents: list[Document],
        include_passage_text: bool | None = None,
        starts_in_thinking: bool = False,
    ) -> dict[str, Any]:
        """
        :param replies: The LLM's replies; the first one is the answer.
        :param documents: The passages the prompt showed, in the same order.
        :param include_passage_text: Overrides the default for this request.
        :param starts_in_thinking: The prompt opened the reasoning (`<thinking>` prefilled): the reply starts in it.
        :returns: `answer` (text with valid citations only), `thinking` (the reasoning, empty if none), `sources`
            (one per passage, numbered, with a `cited` flag) and `invalid_citations` (numbers the model cited that
            point at no passage).
        """
        reply = replies[0] if replies else None
        thinking, text = split_reasoning((reply.text or "") if reply else "", starts_in_thinking)
        if reply is not None and reply.reasoning is not None and reply.reasoning.reasoning_text:
            thinking = "\n".join(t for t in (reply.reasoning.reasoning_text.strip(), thinking) if t)
        answer, cited, invalid = check_citations(text, len(documents))
        with_text = self.include_passage_text if include_passage_text is None else include_passage_text
        sources = [source_entry(i, doc, i in cited, with_text=with_text) for i, doc in enumerate(documents, start=1)]
        return {"answer": answer.strip(), "thinking": thinking, "sources": sources, "invalid_citations": invalid}


def source_entry(number: int, document: Document, cited: bool, with_text: bool) -> dict[str, Any]:
    """One source as clients get it; metadata the indexer did not write is absent, never invented."""
    source: dict[str, Any] = {"number": number, "cited": cited, "id": document.id, "score": document.score}
    for field in SOURCE_META_FIELDS:
        if document.meta.get(field) is not None:
            source[field] = document.meta[field]
    section = section_path(document.meta)
    if section:
        source["section"] = section
    if with_text:
        source["text"] = document.content
    return source
