"""Citation numbers `[n]` in an answer: parse them, keep those that point at a passage, drop the others.

Shared by `CitedAnswerBuilder` (the finished answer) and `CitationStreamFilter` (the answer as it streams), so a
number that points at no passage is never shown, streamed or not.
"""

from __future__ import annotations

import re

# [1], [1, 3], [1-2], [1][2]: the forms models write; each bracket group is parsed on its own.
CITATION_GROUP = re.compile(r"\[(\d+(?:\s*[-,;]\s*\d+)*)\]")
# What a citation group looks like while it is still being written: "[", "[1", "[1, 2" ...
_OPEN_GROUP = re.compile(r"\[[\d\s,;-]{0,24}$")
_REMOVED = "\x00"
_MAX_RANGE = 20


def numbers_in(group: str) -> list[int]:
    """The numbers of one bracket group's inside: `1, 3` → [1, 3]; `1-3` → [1, 2, 3]."""
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group):
        if "-" in part:
            start, end = (int(x) for x in part.split("-", 1))
            if 0 < end - start < _MAX_RANGE:
                numbers.extend(range(start, end + 1))
                continue
            numbers.extend((start, end))
        else:
            numbers.append(int(part))
    return numbers


def check_citations(text: str, count: int) -> tuple[str, list[int], list[int]]:
    """
    Keep the citations that point at one of `count` passages.

    :returns: the text with valid citations only (one `[n]` per number), the cited numbers in order of first
        appearance, and the invalid numbers (sorted, without duplicates).
    """
    cited: list[int] = []
    invalid: set[int] = set()

    def keep_valid(match: re.Match[str]) -> str:
        numbers = numbers_in(match.group(1))
        valid = [n for n in numbers if 1 <= n <= count]
        invalid.update(n for n in numbers if not 1 <= n <= count)
        cited.extend(n for n in valid if n not in cited)
        return "".join(f"[{n}]" for n in dict.fromkeys(valid)) or _REMOVED

    checked = CITATION_GROUP.sub(keep_valid, text)
    checked = re.sub(f"[ \t]*{_REMOVED}", "", checked)
    return checked, cited, sorted(invalid)


class CitationStreamFilter:
    """
    Removes invalid citation numbers from answer text as it streams.

    A `[` that may start a citation is held back until its group closes (or clearly is not a citation), so a
    number that points at no passage never reaches the client.
    """

    def __init__(self, count: int) -> None:
        """
        :param count: How many passages the prompt numbered.
        """
        self.count = count
        self._pending = ""

    def feed(self, text: str) -> str:
        """The part of the text seen so far that can be shown now."""
        self._pending += text
        start = self._pending.rfind("[")
        if start >= 0 and _OPEN_GROUP.fullmatch(self._pending[start:]):
            start = len(self._pending[:start].rstrip(" \t"))  # the spaces before go if the group goes
            ready, self._pending = self._pending[:start], self._pending[start:]
        else:
            ready, self._pending = self._pending, ""
        return check_citations(ready, self.count)[0]

    def close(self) -> str:
        """What is still held back, at the end of the stream."""
        rest, self._pending = self._pending, ""
        return check_citations(rest, self.count)[0]
