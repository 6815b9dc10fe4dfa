"""Turn the ranked passages into the numbered context the prompt shows the LLM."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import replace
from functools import lru_cache
from typing import Any

from haystack import Document, component

from components.builders.document_versions import DocumentVersions
from components.builders.token_budget import TokenBudget
from components.classifiers.query_classifier import QUERY_CLASSES
from components.document_meta import SOURCE_KEYS, TITLE_KEYS, document_key, first_value
from components.french_analysis import FrenchAnalyzer, codes_in, fold, names_code
from components.inline_async import runs_inline
from components.rankers.numeric_chunk_prioritizer import asked_kinds, figure_kinds

# Metadata read defensively: the first key present wins.
_DATE_KEYS = ("publish_date", "date")
_SECTION_KEYS = ("section_path", "parent_section_path", "parent_headings", "headings", "section_title", "section")

PASSAGE_CACHE_SIZE = 4096  # passages whose shown text is kept (a few MB)
# A figure said without taxes or with them: a question that names one of the two is not answered by a line that
# names only the other (« montant total HT » and the `| Total TTC | 757 911,00 |` row, read as HT by the 1.5B).
_TAX_BASES = {
    "ht": re.compile(r"\b(?:HT|H\.T\.|hors[ -]taxes?)(?!\w)", re.IGNORECASE),
    "ttc": re.compile(r"\b(?:TTC|T\.T\.C\.|toutes taxes comprises)(?!\w)", re.IGNORECASE),
}
_TABLE_RULE = re.compile(r"^\|?(?:\s*:?-{3,}:?\s*\|)+\s*(?::?-{3,}:?\s*)?$")

_MARKUP = [
    (re.compile(r"<!--.*?-->", re.DOTALL), ""),  # HTML comments
    (re.compile(r"</?[a-zA-Z][^>]{0,200}>"), " "),  # HTML tags
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: keep the alt text
    (re.compile(r"\[([^\]]+)\]\((?:[^)]*)\)"), r"\1"),  # links: keep the text
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.MULTILINE), ""),  # heading markers
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


def section_path(meta: dict[str, Any]) -> str | None:
    """The passage's place in its document ("Chapitre 2 > Lot 1"), from whichever key the indexer wrote."""
    value = first_value(meta, _SECTION_KEYS)
    if isinstance(value, (list, tuple)):
        return " > ".join(str(v) for v in value if v) or None
    return str(value) if value is not None else None


@component
@runs_inline
class ContextFormatter:
    """
    Selects and formats the passages the LLM sees, as numbered blocks.

    Passages keep the ranker's order. At most `max_chunks_per_source` passages come from one document and at most
    `max_docs` documents are shown; the passages of one document share `max_tokens_per_doc` tokens (counted with
    the LLM's tokenizer). Markup is stripped. The documents output is what the blocks show, in the same order, so
    `[n]` in the answer means the n-th of them.

    When the question cannot be answered from the passages (`answerable` false, from `AnswerabilityChecker`),
    `context` is not sent, so the prompt and the LLM do not run and the answer builder answers that the documents do
    not hold the information (the passages searched are still returned as sources).
    """

    def __init__(  # noqa: PLR0917 (plain parameters, set from YAML by name)
        self,
        max_docs: int = 5,
        max_chunks_per_source: int = 2,
        max_tokens_per_doc: int = 400,
        tokenizer: str | None = None,
        strip_markup: bool = True,
        key_lines: int = 0,
        key_lines_only: list[str] | None = None,
        key_rows_as_fields: bool = False,
        key_cells: bool = False,
        versions: bool = False,
        version_markers: dict[str, str] | None = None,
    ) -> None:
        """
        :param max_docs: How many documents (sources) at most.
        :param max_chunks_per_source: How many passages of one document at most.
        :param max_tokens_per_doc: Token budget of one document's passages together.
        :param tokenizer: The LLM's tokenizer (a folder with `tokenizer.json`); None estimates token counts.
        :param strip_markup: Whether Markdown and HTML markup is removed from the passages (tables stay tables).
        :param key_lines: How many lines (sentences, list items, table rows under their header) that hold most of
            the question's words are shown first, under « Passages clés », with their passage number (0: none).
        :param key_lines_only: Query classes (`question_chiffree`...) whose context is the key lines alone, when
            there are some: a small model picks the figure among a few lines rather than in whole tables. Those
            lines are read in every ranked passage of the first `max_docs` documents (`max_chunks_per_source`
            bounds the whole passages shown), each passage cut to `max_tokens_per_doc`.
        :param key_rows_as_fields: Whether a table row among the key lines is written as `column : value` pairs
            (`Désignation : BB 0/10 ; PU HT (€) : 15,20`) instead of under its Markdown header row: a small model
            reads a value with its column name, where it miscounts the cells of a Markdown row.
        :param key_cells: Whether a key table row whose header names the question's words in some of its columns,
            not all, is shown first as its cell(s): the row's label, then `column : value` for those columns
            (`XS3 ; Eeff/liant max : 0,50`), above the row itself. The row picks the line (its label says the
            question's words), the header picks the column: a small model reading a 5-column row took the wrong one.
        :param versions: Whether documents whose names differ only by a version marker (indice, révision, version,
            n°, a date) are read latest first, each older one labelled « version antérieure » with the latest's name
            (`DocumentVersions`); a version the question names is read as the latest.
        :param version_markers: The markers, by kind (regular expressions capturing the version's value); None: the
            defaults of `components.builders.document_versions`.
        """
        if min(max_docs, max_chunks_per_source, max_tokens_per_doc) < 1:
            raise ValueError("max_docs, max_chunks_per_source and max_tokens_per_doc must be at least 1")
        unknown = sorted(set(key_lines_only or []) - set(QUERY_CLASSES))
        if unknown:
            raise ValueError(
                f"key_lines_only names query classes: {', '.join(QUERY_CLASSES)}; not {', '.join(unknown)}"
            )
        self.max_docs = max_docs
        self.max_chunks_per_source = max_chunks_per_source
        self.max_tokens_per_doc = max_tokens_per_doc
        self.tokenizer = tokenizer
        self.strip_markup = strip_markup
        self.key_lines = key_lines
        self.key_lines_only = list(key_lines_only or [])
        self.key_rows_as_fields = key_rows_as_fields
        self.key_cells = key_cells
        self.versions = versions
        self.version_markers = version_markers
        self._versions = DocumentVersions(version_markers) if versions else None
        self._analyzer = FrenchAnalyzer()
        self._budget = TokenBudget(tokenizer)
        # The same passages come back request after request: their shown text (markup stripped, cut to a budget,
        # counted) is worked out once. ~2 ms per answer on the event loop under load otherwise.
        self._shown = lru_cache(maxsize=PASSAGE_CACHE_SIZE)(self._fit)

    def warm_up(self) -> None:
        self._budget.warm_up()

    def _fit(self, content: str, max_tokens: int) -> tuple[str, bool, int]:
        """The passage as shown: markup stripped, cut to `max_tokens`; whether it was cut; the tokens it takes."""
        text = strip_markup(content) if self.strip_markup else content
        return self._budget.fit(text, max_tokens) if text else ("", False, 0)

    @component.output_types(documents=list[Document], context=str, key_lines=list[dict[str, Any]])
    def run(
        self,
        documents: list[Document],
        answerable: bool = True,
        query: str | None = None,
        query_class: str | None = None,
    ) -> dict[str, Any]:
        """
        :param documents: The ranked passages, best first.
        :param answerable: Whether the passages can answer the question (`AnswerabilityChecker`).
        :param query: The question, for the key lines.
        :param query_class: The question's class, for `key_lines_only`.
        :returns: `documents`, the passages shown (cut and cleaned), `context`, their numbered blocks, and
            `key_lines`, the key lines best first (`number`, `line`, `header`: its table's header row or ""); no
            `context` when there is no passage or they cannot answer (the passages are still returned, as the
            sources that were searched, with no key lines).
        """
        if self._versions is not None:
            documents = self._versions.order(documents, query)
        kept = self._passages(documents, whole=True)
        if not kept or not answerable:
            return {"documents": kept, "key_lines": []}  # no context: nothing to answer from, the LLM is not asked
        if query and self.key_lines and query_class in self.key_lines_only:
            # Lines alone: every ranked passage of the shown documents is read for them (the answer of a precise
            # question is often in a document's third or fourth passage), each cut to `max_tokens_per_doc`.
            read = self._passages(documents, whole=False)
            lines = self.key_lines_of(query, read)
            if lines:
                return {"documents": read, "context": self.key_passages(lines), "key_lines": lines}
        context = "\n\n".join(self._block(i, doc) for i, doc in enumerate(kept, start=1))
        if not (query and self.key_lines):
            return {"documents": kept, "context": context, "key_lines": []}
        shown, lines = self._key_lines_beyond(query, kept, self._passages(documents, whole=False))
        key = self.key_passages(lines)
        if not key:
            return {"documents": kept, "context": context, "key_lines": lines}
        return {"documents": shown, "context": f"{key}\n\n{context}", "key_lines": lines}

    def _key_lines_beyond(
        self, query: str, kept: list[Document], read: list[Document]
    ) -> tuple[list[Document], list[dict[str, Any]]]:
        """
        The key lines read in every ranked passage of the shown documents (`read`), numbered as the blocks of
        `kept`; a line that no block shows gets the number of its passage, added after the blocks. « F2025-0412
        échéance paiement »: the invoice's totals and details fill its two blocks, the due date is in its heading
        passage, ranked third.
        """
        shown = list(kept)
        number_of = {id(doc): i for i, doc in enumerate(kept, start=1)}
        by_id = {doc.id: doc for doc in kept}
        lines = self.key_lines_of(query, read)
        for line in lines:
            passage = read[line["number"] - 1]
            block = by_id.get(passage.id)
            if block is not None and line["line"] in (block.content or ""):
                line["number"] = number_of[id(block)]
                continue
            if id(passage) not in number_of:
                shown.append(passage)
                number_of[id(passage)] = len(shown)
            line["number"] = number_of[id(passage)]
        return shown, lines

    def _passages(self, documents: list[Document], *, whole: bool) -> list[Document]:
        """
        The passages shown, in ranking order, markup stripped: those of the first `max_docs` documents; `whole`:
        at most `max_chunks_per_source` of one document, within `max_tokens_per_doc` together; else every passage
        of those documents, each cut to `max_tokens_per_doc` (only some of their lines are shown).
        """
        kept: list[Document] = []
        per_source: dict[str, int] = {}
        budget_left: dict[str, int] = {}
        for document in documents:
            key = document_key(document)
            if key not in per_source and len(per_source) >= self.max_docs:
                continue
            if whole and (per_source.get(key, 0) >= self.max_chunks_per_source or budget_left.get(key, 1) <= 0):
                continue
            left = budget_left.get(key, self.max_tokens_per_doc) if whole else self.max_tokens_per_doc
            text, was_cut, tokens = self._shown(document.content or "", left)
            if not text:
                continue
            per_source[key] = per_source.get(key, 0) + 1
            budget_left[key] = 0 if was_cut else left - tokens
            kept.append(replace(document, content=text))
        return kept

    def key_passages(self, lines: list[dict[str, Any]]) -> str:
        """The key lines as the prompt shows them, under « Passages clés », each with its passage number."""
        if not lines:
            return ""
        shown = [_shown_line(k["line"], k["header"], as_fields=self.key_rows_as_fields) for k in lines]
        if self.key_cells:
            shown = [_with_cells(text, k) for text, k in zip(shown, lines, strict=True)]
        return "Passages clés :\n" + "\n".join(f"[{k['number']}] {text}" for k, text in zip(lines, shown, strict=True))

    def key_lines_of(self, question: str, documents: list[Document]) -> list[dict[str, Any]]:
        """
        The `key_lines` lines of the passages that say most of the question's words, best first, each with its
        passage number and its table's header row (or ""). Small models answer from the first text that looks
        relevant: the row `| 7 | BB 0/10 … | 15,20 |` before the whole bill of quantities.

        A line is scored by the question words it holds itself, each weighed by how few of the passages' lines hold
        it (a code in every line of a document tells one line from another no better than a stop word); the words
        its table header and its document title add count a quarter, to rank lines that say the same.
        """
        # A reference written in several words (`NF P 98-331`, `RD 912`) is one term: as four it outweighed the
        # word asked about (« NF P 98-331 édition » put the reference line before the edition's).
        references = [code for code in codes_in(question) if " " in code.strip()]
        parts = {word for code in references for word in self._analyzer.words(code)}

        # The kind of figure asked (« quelle part » a percentage) counts as a term that lines holding one say:
        # « Le cumul facturé représente 67,9 % du montant initial » said only two of the question's words.
        kinds = {f"<{kind}>" for kind in asked_kinds(question)}

        def terms_of(text: str) -> set[str]:
            return set(self._analyzer.words(text)) | {fold(c.lower()) for c in references if names_code(text, c)}

        terms = (set(self._analyzer.words(question)) - parts) | {fold(c.lower()) for c in references} | kinds
        if not terms:
            return []
        asked_bases = {base for base, pattern in _TAX_BASES.items() if pattern.search(question)}
        other_bases = set(_TAX_BASES) - asked_bases if len(asked_bases) == 1 else set()
        candidates: list[tuple[int, int, str, str, set[str], set[str]]] = []
        for number, document in enumerate(documents, start=1):
            title = terms_of(str(document.meta.get("title") or ""))
            for position, (line, header) in enumerate(passage_lines(document.content or "")):
                own = terms & (terms_of(line) | {f"<{kind}>" for kind in figure_kinds(line)})
                if not own or _names_only(line, other_bases):
                    continue  # a line is key for what it says itself; its header and title only rank it
                found = terms & (terms_of(header) | title | own)
                if len(found) >= min(2, len(terms)):
                    candidates.append((number, position, line, header, own, found - own))
        lines = self._best_lines(terms, candidates)
        if self.key_cells:
            for line in lines:
                line["cells"] = self._asked_columns(terms_of, terms, line["header"], line["line"])
        return lines

    def _asked_columns(self, terms_of: Any, terms: set[str], header: str, row: str) -> list[int]:
        """
        The columns of a table row that the question asks for: those whose header cell says most of the question's
        words (a header word may be cut short: `min` for « minimal »), when that is some of its value columns and
        not all; the first column is the row's label, never asked for.
        """
        names, values = _cells(header), _cells(row)
        if not header or len(names) != len(values) or len(names) < 3:
            return []

        def said(cell: str) -> int:
            words = terms_of(cell)
            return sum(1 for t in terms if t in words or any(_cut_short(w, t) for w in words))

        scores = [said(name) for name in names[1:]]
        best = max(scores)
        chosen = [i + 1 for i, score in enumerate(scores) if score == best and values[i + 1]]
        return chosen if best > 0 and len(chosen) < len(scores) else []

    def _best_lines(
        self, terms: set[str], candidates: list[tuple[int, int, str, str, set[str], set[str]]]
    ) -> list[dict[str, Any]]:
        """
        The `key_lines` best candidates (passage number, position, line, header, terms it says, terms its header or
        title add): each term weighed by how few candidates say it, those of the header or title a quarter.
        """
        if not candidates:
            return []
        held = Counter(t for *_, own, _ in candidates for t in own)
        weight = {t: math.log((len(candidates) + 1) / (held[t] + 0.5)) for t in terms}
        scored = sorted(
            (-(sum(weight[t] for t in own) + 0.25 * sum(weight[t] for t in context)), number, position, line, header)
            for number, position, line, header, own, context in candidates
        )
        best: dict[str, dict[str, Any]] = {}  # overlapping passages repeat lines: each is shown once
        for _, number, _, line, header in scored:
            if len(best) == self.key_lines:
                break
            best.setdefault(line, {"number": number, "line": line, "header": header})
        return list(best.values())

    @staticmethod
    def _block(number: int, document: Document) -> str:
        """
        `[n] Title — Section (date)` then the passage. Only what helps the model read the passage: the small models
        copied a `Titre : … | Source : … | Pertinence : 0.95` header line into their answers.
        """
        meta = document.meta
        title = first_value(meta, TITLE_KEYS) or first_value(meta, SOURCE_KEYS)
        section = section_path(meta)
        date = first_value(meta, _DATE_KEYS)
        label = " — ".join(str(part) for part in dict.fromkeys((title, section)) if part)
        if date:
            label = f"{label} ({date})" if label else str(date)
        if meta.get("superseded_by"):
            label = f"{label} — version antérieure, remplacée par « {meta['superseded_by']} »"
        return f"[{number}] {label}\n{document.content}" if label else f"[{number}]\n{document.content}"


def _names_only(line: str, bases: set[str]) -> bool:
    """Whether the line names one of `bases` (`ttc`) and no other tax base: a figure said on the other base."""
    named = {base for base, pattern in _TAX_BASES.items() if pattern.search(line)}
    return bool(named) and named <= bases


def _cut_short(word: str, term: str) -> bool:
    """A header word written short for the question's (`min` for `minimal`, `qte` for `quantite`)."""
    return len(word) >= 3 and len(term) > len(word) and term.startswith(word) and word.isalpha()


def _with_cells(shown: str, line: dict[str, Any]) -> str:
    """The key line with the cells asked for first: the row's label, then `column : value` for each."""
    cells = line.get("cells") or []
    if not cells:
        return shown
    names, values = _cells(line["header"]), _cells(line["line"])
    label = values[0] or names[0]
    picked = " ; ".join(f"{names[i]} : {values[i]}" for i in cells)
    return f"{label} ; {picked}\n    {shown}"


def _cells(row: str) -> list[str]:
    return [cell.strip().strip("*").strip() for cell in row.strip().strip("|").split("|")]


def _shown_line(line: str, header: str, *, as_fields: bool) -> str:
    """A key line as shown: a table row under its header row, or as `column : value` pairs."""
    if not header:
        return line
    if not as_fields:
        return f"{header}\n    {line}"
    names, values = _cells(header), _cells(line)
    if len(names) != len(values):
        return f"{header}\n    {line}"
    pairs = [f"{name} : {value}" if name else value for name, value in zip(names, values, strict=True) if value]
    return " ; ".join(pairs)


def passage_lines(text: str) -> list[tuple[str, str]]:
    """The lines of a passage worth showing alone, each with the header row of its table (or "")."""
    lines = [line.strip() for line in text.split("\n")]
    out: list[tuple[str, str]] = []
    header = ""
    for i, line in enumerate(lines):
        if not line.startswith("|"):
            header = ""
            if len(line) > 3:
                out.append((line, ""))
            continue
        if _TABLE_RULE.match(line):
            continue
        if i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]):
            header = line  # a header row: shown with the rows under it, not alone
            continue
        out.append((line, header))
    return out
