"""
Haystack's copies of every component's inputs and outputs, without the step that made them slow.

A graph run copies each node's inputs before running it and each node's outputs before yielding them
(`haystack.core.pipeline.utils._deepcopy_with_exceptions`), on the event loop. That function walks lists, tuples,
sets and dicts item by item and asks of every other item `isinstance(item, (Component, Tool, Toolset))`; `Component`
is a runtime-checkable Protocol, and on Python 3.11 each such check walks the Protocol's attributes (~15 µs). A query
embedding is a list of 384 floats: copying it took 7.3 ms, twice per question (the embedder's output, the dense
retriever's input), while every other request waited for the loop.

`skip_copying_immutables()` puts a front in place of that function: strings, numbers, booleans, bytes and None are
returned as they are (what `copy.deepcopy` returns for them anyway), a `Document` is copied field by field (it is
never a Component); everything else goes to Haystack's own function, whose recursion comes back through the front.
Results are the same objects or equal copies as before. Measured: the 384-float embedding 7.3 → 0.03 ms; 50
retrieved chunks of the sample index 1.07 ms with `copy.deepcopy` per Document, 0.29 ms field by field.

A chunk's metadata is JSON-like (~25 fields: strings, numbers, lists of strings); `copy.deepcopy` spends ~60 calls
on it, each with a memo dictionary. `copy_document` rebuilds dicts, lists and tuples of such values directly and
hands anything else (a `ByteStream`, a `SparseEmbedding`, a datetime, a custom object) to `copy.deepcopy`. One
difference, harmless for a copy that nobody shares: two fields holding the same list get two equal lists.
"""

from __future__ import annotations

import copy
from typing import Any

from haystack import Document

IMMUTABLE_TYPES = frozenset({str, int, float, bool, bytes, type(None)})


def copy_value(value: Any) -> Any:
    """A deep copy of a JSON-like value (dicts, lists, tuples of immutables); anything else through `copy.deepcopy`."""
    kind = value.__class__
    if kind in IMMUTABLE_TYPES:
        return value
    if kind is dict:
        return {key: copy_value(item) for key, item in value.items()}
    if kind is list:
        return [copy_value(item) for item in value]
    if kind is tuple:
        return tuple(copy_value(item) for item in value)
    return copy.deepcopy(value)


def copy_document(doc: Document) -> Document:
    """A deep copy of a `Document`, equal to `copy.deepcopy(doc)`, field by field."""
    copied = object.__new__(Document)
    copied.__dict__.update({name: copy_value(value) for name, value in doc.__dict__.items()})
    return copied


def skip_copying_immutables() -> None:
    """Install the front (idempotent); a Haystack without `_deepcopy_with_exceptions` is left as it is."""
    from haystack.core.pipeline import base, pipeline, utils  # noqa: PLC0415 (Haystack's own modules, patched)

    haystacks_copy = getattr(utils, "_deepcopy_with_exceptions", None)
    if haystacks_copy is None or getattr(haystacks_copy, "skips_immutables", False):
        return

    def deepcopy_with_exceptions(obj: Any) -> Any:
        kind = obj.__class__
        if kind in IMMUTABLE_TYPES:
            return obj
        if kind is Document:
            try:
                return copy_document(obj)
            except Exception:  # as Haystack's own: an object that cannot be copied is passed on as it is
                return obj
        return haystacks_copy(obj)

    deepcopy_with_exceptions.skips_immutables = True  # type: ignore[attr-defined]
    deepcopy_with_exceptions.haystacks_copy = haystacks_copy  # type: ignore[attr-defined]
    deepcopy_with_exceptions.__doc__ = haystacks_copy.__doc__
    for module in (utils, base, pipeline):
        if hasattr(module, "_deepcopy_with_exceptions"):
            module._deepcopy_with_exceptions = deepcopy_with_exceptions
