"""The service's entrypoint: read `hayhooks.yml`, hand Hayhooks what it needs, deploy the graphs, serve.

Routes: everything Hayhooks serves for the deployed wrappers (`POST /rag/run`, `POST /chat/run`, `/v1/models`,
`/v1/chat/completions` with streaming, `/status`), plus `/draw/{name}`, which draws a graph offline (Hayhooks'
own route calls the mermaid.ink web service). Hayhooks' deploy/undeploy routes only with `server.admin_routes`.
In embedded mode, `POST /local/index` takes the runs of `rag index` on this machine (service/index_handoff.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Response

from service.answering import REWRITE_GRAPH
from service.draw import DrawingError, dot_source, mermaid_text, render
from service.pipeline_copies import skip_copying_immutables
from service.pipelines import PipelineDefinitionError, build_pipeline, list_pipeline_names, warm_up_service_pipeline
from service.settings import Settings, load_settings

# How often (seconds) the interpreter hands the GIL from a busy thread to another. The graphs' Python work (Qdrant
# Edge searches, fusion, Haystack's own) runs in threads; the event loop answering cached requests, health checks
# and streams waits for the GIL at every await. Python's 5 ms default lets a loaded graph thread add several
# switch intervals to each of those answers.
GIL_SWITCH_INTERVAL = 0.0005

MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml", "mmd": "text/plain; charset=utf-8"}


def configure_hayhooks(settings: Settings) -> None:
    """Set Hayhooks' own settings from `hayhooks.yml` (Hayhooks reads only `HAYHOOKS_*` variables)."""
    from hayhooks.settings import StartupDeployStrategy
    from hayhooks.settings import settings as hayhooks_settings

    hayhooks_settings.host = settings.server.host
    hayhooks_settings.port = settings.server.port
    # The graphs to deploy are chosen here (server.pipelines), not by scanning the folder at start-up.
    hayhooks_settings.pipelines_dir = ""
    hayhooks_settings.startup_deploy_strategy = StartupDeployStrategy.SEQUENTIAL
    hayhooks_settings.show_tracebacks = False
    hayhooks_settings.tracing_include_haystack_spans = settings.server.live_traces
    # Hayhooks allows every origin by default; here only the pages the operator lists may call from a browser.
    cors = settings.server.cors
    hayhooks_settings.cors_allow_origins = list(cors.allow_origins)
    hayhooks_settings.cors_allow_credentials = cors.allow_credentials
    hayhooks_settings.cors_allow_methods = ["GET", "POST", "DELETE", "OPTIONS"]
    hayhooks_settings.cors_allow_headers = ["authorization", "content-type", "x-api-key", "x-use-rag"]


def add_offline_draw_route(app: FastAPI, settings: Settings) -> None:
    """Put a Graphviz `/draw/{name}` in front of Hayhooks' own (which calls the mermaid.ink web service)."""

    @app.get("/draw/{pipeline_name}", tags=["pipelines"], summary="Draw a pipeline graph (PNG, SVG or Mermaid)")
    def draw(pipeline_name: str, fmt: str = "png") -> Response:
        if pipeline_name not in list_pipeline_names(settings):
            raise HTTPException(status_code=404, detail=f"No pipeline named '{pipeline_name}'")
        if fmt not in MEDIA_TYPES:
            raise HTTPException(status_code=400, detail=f"fmt must be one of {', '.join(MEDIA_TYPES)}")
        try:
            pipeline = build_pipeline(pipeline_name, settings)
            if fmt == "mmd":
                return Response(mermaid_text(pipeline), media_type=MEDIA_TYPES[fmt])
            return Response(render(dot_source(pipeline, pipeline_name), fmt), media_type=MEDIA_TYPES[fmt])
        except (PipelineDefinitionError, DrawingError) as e:
            raise HTTPException(status_code=500, detail=str(e)) from None

    # Routes match in order: move ours ahead of the router Hayhooks included.
    app.router.routes.insert(0, app.router.routes.pop())


# Hayhooks' routes that deploy or remove graphs and wrapper code sent in the request (hayhooks.server.routers).
ADMIN_ROUTE_PATHS = ("/deploy_files", "/deploy-yaml", "/undeploy/{pipeline_name}")


def remove_admin_routes(app: FastAPI) -> None:
    """Take Hayhooks' deploy/undeploy routers out of the app (and so out of its OpenAPI schema)."""
    from hayhooks.server.routers import deploy, undeploy

    admin_routers = (deploy.router, undeploy.router)

    def is_admin(route: Any) -> bool:
        # FastAPI >= 0.165 keeps an included router as one entry pointing at it; older ones copy its routes.
        return getattr(route, "original_router", None) in admin_routers or getattr(route, "path", None) in (
            ADMIN_ROUTE_PATHS
        )

    app.router.routes[:] = [route for route in app.router.routes if not is_admin(route)]


def create_service_app() -> FastAPI:
    """Build the FastAPI app with the configured graphs deployed (an app factory, for uvicorn workers too)."""
    from hayhooks import create_app
    from hayhooks.server.app import deploy_files_pipeline

    from service.askai import add_askai_routes
    from service.documents import add_document_routes
    from service.gateway import install_gateway
    from service.index_handoff import add_index_route
    from service.openai_chat import add_openai_routes

    settings = load_settings()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    skip_copying_immutables()  # Haystack's per-node copies of inputs and outputs, minus their slowest step
    configure_hayhooks(settings)
    app = create_app()
    if not settings.server.admin_routes:
        remove_admin_routes(app)
    add_offline_draw_route(app, settings)
    add_openai_routes(app, settings)  # /v1/models, /v1/chat/completions: model -> (graph, LLM backend)
    add_askai_routes(app, settings)  # POST /askai/query, WebSocket /askai/ws
    add_document_routes(app, settings)  # /documents: list, show, delete, reindex (service/documents.py)
    install_gateway(app, settings)  # auth, access scopes, rate limits, cache, access log, /health /ready /metrics
    if settings.stores.mode == "embedded":
        add_index_route(app, settings)  # POST /local/index: `rag index` hands its runs over (service/index_handoff.py)
    root = settings.resolve_path(settings.server.pipelines_dir)
    for name in settings.server.pipelines:
        folder = root / name
        if not (folder / "pipeline_wrapper.py").is_file():
            raise PipelineDefinitionError(
                f"server.pipelines names '{name}', but {folder}/pipeline_wrapper.py is missing"
            )
        deploy_files_pipeline(app, Path(folder))
    if "rag" in settings.server.pipelines and settings.generation.history.rewrite_questions:
        warm_up_service_pipeline(REWRITE_GRAPH, settings)  # a step of RAG answers, with no route of its own
    run_graph_threads_below_the_event_loop(app, settings.server.graph_thread_nice)
    freeze_the_startup_heap(app)
    return app


def run_graph_threads_below_the_event_loop(app: FastAPI, nice: int) -> None:
    """
    Give the event loop a thread pool whose threads run `nice` steps below the loop's own CPU priority.

    Haystack runs a graph's synchronous nodes (embedder, retrievers, cross-encoder) with `asyncio.to_thread`, in the
    loop's default executor. On a loaded machine those threads and the loop's thread share the cores: measured with
    /proc/<pid>/task/<tid>/schedstat during bench/load.py at N=32, the loop's thread waited for a core longer than it
    ran, and every graph hop and cached answer waited with it. A lower priority for the model threads lets the loop
    run first; their own wait is counted as model time, as a queue in front of a model server would be.
    """
    if nice == 0:
        return
    inner = app.router.lifespan_context
    workers = min(32, (os.cpu_count() or 1) + 4)  # ThreadPoolExecutor's own default

    def lower_priority() -> None:
        # Linux: a thread's nice is its own, inherited from the thread that created it (the loop's).
        with contextlib.suppress(OSError):  # a platform without per-thread priorities runs them as they are
            thread = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + nice))

    @contextlib.asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="graph", initializer=lower_priority)
        )
        async with inner(application) as state:
            yield state

    app.router.lifespan_context = lifespan


def freeze_the_startup_heap(app: FastAPI) -> None:
    """
    Once started, move every object alive (models, graphs, the stores' in-memory indexes) out of the collector's sight.

    CPython's full (generation 2) collection walks every tracked object. With the `rag` graph deployed the service
    holds ~600,000 of them for its whole life: a full collection takes 257 ms on an idle machine, and under load
    stopped every thread for 0.3 to 0.7 s (measured with `gc.callbacks` during bench/load.py at N=32), adding that
    to every request in flight. `gc.freeze()` moves them to the permanent generation: later collections walk only
    what requests allocate (a full one then takes microseconds). What was frozen is never freed, which is what
    long-lived objects are for; garbage from start-up is collected first.
    """
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        async with inner(application) as state:
            gc.collect()
            gc.freeze()
            yield state

    app.router.lifespan_context = lifespan


def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def serve(settings: Settings) -> None:
    """Run the service with uvicorn (several worker processes when `server.workers` > 1)."""
    import uvicorn

    from service.local_service import advertise

    os.environ.setdefault("HAYHOOKS_STARTUP_DEPLOY_STRATEGY", "sequential")
    # uvicorn (one process) stops on SIGTERM, then raises the signal again for the handler it found: let that be an
    # exit that runs `finally` blocks (the default one ends the process at once, the notice left behind).
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with advertise(settings):  # embedded mode: `rag index` finds the service in its data folder and hands it its runs
        uvicorn.run(
            "service.server:create_service_app",
            factory=True,
            host=settings.server.host,
            port=settings.server.port,
            workers=settings.server.workers,
            log_level="info",
            access_log=False,  # the gateway writes the access log: one JSON line per request, with its stage times
            ws_max_size=settings.request_limits.max_body_bytes,  # a socket message: no larger than a request body
        )
