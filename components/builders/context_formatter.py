"""Turn the ranked passages into the numbered context the prompt shows the LLM."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from typing import Any

from haystack import Document, component

from components.builders.token_budget import TokenBudget
from components.document_stores.french_analysis import FrenchAnalyzer
from components.inline_async import runs_inline

# Metadata read defensively: the first key present wins.
_TITLE_KEYS = ("title",)
_SOURCE_KEYS = ("source", "file_path", "file_name")
_DATE_KEYS = ("publish_date", "date")
_SECTION_KEYS = ("section_path", "parent_section_path", "parent_headings", "headings", "section_title", "section")

PASSAGE_CACHE_SIZE = 4096  # passages whose terms and shown text are kept (a few MB)

_MARKUP = [
    (re.compile(r"<!--.*?-->", re.DOTALL), ""),  # HTML comments
    (re.compile(r"</?[a-zA-Z][^>]{0,200}>"), " "),  # HTML tags
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: keep the alt text
    (re.compile(r"\[([^\]]+)\]\((?:[^)]*)\)"), r"\1"),  # links: keep the text
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.MULTILINE), ""),  # heading markers
    # table rules
    (re.compile(r"^[ \t]*\|?(?:[ \t]*:?-{3,}:?[ \t]*\|)+[ \t]*(?::?-+:?)?[ \t]*(?:\n|$)", re.MULTILINE), ""),
    (re.compile(r"^\s*(?:[-*_]\s*){3,}$", re.MULTILINE), ""),  # horizontal rules
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\w)"), r"\1"),  # italics
    (re.compile(r"`{1,3}"), ""),  # code marks
    (re.compile(r"^\s*>\s?", re.MULTILINE), ""),  # quotes
    (re.compile(r"[ \t]+"), " "),
    (re.compile(r" +$", re.MULTILINE), ""),
    (re.compile(r"\n\s*\n(\s*\n)+"), "\n\n"),
]


def strip_markup(text: str) -> str:
    """Markdown and HTML markup removed; the words, figures and table cells stay."""
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    return text.strip()


def _first(meta: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((meta[k] for k in keys if meta.get(k) not in (None, "", [])), None)


def section_path(meta: dict[str, Any]) -> str | None:
    """The passage's place in its document ("Chapitre 2 > Lot 1"), from whichever key the indexer wrote."""
    value = _first(meta, _SECTION_KEYS)
    if isinstance(value, (list, tuple)):
        return " > ".join(str(v) for v in value if v) or None
    return str(value) if value is not None else None


def document_key(document: Document) -> str:
    """What identifies the document a passage comes from."""
    return str(_first(document.meta, _SOURCE_KEYS) or _first(document.meta, _TITLE_KEYS) or document.id)


@component
@runs_inline
class ContextFormatter:
    """
    Selects and formats the passages the LLM sees, as numbered blocks.

    Passages keep the ranker's order. At most `max_chunks_per_source` passages come from one document and at most
    `max_docs` documents are shown; the passages of one document share `max_tokens_per_doc` tokens (counted with
    the LLM's tokenizer). Markup is stripped. The documents output is what the blocks show, in the same order, so
    `[n]` in the answer means the n-th of them.

    Answerability gate: when no passage covers at least `min_question_coverage` of the question's terms (French
    stems, stop words left out), there is nothing to answer from: `context` is not sent, so the prompt and the LLM do
    not run and the service answers that the documents do not hold the information (the passages searched are still
    returned as sources). Small models invent answers
    from unrelated passages; this check does not depend on them.
    """

    def __init__(  # noqa: PLR0917 (plain parameters, set from YAML by name)
        self,
        max_docs: int = 5,
        max_chunks_per_source: int = 2,
        max_tokens_per_doc: int = 400,
        tokenizer: str | None = None,
        strip_markup: bool = True,
        min_question_coverage: float = 0.0,
    ) -> None:
        """
        :param max_docs: How many documents (sources) at most.
        :param max_chunks_per_source: How many passages of one document at most.
        :param max_tokens_per_doc: Token budget of one document's passages together.
        :param tokenizer: The LLM's tokenizer (a folder with `tokenizer.json`); None estimates token counts.
        :param strip_markup: Whether Markdown and HTML markup is removed from the passages.
        :param min_question_coverage: Share of the question's terms the best passage must contain (0 turns the
            answerability gate off).
        """
        if not 0 <= min_question_coverage <= 1:
            raise ValueError("min_question_coverage must be between 0 and 1")
        if min(max_docs, max_chunks_per_source, max_tokens_per_doc) < 1:
            raise ValueError("max_docs, max_chunks_per_source and max_tokens_per_doc must be at least 1")
        self.max_docs = max_docs
        self.max_chunks_per_source = max_chunks_per_source
        self.max_tokens_per_doc = max_tokens_per_doc
        self.tokenizer = tokenizer
        self.strip_markup = strip_markup
        self.min_question_coverage = min_question_coverage
        self._budget = TokenBudget(tokenizer)
        self._analyzer = FrenchAnalyzer()
        # The same passages come back request after request: their terms and their shown text (markup stripped,
        # cut to a budget, counted) are worked out once. ~2 ms per answer on the event loop under load otherwise.
        self._passage_terms = lru_cache(maxsize=PASSAGE_CACHE_SIZE)(self._terms)
        self._shown = lru_cache(maxsize=PASSAGE_CACHE_SIZE)(self._fit)

    def warm_up(self) -> None:
        self._budget.warm_up()

    def _terms(self, text: str) -> frozenset[str]:
        return frozenset(self._analyzer.words(text))

    def _fit(self, content: str, max_tokens: int) -> tuple[str, bool, int]:
        """The passage as shown: markup stripped, cut to `max_tokens`; whether it was cut; the tokens it takes."""
        text = strip_markup(content) if self.strip_markup else content
        return self._budget.fit(text, max_tokens) if text else ("", False, 0)

    def question_coverage(self, question: str, document: Document) -> float:
        """Share of the question's terms found in the passage (its title included)."""
        terms = self._terms(question)  # a new question each time: not kept
        if not terms:
            return 1.0
        found = self._passage_terms(f"{document.meta.get('title') or ''} {document.content or ''}")
        return len(terms & found) / len(terms)

    @component.output_types(documents=list[Document], context=str)
    def run(self, documents: list[Document], question: str | None = None) -> dict[str, Any]:
        """
        :param documents: The ranked passages, best first.
        :param question: The question, for the answerability gate.
        :returns: `documents`, the passages shown (cut and cleaned), and `context`, their numbered blocks; no
            `context` when there is no passage or none covers enough of the question (the passages are still
            returned, as the sources that were searched).
        """
        answerable = True
        if self.min_question_coverage > 0 and question:
            best = max((self.question_coverage(question, d) for d in documents), default=0.0)
            answerable = best >= self.min_question_coverage
        kept: list[Document] = []
        per_source: dict[str, int] = {}
        budget_left: dict[str, int] = {}
        for document in documents:
            key = document_key(document)
            if key not in per_source and len(per_source) >= self.max_docs:
                continue
            if per_source.get(key, 0) >= self.max_chunks_per_source or budget_left.get(key, 1) <= 0:
                continue
            left = budget_left.get(key, self.max_tokens_per_doc)
            text, was_cut, tokens = self._shown(document.content or "", left)
            if not text:
                continue
            per_source[key] = per_source.get(key, 0) + 1
            budget_left[key] = 0 if was_cut else left - tokens
            kept.append(replace(document, content=text))
        if not kept or not answerable:
            return {"documents": kept}  # no context: nothing to answer from, the LLM is not asked
        context = "\n\n".join(self._block(i, doc) for i, doc in enumerate(kept, start=1))
        return {"documents": kept, "context": context}

    @staticmethod
    def _block(number: int, document: Document) -> str:
        meta = document.meta
        fields = [
            ("Titre", _first(meta, _TITLE_KEYS)),
            ("Source", _first(meta, _SOURCE_KEYS)),
            ("Thème", meta.get("theme")),
            ("Type", meta.get("document_type")),
            ("Date", _first(meta, _DATE_KEYS)),
            ("Section", section_path(meta)),
            ("Pertinence", f"{document.score:.2f}" if isinstance(document.score, (int, float)) else None),
        ]
        header = " | ".join(f"{name} : {value}" for name, value in fields if value not in (None, ""))
        return f"[{number}] {header}\n{document.content}"
