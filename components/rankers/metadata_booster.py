"""Raise documents whose metadata matches the question; lower documents with no tags or key metadata."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from haystack import Document, component

from components.document_meta import as_strings
from components.french_analysis import FrenchAnalyzer, contains_whole
from components.inline_async import runs_inline

DEFAULT_KEY_FIELDS = ["code_affaire", "client", "commune", "document_type", "lot"]


def _parse_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value or "").strip()
    for size, fmt in ((10, "%Y-%m-%d"), (7, "%Y-%m"), (4, "%Y")):
        try:
            return dt.datetime.strptime(text[:size], fmt).date()
        except ValueError:
            continue
    return None


@component
@runs_inline
class MetadataBooster:
    """
    Multiplies each document's score by how well its metadata matches the question, then re-sorts.

    The factor is `1 + (title_weight - 1) * t + (tags_weight - 1) * g + (key_metadata_weight - 1) * k`, where
    `t` is the share of the question's content terms found in the title (1 when the whole title is in the
    question), `g` is 1 when a tag occurs whole in the question, and `k` counts the key fields
    (`code_affaire`, `client`...) whose value occurs whole in the question: a full title match is ×3, a key
    field ×2 with the default weights. Codes are matched whole: `A2458` is not `A24581`, `BB 0/10` not `BB 0/100`.
    Documents flagged `has_key_metadata: false` (no tags, no key field) are multiplied by
    `missing_metadata_penalty`; documents flagged `reference` (norms, procedures) by `reference_weight`; recent
    documents by up to `recency_weight`, halving with every `recency_half_life_days` of age.
    """

    def __init__(  # noqa: PLR0917
        self,
        title_weight: float = 3.0,
        tags_weight: float = 3.0,
        key_metadata_weight: float = 2.0,
        key_fields: list[str] | None = None,
        missing_metadata_penalty: float = 0.8,
        reference_weight: float = 1.0,
        recency_weight: float = 1.0,
        recency_half_life_days: float = 365.0,
        date_fields: list[str] | None = None,
        enabled: bool = True,
    ) -> None:
        """
        :param title_weight: Factor for a question that contains the whole title.
        :param tags_weight: Factor for a tag found whole in the question.
        :param key_metadata_weight: Factor for each key field whose value is found whole in the question.
        :param key_fields: The key metadata fields.
        :param missing_metadata_penalty: Factor (<= 1) for documents with no tags and no key field.
        :param reference_weight: Factor for documents flagged `reference`.
        :param recency_weight: Factor for a document dated today; 1.0 turns recency off.
        :param recency_half_life_days: Age at which the recency boost is halved.
        :param date_fields: The metadata fields holding a document's date (ISO, `YYYY-MM` or `YYYY`), first found
            wins; `publish_date` then `date` by default.
        :param enabled: When `False`, documents pass through unchanged.
        """
        if min(title_weight, tags_weight, key_metadata_weight, reference_weight, recency_weight) < 1:
            raise ValueError("boost weights must be >= 1")
        if not 0 < missing_metadata_penalty <= 1:
            raise ValueError("missing_metadata_penalty must be in (0, 1]")
        self.title_weight = title_weight
        self.tags_weight = tags_weight
        self.key_metadata_weight = key_metadata_weight
        self.key_fields = key_fields if key_fields is not None else list(DEFAULT_KEY_FIELDS)
        self.missing_metadata_penalty = missing_metadata_penalty
        self.reference_weight = reference_weight
        self.recency_weight = recency_weight
        self.recency_half_life_days = recency_half_life_days
        self.date_fields = date_fields if date_fields is not None else ["publish_date", "date"]
        self.enabled = enabled
        self._analyzer = FrenchAnalyzer()

    def factor(self, query: str, terms: set[str], meta: dict[str, Any], today: dt.date) -> float:
        """The score multiplier of a document with metadata `meta` for `query` (content terms `terms`)."""
        boost = 1.0
        title = " ".join(as_strings(meta.get("title")))
        if title:
            if contains_whole(query, title):
                share = 1.0
            else:
                share = len(terms & set(self._analyzer.words(title))) / len(terms) if terms else 0.0
            boost += (self.title_weight - 1) * share
        if any(contains_whole(query, tag) for tag in as_strings(meta.get("tags"))):
            boost += self.tags_weight - 1
        hits = sum(any(contains_whole(query, v) for v in as_strings(meta.get(f))) for f in self.key_fields)
        boost += (self.key_metadata_weight - 1) * hits
        if self._lacks_key_metadata(meta):
            boost *= self.missing_metadata_penalty
        if meta.get("reference") is True or str(meta.get("reference")).lower() in {"true", "oui", "yes", "1"}:
            boost *= self.reference_weight
        dated = next((meta[f] for f in self.date_fields if meta.get(f)), None)
        if self.recency_weight > 1 and (date := _parse_date(dated)) is not None:
            age = max((today - date).days, 0)
            boost *= 1 + (self.recency_weight - 1) * 0.5 ** (age / self.recency_half_life_days)
        return boost

    def _lacks_key_metadata(self, meta: dict[str, Any]) -> bool:
        flag = meta.get("has_key_metadata")
        if flag is not None:
            return flag is False
        return not as_strings(meta.get("tags")) and not any(as_strings(meta.get(f)) for f in self.key_fields)

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document]) -> dict[str, Any]:
        """
        :param query: The question.
        :param documents: Scored documents (scores >= 0, e.g. fused), best first.
        :returns: `documents`, new documents with boosted scores, best first.
        """
        if not self.enabled or not documents:
            return {"documents": list(documents)}
        terms = set(self._analyzer.words(query))
        today = dt.datetime.now(dt.UTC).date()
        boosted = []
        for doc in documents:
            score = doc.score if doc.score is not None else 0.0
            factor = self.factor(query, terms, doc.meta, today)
            boosted.append(replace(doc, score=score * factor if score >= 0 else score / factor))
        return {"documents": sorted(boosted, key=lambda d: d.score, reverse=True)}
