"""The standalone question retrieval uses for a follow-up: the LLM's rewrite, checked, and the earlier turns' codes
carried in when the rewrite lost them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from haystack import component
from haystack.dataclasses import ChatMessage

from components.builders.reasoning import split_reasoning
from components.french_analysis import codes_in, fold, proper_names
from components.inline_async import runs_inline

_QUESTION_PREFIX = re.compile(r"^\s*(?:question(?: autonome| reformulée)?\s*:\s*)", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
# « et pour B1037 ? », « et en 2022 ? », « Et la facture F2025-0412 ? »: the earlier question about something else.
_ELLIPSIS = re.compile(
    r"^\s*et\s+(?:pour|en|de|du|des|dans|sur|avec|concernant|à propos de|a propos de)?\s*(.+?)\s*\??\s*$", re.IGNORECASE
)
_MAX_ELLIPSIS_WORDS = 6
_MAX_CARRIED = 3  # codes or names added to a follow-up at most


def _has(text: str, needle: str) -> bool:
    return fold(needle.lower()) in fold(text.lower())


def parse_rewrite(reply: str, original: str) -> str:
    """The standalone question from the rewriter's reply; the original question when the reply is unusable."""
    _, text = split_reasoning(reply)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = _QUESTION_PREFIX.sub("", line).strip().strip("«»\"'` ").strip()
    if len(line) < 3 or len(line) > max(400, 4 * len(original)):
        return original
    return line


@component
@runs_inline
class StandaloneQuestionBuilder:
    """
    Makes a follow-up question stand alone, for retrieval, from the LLM's rewrite and the earlier turns.

    The small local models often return the follow-up unchanged (« Quel est le montant de son marché ? ») or
    answer it instead; retrieval then finds another affair. So the rewrite is checked, in this order:
    - an ellipsis « et pour B1037 ? » / « et en 2022 ? » is the last user question with its code (or its year)
      replaced by the new one (or the new words added), whatever the LLM wrote;
    - a follow-up that names no code is about the latest turn that names one: the codes of its question, and the
      first other code of its answer (« Quelle carotte était non conforme ? » → « C07 » : « autour d'elle »). The
      LLM's rewrite gets those it lacks added (« Quel est le montant de son marché ? — A2458 »); a rewrite that
      names only other codes of the conversation is about an earlier turn, so the follow-up itself gets them;
    - when no turn names a code, the same with the latest turn's proper names (« la commune de Bréchy »);
    - a reply that is empty, too long, or not a question falls back to the follow-up itself (then the same check).
    """

    @component.output_types(query=str)
    def run(self, query: str, history: list[ChatMessage], replies: list[ChatMessage] | None = None) -> dict[str, Any]:
        """
        :param query: The follow-up, as the user wrote it.
        :param history: The earlier turns, oldest first.
        :param replies: The rewriter LLM's replies (none when it failed or was not asked).
        :returns: `query`, the standalone question.
        """
        rewritten = parse_rewrite(replies[0].text or "" if replies else "", query)
        return {"query": self.resolve(query, rewritten, history)}

    @staticmethod
    def resolve(question: str, rewritten: str, history: list[ChatMessage]) -> str:
        if not history:
            return question
        users = [m.text or "" for m in history if m.is_from("user")]
        previous = users[-1] if users else ""
        ellipsis = _ELLIPSIS.match(question)
        if ellipsis and previous and len(ellipsis.group(1).split()) <= _MAX_ELLIPSIS_WORDS:
            new = ellipsis.group(1)
            if codes_in(new) or _YEAR.search(new):
                return _substitute(previous, new)
        if codes_in(question):
            return rewritten
        carried = _latest_named(history, codes_in)
        if carried and codes_in(rewritten) and not any(_has(rewritten, code) for code in carried):
            rewritten = question  # the rewrite is about an earlier turn's affair
        carried = carried or _latest_named(history, proper_names)
        missing = [name for name in carried if not _has(rewritten, name)]
        if not missing:
            return rewritten
        return f"{rewritten.rstrip(' ?')} — {', '.join(missing[:_MAX_CARRIED])} ?"


def _latest_named(history: list[ChatMessage], names_in: Callable[[str], list[str]]) -> list[str]:
    """
    What the latest turn that names something names (`names_in`: codes, proper names): its user question's, then
    the first other one of its answer (what « elle », « son » most often point at when the answer named it).
    """
    for i in range(len(history) - 1, -1, -1):
        message = history[i]
        if message.is_from("user"):
            names = names_in(message.text or "")
        else:
            asked = history[i - 1] if i > 0 and history[i - 1].is_from("user") else None
            names = names_in(asked.text or "") if asked else []
            answered = [n for n in names_in(message.text or "") if not any(_has(n, m) for m in names)]
            names = names + answered[:1]
        if names:
            return list(dict.fromkeys(names))
    return []


def _substitute(previous: str, new: str) -> str:
    """The earlier question about `new`: its code (or year) replaced, else `new` added."""
    new = new.strip().rstrip("?").strip()
    new_codes, old_codes = codes_in(new), codes_in(previous)
    if new_codes and old_codes:
        return previous.replace(old_codes[0], new_codes[0], 1)
    new_year, old_year = _YEAR.search(new), _YEAR.search(previous)
    if new_year and old_year:
        return previous[: old_year.start()] + new_year.group(0) + previous[old_year.end() :]
    return f"{previous.rstrip(' ?')} — {new} ?"
