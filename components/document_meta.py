"""What identifies the document a passage comes from, and what its metadata says."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from haystack import Document

TITLE_KEYS = ("title",)
SOURCE_KEYS = ("source", "file_path", "file_name")


def first_value(meta: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """The value of the first of `keys` that the metadata holds (not empty), else None."""
    return next((meta[k] for k in keys if meta.get(k) not in (None, "", [])), None)


def as_strings(value: object) -> list[str]:
    """A metadata value as a list of non-empty strings (a list of tags, a single string, a number)."""
    items: Iterable[object] = value if isinstance(value, list | tuple | set) else [value]
    return [str(v).strip() for v in items if v is not None and str(v).strip()]


def document_key(document: Document) -> str:
    """What identifies the document a passage comes from."""
    return str(first_value(document.meta, SOURCE_KEYS) or first_value(document.meta, TITLE_KEYS) or document.id)


def passage_texts(documents: list[Document]) -> list[str]:
    """Each passage as the model reads it and as it is checked: its title, then its text."""
    return [f"{doc.meta.get('title') or ''}\n{doc.content or ''}" for doc in documents]


def document_texts(documents: list[Document]) -> dict[str, str]:
    """
    What each document of the passages says about itself, by `document_key` in order: its key (file name), its
    metadata values (title, client, affair code) and the text of its passages among `documents`.
    """
    parts: dict[str, list[str]] = {}
    for document in documents:
        key = document_key(document)
        if key not in parts:
            parts[key] = [key, *(v for value in document.meta.values() for v in as_strings(value))]
        parts[key].append(document.content or "")
    return {key: "\n".join(texts) for key, texts in parts.items()}
