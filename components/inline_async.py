"""Light components that run on the event loop in async graphs instead of in a worker thread."""

from __future__ import annotations

import functools
from typing import Any, TypeVar

T = TypeVar("T")


def runs_inline(cls: type[T]) -> type[T]:
    """
    Give a component whose `run` is light (well under a millisecond of pure Python) a `run_async` that calls `run`
    directly, so that `Pipeline.run_async_generator` awaits it on the event loop instead of handing it to a thread.

    Under load, a thread hop for sub-millisecond work costs more than the work: the hop waits for a free worker
    thread and for the GIL behind the embedding and retrieval threads of other requests (measured with
    bench/load.py as the "graph glue components" share of the service's overhead). Apply it below `@component`;
    the signature and output types of `run` are copied, as Haystack requires them equal.
    """
    run = cls.run  # type: ignore[attr-defined]

    async def run_async(self: Any, *args: Any, **kwargs: Any) -> Any:
        return run(self, *args, **kwargs)

    functools.update_wrapper(run_async, run)
    run_async.__name__ = run_async.__qualname__ = "run_async"
    cls.run_async = run_async  # type: ignore[attr-defined]
    return cls
