import asyncio
import gc
import os
import threading

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.server import freeze_the_startup_heap, run_graph_threads_below_the_event_loop

pytestmark = pytest.mark.unit


def _priorities(nice: int) -> dict[str, int]:
    """CPU priorities of the loop's thread and of a thread `asyncio.to_thread` (Haystack's sync nodes) runs in."""
    app = FastAPI()

    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    @app.get("/priorities")
    async def priorities() -> dict[str, int]:
        return {"loop": priority(), "graph_thread": await asyncio.to_thread(priority)}

    run_graph_threads_below_the_event_loop(app, nice)
    with TestClient(app) as client:  # runs the lifespan
        return client.get("/priorities").json()


def test_graph_threads_run_below_the_event_loop():
    got = _priorities(5)
    assert got["graph_thread"] == min(19, got["loop"] + 5)


def test_zero_keeps_the_default_executor():
    got = _priorities(0)
    assert got["graph_thread"] == got["loop"]


def test_what_lives_at_start_up_is_frozen():
    app = FastAPI()
    long_lived = [{"chunk": i} for i in range(1000)]  # stands for models, graphs and in-memory indexes
    freeze_the_startup_heap(app)
    gc.unfreeze()
    try:
        with TestClient(app):  # runs the lifespan
            frozen = gc.get_freeze_count()
            assert frozen >= len(long_lived)
            assert not any(o is long_lived for o in gc.get_objects(generation=2))  # out of the collector's sight
    finally:
        gc.unfreeze()
