"""Keep the documents that name the question's codes: a question about A2458 is answered from A2458's documents."""

from __future__ import annotations

from typing import Any

from haystack import Document, component

from components.document_meta import document_key, document_texts
from components.french_analysis import codes_in, names_code
from components.inline_async import runs_inline


@component
@runs_inline
class CodeFocus:
    """
    Drops the documents that name none of the question's codes (an affair `A2458`, a quote `D2025-087`, a norm
    `NF P 98-331`, a road `RD 912`, a core `C07`), when at least one ranked document names one.

    Documents of one template read alike: the fiche of another affair, the invoice of another site. A small model
    takes the first figure of the right kind in its context, so with them shown it answered « D2025-087 montant TTC »
    with an invoice's total and « A2458 montant marché HT » with A2511's. A document names a code when its title,
    its file name, a metadata value or one of its ranked passages holds it whole (`A2458` is not `A24581`); its
    passages are kept or dropped together. A question with no code, or whose codes no document names (it may be
    refused next), keeps every document; a question naming two affairs keeps the documents of both.
    """

    def __init__(self, enabled: bool = True) -> None:
        """
        :param enabled: False: every document is kept.
        """
        self.enabled = enabled

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document]) -> dict[str, Any]:
        """
        :param query: The question.
        :param documents: The ranked passages.
        :returns: `documents`, the passages of the documents that name a code of the question, in their order; all
            of them when no code is asked or none is named.
        """
        codes = codes_in(query) if self.enabled else []
        if not codes or not documents:
            return {"documents": documents}
        naming = {key for key, text in document_texts(documents).items() if any(names_code(text, c) for c in codes)}
        if not naming:
            return {"documents": documents}
        return {"documents": [d for d in documents if document_key(d) in naming]}
