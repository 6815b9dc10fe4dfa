"""The passage line shown after an answer: the line closest to the question when the model only restated it (or
answered with citation marks alone), else the line its first figure comes from when that line says more.

The packaged small models sometimes answer with the question itself (« La signalisation horizontale provisoire de la
RD 912 est-elle prévue ? », « La personne qui est Laurent Castaing est M. Laurent Castaing. »). Such an answer says
nothing the question did not, while the key line the context formatter put first often holds the answer (the
planning row, the contact table row). The answer then ends with that line, cited, so the reader sees the text the
documents hold. Measured on the samples answers of one run (bench/answers.py, 0.5B): 5 answers of 60 restated the
question, none of them right; with the extract 3 of them hold every key fact of the reference answer.

An answer that leads with a figure ends with the line of the cited passage that holds it (« Extrait cité »), when the
line says more than the answer: the 1.5B copies one cell or one clause of the line that answers (« prévue le
10/11/2025 » from the row `| Signalisation horizontale provisoire | 10/11/2025 | 14/11/2025 |`, « 24 places » from
« 24 places, dont 1 place PMR », « 757 911,00 € HT » from the row `| Total TTC | 757 911,00 |`). The reader sees
the figure in its line, the rest of what the document says with it, and a misread label.
"""

from __future__ import annotations

import re
from typing import Any

from haystack import Document

from components.builders.citations import CITATION_GROUP, numbers_in
from components.builders.context_formatter import passage_lines
from components.builders.figures import figures_in, stated_figures
from components.builders.statement_citer import NOT_IN_DOCUMENTS, split_statements, without_citations
from components.french_analysis import FrenchAnalyzer, codes_in, fold

EXTRACT_LEAD = "Extrait le plus proche de la question"
EVIDENCE_LEAD = "Extrait cité"
_MAX_EVIDENCE_CHARS = 400  # a longer line is quoted by its sentence that holds the figures
_YES_NO = re.compile(r"^(oui|non)\b")
_MAX_NEW_WORDS = 1  # « La personne qui est … » adds one word and says nothing

_analyzer = FrenchAnalyzer()


def restates_question(answer: str, question: str) -> bool:
    """
    Whether an answer says nothing the question did not: no words at all (« [1] »), only questions, or no new word
    and no new figure.
    """
    statements = [without_citations(s).strip() for s in split_statements(answer)]
    statements = [s for s in statements if s]
    if not statements:  # nothing but citation marks (« [1] »): the model pointed at a passage and said nothing
        return bool(answer.strip())  # no text at all: nothing was streamed (the whole answer comes later)
    if fold(NOT_IN_DOCUMENTS.lower()).rstrip(".") in fold(answer.lower()):
        return False
    if all(s.endswith("?") for s in statements):
        return True
    if _YES_NO.match(fold(statements[0].lower())):  # « Oui, les primes sont prises en compte » answers
        return False
    text = " ".join(statements)
    new_words = set(_analyzer.words(text)) - set(_analyzer.words(question))
    return len(new_words) <= _MAX_NEW_WORDS and not (figures_in(text) - figures_in(question))


def closest_extract(
    answer: str,
    question: str | None,
    key_lines: list[dict[str, Any]] | None,
    passages: list[Document] | None = None,
) -> str:
    """
    What follows the answer: the best key line, cited, when the answer restates the question; else the line its
    first figure comes from (`evidence_line`); else "". A table row comes as a Markdown table under its header row.
    """
    if not question:
        return ""
    if key_lines and restates_question(answer, question):
        return _quoted(EXTRACT_LEAD, key_lines[0])
    return evidence_line(answer, question, key_lines, passages or [])


def evidence_line(answer: str, question: str, key_lines: list[dict[str, Any]] | None, passages: list[Document]) -> str:
    """
    The line of a cited passage that holds every figure of the answer's first statement (figures of the question,
    single digits and codes aside), quoted, when that statement states figures and the line says more than the answer
    (a figure or a word that neither the answer nor the question holds). The key lines come first (what the model
    read first), then the lines of the cited passages.
    """
    statements = [s for s in split_statements(answer) if without_citations(s).strip()]
    if not statements:
        return ""
    first = statements[0]
    stated = first
    for code in codes_in(first):  # « RD 912 », « PR 16+300 » name a road and a place: no figure to show a line for
        stated = stated.replace(code, " ")
    figures = stated_figures(stated, question)
    cited = [n for group in CITATION_GROUP.finditer(first) for n in numbers_in(group.group(1))]
    if not figures or not cited:
        return ""
    candidates = [k for k in key_lines or [] if k["number"] in cited]
    for number in cited:
        if 1 <= number <= len(passages):
            lines = passage_lines(passages[number - 1].content or "")
            candidates += [{"number": number, "line": line, "header": header} for line, header in lines]
    for candidate in candidates:
        line = _sentence_holding(candidate["line"], figures)
        if line is None:
            continue
        return _quoted(EVIDENCE_LEAD, {**candidate, "line": line}) if _says_more(line, answer, question) else ""
    return ""


def _sentence_holding(line: str, figures: set[str]) -> str | None:
    """The line, or its sentence that holds every figure when the line is long; None when it does not hold them."""
    if not figures <= figures_in(line):
        return None
    if len(line) <= _MAX_EVIDENCE_CHARS or line.startswith("|"):
        return line
    return next((s.strip() for s in split_statements(line) if figures <= figures_in(s)), line)


def _says_more(line: str, answer: str, question: str) -> bool:
    """Whether the line holds a figure or a word (« TTC ») that neither the answer nor the question holds."""
    new_words = set(_analyzer.words(line)) - set(_analyzer.words(f"{answer} {question}"))
    return bool(figures_in(line) - figures_in(answer) or new_words)


def _quoted(lead: str, key_line: dict[str, Any]) -> str:
    """`lead : « line » [n]`, or a table row cited in its last cell under its header row."""
    mark = f"[{key_line['number']}]"
    if key_line.get("header"):  # the row cited in its last cell, as the answer's own table rows are
        columns = key_line["header"].count("|") - 1
        rule = "|" + "---|" * max(columns, 1)
        row = key_line["line"].rstrip()
        row = f"{row[:-1].rstrip()} {mark} |" if row.endswith("|") else f"{row} {mark}"
        return f"\n\n{lead} :\n\n{key_line['header']}\n{rule}\n{row}"
    return f"\n\n{lead} : « {key_line['line']} » {mark}"
