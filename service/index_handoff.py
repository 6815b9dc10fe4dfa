"""`rag index` while `rag serve` runs on the same data folder: the run is handed to the service.

The service (embedded mode, started by `rag serve`) takes indexing runs on `POST /local/index`, a route outside the
OpenAI surface and its authentication: only from this machine (a loopback caller, or one of the addresses it
serves on) and only with the token of its notice (`service.local_service`). It runs the same `Indexer` as `rag
index` (the `indexing` graph, the manifest) over the paths sent, as they are on this machine, with the store
instances its graphs answer from: each batch's chunks are searched from as soon as it is written. The run goes in a
thread of its own, `server.indexing_thread_nice` below the event loop, batch by batch, and the route streams its
progress and report as JSON lines. A caller that goes away stops the run after the batch in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from indexing.index_files import IndexProgress, IndexReport, shared_indexer
from service.local_service import TOKEN_ENV, TOKEN_HEADER, ServiceNotice, is_alive
from service.settings import Settings

logger = logging.getLogger("service.index_handoff")

INDEX_ROUTE = "/local/index"
HEARTBEAT_SECONDS = 2.0  # how often the route checks that its caller is still there while a batch runs
START_WAIT_SECONDS = 600.0  # how long `rag index` waits for a service that is starting (loading its graphs)


class HandOffError(Exception):
    """The service could not take the run, worded for the person who ran `rag index`."""


# ---- the service's side -------------------------------------------------------------------------------------------


def is_local_caller(client_host: str | None, server_host: str | None) -> bool:
    """A connection from this machine: a loopback peer, or a peer address that is the connection's own address."""
    if not client_host:
        return False
    try:
        client = ipaddress.ip_address(client_host)
    except ValueError:
        return False
    if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped is not None:
        client = client.ipv4_mapped
    return client.is_loopback or client_host == server_host


def refusal(
    client_host: str | None, server_host: str | None, sent_token: str | None, token: str | None
) -> tuple[int, str] | None:
    """Why a request to the indexing route is refused, as (status, message); None when it is accepted."""
    if not token:
        return 503, "This service was not started by `rag serve`: it takes no indexing runs."
    if not is_local_caller(client_host, server_host):
        return 403, "Indexing runs are taken from this machine only."
    if not sent_token:
        return 401, f"Missing the {TOKEN_HEADER} header: `rag index` reads the token from the service's notice."
    if not secrets.compare_digest(sent_token.encode(), token.encode()):
        return 403, f"Wrong {TOKEN_HEADER}: the service was restarted since its notice was read, or it is not yours."
    return None


def parse_index_request(body: Any) -> tuple[list[Path], bool]:
    """
    The paths and `prune` flag of a request body `{"paths": [absolute paths], "prune": bool}`.

    :raises ValueError: With the reason, when a field is wrong or a path does not exist on this machine.
    """
    if not isinstance(body, dict):
        raise ValueError('The body must be a JSON object {"paths": [...], "prune": false}.')
    unknown = set(body) - {"paths", "prune"}
    if unknown:
        raise ValueError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    paths, prune = body.get("paths"), body.get("prune", False)
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
        raise ValueError("'paths' must be a non-empty list of file or folder paths.")
    if not isinstance(prune, bool):
        raise ValueError("'prune' must be true or false.")
    resolved = []
    for text in paths:
        path = Path(text)
        if not path.is_absolute():
            raise ValueError(f"'{text}' is not an absolute path (the service's working folder is not yours).")
        if not path.exists():
            raise ValueError(f"No such file or folder: {text}")
        resolved.append(path.resolve())
    return resolved, prune


def _lower_priority(nice: int) -> None:
    with contextlib.suppress(OSError):  # a platform without per-thread priorities runs the thread as it is
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + nice))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": message})


def add_index_route(app: FastAPI, settings: Settings) -> None:
    """`POST /local/index`, for `rag index` on this machine (not in the OpenAPI schema; the gateway lets it check
    its caller itself: `Gateway.self_authenticating_paths`)."""
    token = os.environ.get(TOKEN_ENV)
    nice = settings.server.indexing_thread_nice

    @app.post(INDEX_ROUTE, include_in_schema=False)
    async def index_for_rag_index(request: Request) -> Response:
        server = request.scope.get("server") or (None, None)
        refused = refusal(
            request.client.host if request.client else None, server[0], request.headers.get(TOKEN_HEADER), token
        )
        if refused is not None:
            return _error(*refused)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "The body is not JSON.")
        try:
            paths, prune = parse_index_request(body)
        except ValueError as e:
            return _error(422, str(e))

        loop = asyncio.get_running_loop()
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def tell(event: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(events.put_nowait, event)

        def run() -> None:
            _lower_priority(nice)
            try:
                indexer = shared_indexer(settings)
                report = indexer.index(
                    paths, prune=prune, on_progress=lambda p: tell({"progress": p.to_dict()}), stop=stop
                )
            except Exception as e:  # the caller reads it; the log keeps the traceback
                logger.exception("indexing run for rag index failed")
                tell({"error": f"{type(e).__name__}: {e}"})
            else:
                tell({"report": report.to_dict()})

        threading.Thread(target=run, name="rag-index", daemon=True).start()

        async def stream() -> AsyncIterator[bytes]:
            finished = False
            try:
                while not finished:
                    try:
                        event = await asyncio.wait_for(events.get(), HEARTBEAT_SECONDS)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        continue
                    finished = "report" in event or "error" in event
                    yield (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")
            finally:
                if not finished:  # the caller went away: the run ends after the batch in progress
                    stop.set()

        return StreamingResponse(stream(), media_type="application/x-ndjson")

    gateway = getattr(app.state, "gateway", None)
    if gateway is not None:
        gateway.self_authenticating_paths.add(INDEX_ROUTE)


# ---- `rag index`'s side -------------------------------------------------------------------------------------------


def wait_until_serving(notice: ServiceNotice, on_wait: Callable[[], None], timeout: float = START_WAIT_SECONDS) -> bool:
    """
    Wait for a live service that does not answer yet (it is loading its graphs).

    :returns: True once it answers; False when its process ended meanwhile (`rag index` then indexes by itself).
    :raises HandOffError: When it neither answers nor ends within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            httpx.get(f"{notice.url}/health", timeout=5)
            return True
        except httpx.HTTPError:
            pass
        if not is_alive(notice):
            return False
        if time.monotonic() > deadline:
            raise HandOffError(
                f"the service running on this data folder (pid {notice.pid}) does not answer at {notice.url} "
                f"after {timeout:.0f} s; stop it to index by yourself"
            )
        if not told:
            on_wait()
            told = True
        time.sleep(1)


def index_through_service(
    notice: ServiceNotice, paths: list[Path], prune: bool, on_progress: Callable[[IndexProgress], None]
) -> IndexReport:
    """
    Have the running service index `paths` (absolute, on this machine) and follow its progress.

    :raises HandOffError: When the service refuses the run or the connection breaks.
    """
    body = {"paths": [str(p) for p in paths], "prune": prune}
    headers = {TOKEN_HEADER: notice.token}
    try:
        with httpx.stream(
            "POST",
            f"{notice.url}{INDEX_ROUTE}",
            json=body,
            headers=headers,
            timeout=httpx.Timeout(30.0, read=None),  # a batch may take minutes between two events
        ) as response:
            if response.status_code != 200:
                response.read()
                raise HandOffError(f"the service refused the run ({response.status_code}): {_detail(response)}")
            for line in response.iter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                if "progress" in event:
                    on_progress(IndexProgress.from_dict(event["progress"]))
                elif "report" in event:
                    return IndexReport.from_dict(event["report"])
                elif "error" in event:
                    raise HandOffError(f"the service's indexing run failed: {event['error']}")
    except httpx.HTTPError as e:
        raise HandOffError(f"lost the service at {notice.url} during the run ({type(e).__name__}: {e})") from None
    raise HandOffError("the service ended the run without a report (was it stopped?)")


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail"))
    except ValueError:
        return response.text[:200]
