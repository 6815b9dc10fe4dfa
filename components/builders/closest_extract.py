"""When the model only restates the question (or answers with citation marks alone), the passage line closest to it
is shown after the answer.

The packaged small models sometimes answer with the question itself (« La signalisation horizontale provisoire de la
RD 912 est-elle prévue ? », « La personne qui est Laurent Castaing est M. Laurent Castaing. »). Such an answer says
nothing the question did not, while the key line the context formatter put first often holds the answer (the
planning row, the contact table row). The answer then ends with that line, cited, so the reader sees the text the
documents hold. Measured on the samples answers of one run (bench/answers.py, 0.5B): 5 answers of 60 restated the
question, none of them right; with the extract 3 of them hold every key fact of the reference answer.
"""

from __future__ import annotations

import re
from typing import Any

from components.builders.figures import figures_in
from components.builders.statement_citer import NOT_IN_DOCUMENTS, split_statements, without_citations
from components.french_analysis import FrenchAnalyzer, fold

EXTRACT_LEAD = "Extrait le plus proche de la question"
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


def closest_extract(answer: str, question: str | None, key_lines: list[dict[str, Any]] | None) -> str:
    """
    What follows the answer: the best key line, cited, when the answer restates the question; else "". A table row
    comes as a Markdown table under its header row.
    """
    if not question or not key_lines or not restates_question(answer, question):
        return ""
    best = key_lines[0]
    mark = f"[{best['number']}]"
    if best.get("header"):  # the row cited in its last cell, as the answer's own table rows are
        columns = best["header"].count("|") - 1
        rule = "|" + "---|" * max(columns, 1)
        row = best["line"].rstrip()
        row = f"{row[:-1].rstrip()} {mark} |" if row.endswith("|") else f"{row} {mark}"
        return f"\n\n{EXTRACT_LEAD} :\n\n{best['header']}\n{rule}\n{row}"
    return f"\n\n{EXTRACT_LEAD} : « {best['line']} » {mark}"
