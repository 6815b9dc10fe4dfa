"""
The gateway in front of the pipelines, as one ASGI middleware (inside Hayhooks' RequestIdMiddleware):

authenticate → access scope → rate limit → read and check the body → answer cache → the route → access log.
Streaming responses pass through untouched (no buffering); the stage timings come from Haystack's tracer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from components.retrievers.access_scope import close_scope, open_scope
from components.retrievers.retrieval_report import BACKEND_STATUS, close_report, open_report
from service.gateway import observability
from service.gateway.access import AccessDeniedError, scope_for, scope_key, store_filter_checks
from service.gateway.auth import Authenticator, AuthError
from service.gateway.cache import AnswerCache, answer_cache_key
from service.gateway.context import CURRENT_REQUEST, Principal, RequestContext
from service.gateway.rate_limit import RateLimiter
from service.gateway.redis_link import RedisLink
from service.gateway.validation import (
    CHAT_ROUTES,
    BadRequestError,
    is_question_route,
    parse_json_body,
    validate_body,
    wants_rag,
)
from service.openai_chat import THINKING_SUFFIX, open_webui_task

logger = logging.getLogger("service.gateway")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

STREAM_PATHS = ("/askai/ws",)
UPLOAD_PATHS = ("/upload/run",)  # the `upload` graph's route: multipart files, its own size limit and role
SSE_DONE = b"data: [DONE]"
BOTH_DOWN_RECHECK_SECONDS = 5.0  # after every retrieval store failed, RAG requests get 503 this long, then retry
METRIC_ROUTES = {
    "/health",
    "/ready",
    "/metrics",
    "/v1/models",
    "/models",
    "/status",
    "/askai/ws",
    "/openapi.json",
    "/docs",
}
WITH_BODY = {"POST", "PUT", "PATCH"}


class _ClientGoneError(Exception):
    pass


def route_label(path: str) -> str:
    """A bounded set of metric labels (unknown paths are `other`)."""
    if is_question_route(path) or path in METRIC_ROUTES:
        return path
    if path == "/documents":
        return path
    for prefix in ("/draw/", "/status/", "/chat/", "/documents/"):
        if path.startswith(prefix):
            return prefix + "*"
    return "other"


def mode_of(path: str, body: dict[str, Any], headers: dict[str, str]) -> str:
    """
    RAG, plain chat, or an Open WebUI background task, as the routes decide it (`use_rag` in the body wins over
    the `x-use-rag` header; `/rag/run` always retrieves). The body was validated: its flags are readable.
    """
    if path in CHAT_ROUTES and open_webui_task(body.get("messages")) is not None:
        return "task"
    if path in CHAT_ROUTES and body.get("model") in ("chat", "chat" + THINKING_SUFFIX):
        return "chat"
    if path == "/rag/run":
        return "rag"
    return "rag" if wants_rag(body, headers) else "chat"


async def send_json(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    """An error the caller can read: FastAPI's `detail` and OpenAI's `error` object."""
    kind = (
        "rate_limit_error"
        if status == 429
        else "authentication_error"
        if status in {401, 403}
        else ("invalid_request_error" if status < 500 else "service_unavailable")
    )
    body = json.dumps({"detail": message, "error": {"message": message, "type": kind, "code": status}}).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive, limit: int) -> bytes:
    """:raises BadRequestError: (413) past `limit` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGoneError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BadRequestError(413, f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def headers_too_large(scope: Scope, limits: Any) -> str | None:
    """The message of a 431 when the request's headers together, or its credentials, are past the limits."""
    raw = scope.get("headers", [])
    if sum(len(k) + len(v) + 4 for k, v in raw) > limits.max_header_bytes:
        return f"The request headers are larger than {limits.max_header_bytes} bytes."
    return None


def client_address(scope: Scope) -> str:
    """The caller's address (uvicorn puts a trusted proxy's X-Forwarded-For there when it is configured to)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def same_origin(origin: str, headers: dict[str, str]) -> bool:
    host = headers.get("host", "")
    return bool(host) and origin.split("://", 1)[-1] == host


def origin_refusal(headers: dict[str, str], allowed: set[str]) -> str | None:
    """Why a browser page from another origin may not open this socket (None: no Origin, the same one, or listed)."""
    origin = headers.get("origin")
    if origin is None or origin in allowed or same_origin(origin, headers):
        return None
    return f"Origin {origin[:60]} is not allowed (server.cors.allow_origins)"


def body_type_refusal(path: str, headers: dict[str, str]) -> str | None:
    """
    The message of a 415 for a body sent with the wrong type: JSON routes take `application/json` only (a page of
    another site can send `text/plain` without a CORS preflight), the upload route `multipart/form-data`.
    """
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if path in UPLOAD_PATHS:
        if content_type != "multipart/form-data":
            return "Send the files as multipart/form-data (form fields named 'files')."
        return None
    if content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    ):
        return None
    return f"The request body must be JSON sent as 'Content-Type: application/json' (got {content_type or 'none'!r})."


def degraded_note(backends: list[str]) -> str:
    names = {"bm25": "la recherche par mots-clés (BM25)", "dense": "la recherche sémantique"}
    missing = " et ".join(names.get(b, b) for b in backends)
    return f"\n\n⚠️ Réponse en mode dégradé : {missing} était indisponible ; d'autres sources ont pu être manquées."


def degraded_json(body: bytes, backends: list[str]) -> bytes:
    """Say in a JSON answer that retrieval was degraded: a `degraded` field, and a note in an OpenAI answer's text."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict):
        return body
    data["degraded"] = backends
    for choice in data.get("choices") or []:
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            message["content"] += degraded_note(backends)
    if isinstance(data.get("answer"), str):
        data["answer"] += degraded_note(backends)
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def degraded_sse(backends: list[str]) -> bytes:
    """The same note as one more OpenAI stream chunk, sent before the stream's last bytes."""
    chunk = {
        "object": "chat.completion.chunk",
        "degraded": backends,
        "choices": [{"index": 0, "delta": {"content": degraded_note(backends)}, "finish_reason": None}],
    }
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()


class Gateway:
    """Everything the middleware needs, built once per worker from `hayhooks.yml`."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.authenticator = Authenticator(settings.auth)
        uses_redis = "redis" in {settings.cache.backend, settings.rate_limit.backend}
        self.redis = RedisLink(settings.redis) if uses_redis else None
        self.limiter = RateLimiter(settings.rate_limit, self.redis)
        self.cache = AnswerCache(settings.cache, self.redis, settings.resolve_path(settings.stores.data_dir))
        self.filter_checks = store_filter_checks(settings.stores.mode)  # a filter no store can apply: a 422
        self.allowed_origins = set(settings.server.cors.allow_origins)
        # Routes that check their caller themselves, outside the users' authentication and limits (the local
        # indexing route: service/index_handoff.py).
        self.self_authenticating_paths: set[str] = set()


class GatewayMiddleware:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = (scope.get("state") or {}).get("request_id") or uuid.uuid4().hex[:8]
        access, access_token = open_scope()  # no document visible until _authorise grants the caller's scope
        ctx = RequestContext(request_id, scope.get("method", "WS"), scope["path"], access=access)
        ctx_token = CURRENT_REQUEST.set(ctx)
        report, report_token = open_report()
        status = [0]
        try:
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, send, ctx)
                status[0] = 101
            else:
                await self._http(scope, receive, send, ctx, report, status)
        except _ClientGoneError:
            status[0] = 499
        finally:
            observability.record(
                ctx,
                route_label(ctx.path),
                status[0] or 500,
                sorted(report.failed),
                self.gateway.settings.logging.access_log,
            )
            close_scope(access_token)
            close_report(report_token)
            CURRENT_REQUEST.reset(ctx_token)

    def _authorise(self, ctx: RequestContext, headers: dict[str, str]) -> tuple[int, str] | None:
        """Set the principal and its scope on `ctx`; :returns: (status, message) when the request is refused."""
        auth = self.gateway.authenticator
        try:
            principal = auth.authenticate(headers)
        except AuthError as e:
            observability.AUTH_FAILURES.labels("401").inc()
            return 401, f"Not authenticated: {e.reason}."
        ctx.principal = principal
        if any(ctx.path.startswith(p) for p in auth.settings.admin_path_prefixes) and (
            auth.settings.admin_role not in principal.roles
        ):
            observability.AUTH_FAILURES.labels("403").inc()
            return 403, f"This route needs the '{auth.settings.admin_role}' role."
        if ctx.path in UPLOAD_PATHS and auth.settings.upload_role and auth.settings.upload_role not in principal.roles:
            observability.AUTH_FAILURES.labels("403").inc()
            return 403, f"Uploading documents needs the '{auth.settings.upload_role}' role."
        try:
            ctx.access.grant(scope_for(principal, self.gateway.settings.access))
        except AccessDeniedError as e:
            observability.AUTH_FAILURES.labels("403").inc()
            return 403, f"Forbidden: {e}."
        return None

    async def _identify(self, headers: dict[str, str]) -> Principal | None:
        """The caller of a public route when its credentials are good, else None (a public route refuses no one)."""
        auth = self.gateway.authenticator
        if not auth.dev_mode and not (headers.get("authorization") or headers.get("x-api-key")):
            return None
        try:
            if auth.jwt is not None and not auth.dev_mode:
                return await asyncio.to_thread(auth.authenticate, headers)  # a JWKS fetch blocks
            return auth.authenticate(headers)
        except AuthError:
            return None

    async def _authorise_off_loop(self, ctx: RequestContext, headers: dict[str, str]) -> tuple[int, str] | None:
        auth = self.gateway.authenticator
        if auth.jwt is not None and not auth.dev_mode and headers.get("authorization", "").count(".") == 2:
            return await asyncio.to_thread(self._authorise, ctx, headers)  # a JWKS fetch blocks
        return self._authorise(ctx, headers)

    async def _http(  # noqa: PLR0911, PLR0912, PLR0915, PLR0917 (the request's path through the gateway, in order)
        self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext, report: Any, status: list[int]
    ) -> None:
        gw = self.gateway

        async def refuse(code: int, message: str, headers: dict[str, str] | None = None) -> None:
            status[0] = code
            await send_json(send, code, message, headers)

        async def send_through(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        too_large = headers_too_large(scope, gw.settings.request_limits)
        if too_large:
            await refuse(431, too_large)
            return
        if ctx.path in gw.self_authenticating_paths:
            await self.app(scope, receive, send_through)
            return
        address = f"ip:{client_address(scope)}"
        per_address = gw.settings.rate_limit.unauthenticated_per_minute
        if gw.authenticator.is_public(ctx.path) or ctx.method == "OPTIONS":
            verdict = await gw.limiter.check_request(address, per_address)
            if not verdict.allowed:
                observability.RATE_LIMITED.labels("address").inc()
                await refuse(
                    429, f"Rate limit: {verdict.reason} from this address.", {"retry-after": str(verdict.retry_after)}
                )
                return
            if ctx.method != "OPTIONS":
                ctx.principal = await self._identify(headers)  # a public route tells some callers more (/ready)
            await self.app(scope, receive, send_through)
            return
        verdict = await gw.limiter.exhausted(address, per_address)  # before its credentials are even read
        if not verdict.allowed:
            observability.RATE_LIMITED.labels("address").inc()
            message = f"Rate limit: {verdict.reason} without valid credentials from this address."
            await refuse(429, message, {"retry-after": str(verdict.retry_after)})
            return
        refused = await self._authorise_off_loop(ctx, headers)
        if refused is not None:
            if refused[0] == 401:
                await gw.limiter.check_request(address, per_address)  # a failed authentication counts
            extra = {"www-authenticate": 'Bearer realm="rag"'} if refused[0] == 401 else None
            await refuse(*refused, headers=extra)
            return
        assert ctx.principal is not None
        who = f"{ctx.principal.kind}:{ctx.principal.name}"
        verdict = await gw.limiter.check_request(who)
        if not verdict.allowed:
            observability.RATE_LIMITED.labels("requests").inc()
            await refuse(429, f"Rate limit: {verdict.reason}.", {"retry-after": str(verdict.retry_after)})
            return

        body = b""
        if ctx.method in WITH_BODY:
            declared = headers.get("content-length", "")
            sends_body = (declared.isdigit() and int(declared) > 0) or "chunked" in headers.get("transfer-encoding", "")
            wrong_type = body_type_refusal(ctx.path, headers) if sends_body else None
            if wrong_type:
                await refuse(415, wrong_type)
                return
            limits = gw.settings.request_limits
            limit = limits.max_upload_bytes if ctx.path in UPLOAD_PATHS else limits.max_body_bytes
            try:
                if declared.isdigit() and int(declared) > limit:
                    raise BadRequestError(413, f"The request body is larger than {limit} bytes.")
                body = await read_body(receive, limit)
            except BadRequestError as e:
                await refuse(e.status, e.message)
                return
        parsed: Any = None
        if ctx.method == "POST" and is_question_route(ctx.path):
            try:
                parsed = parse_json_body(body)
                validate_body(ctx.path, parsed, gw.settings.request_limits, gw.settings.access, gw.filter_checks)
                ctx.mode = mode_of(ctx.path, parsed, headers)  # a bad x-use-rag header: 422 here
            except BadRequestError as e:
                await refuse(e.status, e.message)
                return
            ctx.model = (
                parsed.get("model") if isinstance(parsed.get("model"), str) else ctx.path.strip("/").split("/")[0]
            )
            ctx.stream = parsed.get("stream") is True
            if (
                ctx.mode == "rag"
                and BACKEND_STATUS
                and all(s.down_recently(BOTH_DOWN_RECHECK_SECONDS) for s in BACKEND_STATUS.values())
            ):
                await refuse(503, "Every search backend is down; retry shortly.", {"retry-after": "5"})
                return

        cache_key = None
        if parsed is not None and not ctx.stream and gw.cache.cacheable(ctx.method, ctx.path):
            cache_key = answer_cache_key(
                ctx.path, parsed, ctx.mode or "rag", scope_key(ctx.access.filters), gw.cache.generation.current()
            )
            hit = await gw.cache.get(cache_key)
            if hit is not None:
                ctx.cache = "hit"
                observability.CACHE.labels("hit").inc()
                content_type, cached = hit
                status[0] = 200
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", content_type.encode("latin-1")),
                            (b"content-length", str(len(cached)).encode()),
                            (b"x-cache", b"hit"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": cached})
                return
            ctx.cache = "miss"
            observability.CACHE.labels("miss" if gw.cache.redis is None or gw.cache.redis.available else "error").inc()

        streaming = ctx.stream or ctx.path.startswith(STREAM_PATHS)
        slot_in_redis = False
        if streaming:
            verdict, slot_in_redis = await gw.limiter.open_stream(who)
            if not verdict.allowed:
                observability.RATE_LIMITED.labels("streams").inc()
                await refuse(429, f"Rate limit: {verdict.reason}.", {"retry-after": str(verdict.retry_after)})
                return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        captured: list[bytes] = []
        content_type = [""]
        replace = [False]

        held_start: list[Message] = []  # a JSON answer served degraded: held until its body is rewritten
        held_body: list[bytes] = []
        noted = [False]  # a degraded stream's note was sent

        async def send_wrapped(message: Message) -> None:  # noqa: PLR0912
            if message["type"] == "http.response.start":
                code = message["status"]
                if code >= 500 and report.unavailable:
                    replace[0] = True
                    await refuse(503, "Every search backend is down; retry shortly.", {"retry-after": "5"})
                    return
                status[0] = code
                extra = []
                if report.failed:
                    extra.append((b"x-retrieval-degraded", ",".join(sorted(report.failed)).encode()))
                if cache_key is not None:
                    extra.append((b"x-cache", b"miss"))
                for k, v in message.get("headers", []):
                    if k.lower() == b"content-type":
                        content_type[0] = v.decode("latin-1")
                message = {**message, "headers": [*message.get("headers", []), *extra]}
                if report.failed and content_type[0].startswith("application/json"):
                    held_start.append(message)
                    return
            elif message["type"] == "http.response.body":
                if replace[0]:
                    return
                if cache_key is not None and status[0] == 200:
                    captured.append(message.get("body", b""))
                if held_start:
                    held_body.append(message.get("body", b""))
                    if message.get("more_body", False):
                        return
                    body = degraded_json(b"".join(held_body), sorted(report.failed))
                    start = held_start.pop()
                    headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                    await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
                    message = {"type": "http.response.body", "body": body}
                elif report.failed and "text/event-stream" in content_type[0] and not noted[0]:
                    chunk = message.get("body", b"")
                    if chunk.startswith(SSE_DONE) or not message.get("more_body"):  # the note goes before the end
                        noted[0] = True
                        await send(
                            {
                                "type": "http.response.body",
                                "body": degraded_sse(sorted(report.failed)),
                                "more_body": True,
                            }
                        )
            await send(message)

        try:
            await self.app(scope, replay, send_wrapped)
        except Exception:
            if not report.unavailable or status[0]:
                raise
            await refuse(503, "Every search backend is down; retry shortly.", {"retry-after": "5"})
        finally:
            if streaming:
                await gw.limiter.close_stream(who, slot_in_redis)
        if cache_key is not None and status[0] == 200 and not report.failed and not replace[0]:
            await gw.cache.put(cache_key, content_type[0] or "application/json", b"".join(captured))

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
        """
        WebSockets: credentials from the headers, or an `access_token` query parameter (browsers set no headers).
        Every message then passes the same gate as an HTTP request (`_socket_message_refusal`), and the socket is
        closed when its token expires.
        """
        gw = self.gateway
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        too_large = headers_too_large(scope, gw.settings.request_limits)
        if too_large:
            await send({"type": "websocket.close", "code": 1009, "reason": too_large[:120]})
            return
        wrong_origin = origin_refusal(headers, gw.allowed_origins)
        if wrong_origin:
            await send({"type": "websocket.close", "code": 1008, "reason": wrong_origin[:120]})
            return
        address = f"ip:{client_address(scope)}"
        per_address = gw.settings.rate_limit.unauthenticated_per_minute
        if not (await gw.limiter.exhausted(address, per_address)).allowed:
            await send({"type": "websocket.close", "code": 1013, "reason": "too many requests from this address"})
            return
        token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("access_token", [None])[0]
        if token and "authorization" not in headers:
            headers["authorization"] = f"Bearer {token}"
        refused = await self._authorise_off_loop(ctx, headers)
        if refused is not None:
            if refused[0] == 401:
                await gw.limiter.check_request(address, per_address)
            await send({"type": "websocket.close", "code": 1008, "reason": refused[1][:120]})
            return
        assert ctx.principal is not None
        who = f"{ctx.principal.kind}:{ctx.principal.name}"
        verdict, in_redis = await gw.limiter.open_stream(who)
        if not verdict.allowed:
            await send({"type": "websocket.close", "code": 1013, "reason": verdict.reason})
            return
        ctx.stream = True
        expires_at = ctx.principal.expires_at

        async def reply(payload: dict[str, Any]) -> None:
            await send({"type": "websocket.send", "text": json.dumps(payload, ensure_ascii=False)})

        async def gated_receive() -> Message:
            while True:
                left = None if expires_at is None else expires_at - time.time()
                try:
                    if left is not None and left <= 0:
                        raise TimeoutError
                    message = await (receive() if left is None else asyncio.wait_for(receive(), left))
                except TimeoutError:
                    await send({"type": "websocket.close", "code": 1008, "reason": "token expired"})
                    return {"type": "websocket.disconnect", "code": 1008}
                if message["type"] != "websocket.receive":
                    return message
                problem = await self._socket_message_refusal(message, who)
                if problem is None:
                    return message
                await reply({"type": "error", "status": problem[0], "message": problem[1]})
                await reply({"type": "done"})

        try:
            await self.app(scope, gated_receive, send)
        finally:
            await gw.limiter.close_stream(who, in_redis)

    async def _socket_message_refusal(self, message: Message, who: str) -> tuple[int, str] | None:
        """A socket message gets what an HTTP question gets: size limit, JSON, validation, the rate limit."""
        gw = self.gateway
        limits = gw.settings.request_limits
        text = message.get("text")
        if text is None:
            return 400, "Send each question as a JSON text message."
        if len(text.encode("utf-8", "surrogatepass")) > limits.max_body_bytes:
            return 413, f"The message is larger than {limits.max_body_bytes} bytes."
        try:
            parsed = parse_json_body(text.encode("utf-8", "surrogatepass"))
            validate_body("/askai/query", parsed, limits, gw.settings.access, gw.filter_checks)
            if not isinstance(parsed.get("question"), str):
                raise BadRequestError(422, "'question' is missing.")
        except BadRequestError as e:
            return e.status, e.message
        verdict = await gw.limiter.check_request(who)
        if not verdict.allowed:
            observability.RATE_LIMITED.labels("requests").inc()
            return 429, f"Rate limit: {verdict.reason}; retry in {verdict.retry_after} s."
        return None
