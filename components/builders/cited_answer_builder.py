"""Turn the LLM's reply into an answer whose citation numbers point at real sources."""

from __future__ import annotations

from typing import Any

from haystack import Document, component
from haystack.dataclasses import ChatMessage

from components.builders.citations import CITATION_GROUP, CitationStreamFilter, check_citations
from components.builders.closest_extract import closest_extract
from components.builders.context_formatter import section_path
from components.builders.grounding import NameGrounding
from components.builders.reasoning import reasoning_unclosed, split_reply
from components.builders.statement_citer import NOT_IN_DOCUMENTS, StatementCiter, StreamingStatementCiter
from components.document_meta import passage_texts
from components.inline_async import runs_inline

SOURCE_META_FIELDS = (
    "title",
    "source",
    "page",
    "theme",
    "document_type",
    "publish_date",
    "code_affaire",
    "client",
    "ocr",  # its text was read from a scan: the reader is told
    "parent",  # the mail an attachment came with
)


@component
@runs_inline
class CitedAnswerBuilder:
    """
    Builds the answer, its reasoning and its numbered sources from the LLM reply and the passages it was given.

    The passages are numbered from 1 in the order the prompt showed them, so `[n]` in the reply means the n-th
    passage. Citations to numbers that match no passage are removed from the text and reported in
    `invalid_citations`. With `cite_statements` on, every statement's citations are then checked against the
    passages and attributed (`StatementCiter`): a `[n]` stays only where passage `n` supports its statement,
    supported statements the model left uncited get their passages, and statements no passage supports are
    returned in `unsupported`. Every source says whether it was cited, how (`cited_by`: `by_model`, `attributed`)
    and by which statements (their 0-based positions). Reasoning, whether the generator returned it apart (vLLM's
    reasoning field) or the model wrote it in its text (`<think>`, `<thinking>`), is returned as `thinking` and
    never as part of the answer.

    When the LLM was not asked (no `replies`: the context formatter found no passage, or none that can answer), the
    answer is the refusal `NOT_IN_DOCUMENTS`, with the passages searched as uncited sources. Given the question's
    `names`, a statement whose figures come from documents that do not name them is left out, and the answer is
    the refusal when such a statement comes first (`NameGrounding`); the whole answer and the stream go through
    one `StreamingStatementCiter`, so both say the same.
    """

    def __init__(
        self,
        include_passage_text: bool = True,
        cite_statements: bool = True,
        *,
        min_overlap: float = 0.5,
        min_overlap_with_figures: float = 0.25,
        max_citations: int = 3,
        min_relative_support: float = 0.0,
        ground_figures: bool = True,
    ) -> None:
        """
        :param include_passage_text: Whether each source carries the passage text it points at (a default that a
            request can override).
        :param cite_statements: Whether citations are checked and attributed statement by statement.
        :param min_overlap: Share of a statement's content words a passage must hold to support it.
        :param min_overlap_with_figures: The same when the passage holds every figure of the statement.
        :param max_citations: Citations added to one statement at most.
        :param min_relative_support: Share of the best passage's support another passage needs to be cited beside
            it (0: every supporting passage).
        :param ground_figures: Whether a statement's figures must come from a document that names the question's
            `names` (`NameGrounding`); without `names`, nothing is checked.
        """
        self.include_passage_text = include_passage_text
        self.cite_statements = cite_statements
        self.min_overlap = min_overlap
        self.min_overlap_with_figures = min_overlap_with_figures
        self.max_citations = max_citations
        self.min_relative_support = min_relative_support
        self.ground_figures = ground_figures
        self.citer = StatementCiter(min_overlap, min_overlap_with_figures, max_citations, min_relative_support)

    def stream_citer(
        self,
        documents: list[Document],
        query: str | None = None,
        key_lines: list[dict[str, Any]] | None = None,
        names: list[str] | None = None,
    ) -> CitationStreamFilter | StreamingStatementCiter:
        """What checks the citations of the answer as it streams, by the same rule as `run` (extract included)."""
        if not self.cite_statements:
            return CitationStreamFilter(len(documents))
        grounding = NameGrounding(names if self.ground_figures else None, documents, query)
        return StreamingStatementCiter(
            self.citer,
            passage_texts(documents),
            lambda answer: closest_extract(answer, query, key_lines, documents),
            grounding.grounded if grounding.active else None,
        )

    @component.output_types(
        answer=str,
        thinking=str,
        sources=list[dict[str, Any]],
        invalid_citations=list[int],
        unsupported=list[str],
        left_out=list[str],
        reasoning_unclosed=bool,
    )
    def run(
        self,
        documents: list[Document],
        replies: list[ChatMessage] | None = None,
        include_passage_text: bool | None = None,
        prompted_thinking: bool = False,
        *,
        query: str | None = None,
        key_lines: list[dict[str, Any]] | None = None,
        names: list[str] | None = None,
    ) -> dict[str, Any]:
        """
        :param documents: The passages the prompt showed, in the same order.
        :param replies: The LLM's replies; the first one is the answer. None: the LLM was not asked (no context).
        :param include_passage_text: Overrides the default for this request.
        :param prompted_thinking: The prompt asked for `<thinking>`/`<answer>` and opened the reasoning (`<thinking>`
            prefilled): the reply starts in it.
        :param query: The question; with `key_lines` (the context formatter's, best first), an answer that only
            restates the question ends with the best key line, cited, and an answer that leads with a figure ends
            with the line of the cited passage that holds it, when the line says more (`closest_extract`; with
            `cite_statements` on).
        :param names: The question's names (`AnswerabilityChecker`): the documents an answer's figures must come
            from name them (with `cite_statements` on).
        :returns: `answer` (text with valid citations only), `thinking` (the reasoning, empty if none), `sources`
            (one per passage, numbered, with a `cited` flag), `invalid_citations` (numbers the model cited that
            point at no passage), `unsupported` (the statements no passage supports, shown uncited) and `left_out`
            (the statements left out because their figures come from documents about something else);
            `reasoning_unclosed` when the model wrote only the reasoning the prompt opened (no answer: ask again
            without reasoning).
        """
        with_text = self.include_passage_text if include_passage_text is None else include_passage_text
        if replies is None:
            sources = [source_entry(i, doc, cited=False, with_text=with_text) for i, doc in enumerate(documents, 1)]
            return {
                "answer": NOT_IN_DOCUMENTS,
                "thinking": "",
                "sources": sources,
                "invalid_citations": [],
                "unsupported": [],
                "left_out": [],
            }
        thinking, text = split_reply(replies[0] if replies else None, prompted_thinking)
        if reasoning_unclosed(thinking, text, prompted_thinking):
            sources = [source_entry(i, doc, cited=False, with_text=with_text) for i, doc in enumerate(documents, 1)]
            return {
                "answer": "",
                "thinking": thinking,
                "sources": sources,
                "invalid_citations": [],
                "unsupported": [],
                "left_out": [],
                "reasoning_unclosed": True,
            }
        answer, cited, invalid = check_citations(text, len(documents))
        if not self.cite_statements:
            sources = [source_entry(i, doc, i in cited, with_text=with_text) for i, doc in enumerate(documents, 1)]
            return {
                "answer": answer.strip(),
                "thinking": thinking,
                "sources": sources,
                "invalid_citations": invalid,
                "unsupported": [],
                "left_out": [],
            }
        stream = self.stream_citer(documents, query, key_lines, names)
        shown = (stream.feed(answer.strip()) + stream.close()).strip()
        statements = stream.statements
        marks = [int(m.group(1)) for m in CITATION_GROUP.finditer(stream.ending)]
        extract_from = marks[-1] if marks else None
        sources = []
        for i, doc in enumerate(documents, start=1):
            citing = [k for k, st in enumerate(statements) if i in st.cited and st.grounded]
            entry = source_entry(i, doc, bool(citing) or i == extract_from, with_text=with_text)
            if citing:
                by_model = any(i in statements[k].by_model for k in citing)
                entry["cited_by"] = "by_model" if by_model else "attributed"
                entry["statements"] = citing
            elif i == extract_from:
                entry["cited_by"] = "extract"
            sources.append(entry)
        return {
            "answer": shown,
            "thinking": thinking,
            "sources": sources,
            "invalid_citations": invalid,
            "unsupported": [st.text.strip() for st in statements if not st.supported and st.grounded],
            "left_out": [st.text.strip() for st in statements if not st.grounded],
        }


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
