"""Light components that run on the event loop in async graphs instead of in a worker thread."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def runs_inline(cls: type[T] | None = None, *, when: Callable[..., bool] | None = None) -> Any:
    """
    Give a component whose `run` is light (well under a millisecond of pure Python) a `run_async` that calls `run`
    directly, so that `Pipeline.run_async_generator` awaits it on the event loop instead of handing it to a thread.

    Under load, a thread hop for sub-millisecond work costs more than the work: the hop waits for a free worker
    thread and for the GIL behind the embedding and retrieval threads of other requests (measured with
    bench/load.py as the "graph glue components" share of the service's overhead). Apply it below `@component`;
    the signature and output types of `run` are copied, as Haystack requires them equal.

    `@runs_inline(when=predicate)` is for a component that is light only sometimes: `predicate(component, **inputs)`
    true runs it on the loop, false in a worker thread (what Haystack does for a sync component).
    """

    def decorate(component_cls: type[T]) -> type[T]:
        run = component_cls.run  # type: ignore[attr-defined]

        async def run_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            if when is None or when(self, *args, **kwargs):
                return self.run(*args, **kwargs)
            return await asyncio.to_thread(self.run, *args, **kwargs)

        functools.update_wrapper(run_async, run)
        run_async.__name__ = run_async.__qualname__ = "run_async"
        component_cls.run_async = run_async  # type: ignore[attr-defined]
        return component_cls

    return decorate if cls is None else decorate(cls)
