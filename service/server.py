"""The service's entrypoint: read `hayhooks.yml`, hand Hayhooks what it needs, deploy the graphs, serve.

Routes: everything Hayhooks serves for the deployed wrappers (`POST /rag/run`, `POST /chat/run`, `/v1/models`,
`/v1/chat/completions` with streaming, `/status`), plus `/draw/{name}`, which draws a graph offline (Hayhooks'
own route calls the mermaid.ink web service).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fastapi import FastAPI, HTTPException, Response

from service.draw import DrawingError, dot_source, mermaid_text, render
from service.pipelines import PipelineDefinitionError, build_pipeline, list_pipeline_names
from service.settings import Settings, load_settings

# How often (seconds) the interpreter hands the GIL from a busy thread to another. The graphs' Python work (Qdrant
# local mode, fusion, Haystack's own) runs in threads; the event loop answering cached requests, health checks
# and streams waits for the GIL at every await. Python's 5 ms default lets a loaded graph thread add several
# switch intervals to each of those answers.
GIL_SWITCH_INTERVAL = 0.001

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


def create_service_app() -> FastAPI:
    """Build the FastAPI app with the configured graphs deployed (an app factory, for uvicorn workers too)."""
    from hayhooks import create_app
    from hayhooks.server.app import deploy_files_pipeline

    from service.askai import add_askai_routes
    from service.gateway import install_gateway
    from service.openai_chat import add_openai_routes

    settings = load_settings()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    configure_hayhooks(settings)
    app = create_app()
    add_offline_draw_route(app, settings)
    add_openai_routes(app, settings)  # /v1/models, /v1/chat/completions: model -> (graph, LLM backend)
    add_askai_routes(app, settings)  # POST /askai/query, WebSocket /askai/ws
    install_gateway(app, settings)  # auth, access scopes, rate limits, cache, access log, /health /ready /metrics
    root = settings.resolve_path(settings.server.pipelines_dir)
    for name in settings.server.pipelines:
        folder = root / name
        if not (folder / "pipeline_wrapper.py").is_file():
            raise PipelineDefinitionError(
                f"server.pipelines names '{name}', but {folder}/pipeline_wrapper.py is missing"
            )
        deploy_files_pipeline(app, Path(folder))
    return app


def serve(settings: Settings) -> None:
    """Run the service with uvicorn (several worker processes when `server.workers` > 1)."""
    import uvicorn

    os.environ.setdefault("HAYHOOKS_STARTUP_DEPLOY_STRATEGY", "sequential")
    uvicorn.run(
        "service.server:create_service_app",
        factory=True,
        host=settings.server.host,
        port=settings.server.port,
        workers=settings.server.workers,
        log_level="info",
    )
