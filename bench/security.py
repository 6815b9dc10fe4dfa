"""
A security probe: the service started in `auth.mode: required` behind a test issuer, attacked; one table row per
attack with the status expected and the status got. Exit status 1 when any attack was not refused as expected.

    .venv/bin/python bench/security.py                       # the embedded index of hayhooks.yml (var/data)
    .venv/bin/python bench/security.py --data-dir DIR --config my-hayhooks.yml

The probe is its own issuer: it signs tokens with an RSA key it generates and serves the JWKS on 127.0.0.1. The
service under test is `rag serve` on a copy of the configuration given (stores, models and LLM as written there),
with `auth`, `access` and `rate_limit` replaced by the probe's: JWTs from the probe's issuer, the role `admin` sees
every document, the role `conducteur` the affairs listed in its token's `ao_ids`. The LLM answers RAG questions with
at most a few tokens (what is probed is which passages are retrieved, not what is written).

Attacks: no token, malformed, `alg: none`, HS256 signed with the issuer's public key, unknown `kid` (a burst of
them: the JWKS is fetched again at most once per cooldown), expired, not yet valid, wrong issuer, wrong audience, a
claim changed after signing, an oversized token, an oversized header, a filter that widens the caller's scope, the
same question cached for another user, Hayhooks' admin routes and the OpenAPI schema, the WebSocket without a token,
a burst past the rate limit, `/ready` without credentials; filters no store can apply (a 422, streamed or not),
a cross-origin preflight and a JSON body sent as text/plain, a WebSocket from another origin, socket messages with a
forbidden filter, an oversized history, past the rate limit, a socket outliving its token; uploads without the role,
front matter claiming another affair, the same name from two users, a half-refused batch, an ordinary PDF past the
JSON limit and a body past the upload limit; conversion bombs (a CSV with a very wide first row, a YAML alias bomb in
front matter, a DOCX that inflates past the bound) with the answers a normal client gets meanwhile; failed
authentications from one address past its limit. Streams end with `data: [DONE]`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import io
import json
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.served import ServedCopy, base_config, free_port  # noqa: E402

ISSUER = "https://issuer.probe.test/realms/btp"
AUDIENCE = "rag-service"
JWKS_COOLDOWN_SECONDS = 10.0
REQUESTS_PER_MINUTE = 30
UNAUTHENTICATED_PER_MINUTE = 60  # per address; the probe's own refused tokens count too: its attack runs last
IN_SCOPE_QUESTION = "Quel est le montant HT du marché de l'affaire A2458 ?"
OUT_OF_SCOPE_QUESTION = "Combien de réserves ont été émises à la réception du collecteur B1037 ?"
SCOPE_RULES = [
    {"name": "admins", "roles": ["admin"], "filters": None},
    {
        "name": "own-affairs",
        "roles": ["conducteur"],
        "filters": {"field": "meta.code_affaire", "operator": "in", "value": {"claim": "ao_ids"}},
    },
]


# ------------------------------------------------------------------------------------------------- the issuer
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TestIssuer:
    """Signing keys and the JWKS an identity provider would publish; `serve()` puts the JWKS on 127.0.0.1."""

    def __init__(self, issuer: str = ISSUER, audience: str = AUDIENCE) -> None:
        self.issuer, self.audience = issuer, audience
        self.private: dict[str, Any] = {}
        self.published: list[str] = []
        self.fetches = 0  # JWKS requests served

    def add_rsa(self, kid: str, publish: bool = True) -> TestIssuer:
        self.private[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.append(kid)
        return self

    def add_ec(self, kid: str) -> TestIssuer:
        self.private[kid] = ec.generate_private_key(ec.SECP256R1())
        self.published.append(kid)
        return self

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in self.published:
            key = self.private[kid]
            if isinstance(key, rsa.RSAPrivateKey):
                jwk, alg = json.loads(RSAAlgorithm.to_jwk(key.public_key())), "RS256"
            else:
                jwk, alg = json.loads(ECAlgorithm.to_jwk(key.public_key())), "ES256"
            keys.append({**jwk, "alg": alg, "kid": kid, "use": "sig"})
        return {"keys": keys}

    def claims(self, **claims: Any) -> dict[str, Any]:
        now = int(time.time())
        payload = {"iss": self.issuer, "aud": self.audience, "sub": "u-1", "iat": now, "exp": now + 300, **claims}
        return {k: v for k, v in payload.items() if v is not None}

    def token(self, kid: str = "k1", *, key_of: str | None = None, **claims: Any) -> str:
        key = self.private[key_of or kid]
        alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(self.claims(**claims), key, algorithm=alg, headers={"kid": kid})

    def user(self, name: str, roles: list[str], ao_ids: list[str] | None = None, **claims: Any) -> str:
        """A Keycloak-style user token (the claim paths of `auth.jwt.claims` by default)."""
        return self.token(
            sub=name, preferred_username=name, realm_access={"roles": roles}, ao_ids=ao_ids or [], **claims
        )

    def public_pem(self, kid: str = "k1") -> bytes:
        return (
            self.private[kid]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )

    @contextmanager
    def serve(self) -> Iterator[str]:
        """:yields: the JWKS URL, served by a real HTTP server on 127.0.0.1 (each GET counted in `fetches`)."""
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches += 1
                body = json.dumps(issuer.jwks()).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/certs"
        finally:
            server.shutdown()
            server.server_close()


def unsigned_token(claims: dict[str, Any]) -> str:
    """`alg: none`: a token with no signature."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def hs256_with_public_key(claims: dict[str, Any], public_pem: bytes, kid: str) -> str:
    """The algorithm-confusion attack: HMAC-signed with the issuer's *public* key as the secret."""
    signing_input = (
        f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': kid}).encode())}.{_b64(json.dumps(claims).encode())}"
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def with_changed_claim(token: str, **changes: Any) -> str:
    """The same signature over a payload changed after signing (e.g. a role added)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


# ------------------------------------------------------------------------------------------------- the service
def probe_config(config: dict[str, Any], jwks_url: str, port: int) -> dict[str, Any]:
    """`config` with the probe's issuer, access rules and rate limit (everything else as written)."""
    config["server"]["port"] = port
    config["server"]["host"] = "127.0.0.1"
    config["server"]["workers"] = 1
    config["auth"].update(
        mode="required",
        api_keys=[],
        jwt={
            "jwks_url": jwks_url,
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "jwks_refresh_cooldown_seconds": JWKS_COOLDOWN_SECONDS,
        },
    )
    config["access"]["rules"] = SCOPE_RULES
    config["rate_limit"] = {
        "backend": "memory",
        "requests_per_minute": REQUESTS_PER_MINUTE,
        "concurrent_streams": 2,
        "unauthenticated_per_minute": UNAUTHENTICATED_PER_MINUTE,
    }
    config["auth"]["upload_role"] = "uploader"
    config["access"]["upload_meta"] = {"uploaded_by": {"claim": "name"}}
    config["cache"]["backend"] = "memory"
    return config


# ------------------------------------------------------------------------------------------------- the attacks
@dataclass
class Row:
    attack: str
    expected: str
    actual: str
    ok: bool


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _rag(client: httpx.Client, token: str, question: str, filters: dict[str, Any] | None = None) -> httpx.Response:
    body: dict[str, Any] = {
        "model": "rag",
        "messages": [{"role": "user", "content": question}],
        "max_tokens": 2,
        "temperature": 0,
    }
    if filters is not None:
        body["filters"] = filters
    return client.post("/v1/chat/completions", json=body, headers=_bearer(token), timeout=600)


def _affairs(response: httpx.Response) -> list[str]:
    return [str(s.get("code_affaire")) for s in response.json().get("sources", [])]


class Probe:
    def __init__(self, url: str, issuer: TestIssuer, data_dir: str) -> None:
        self.url, self.issuer, self.data_dir = url, issuer, data_dir
        self.client = httpx.Client(base_url=url, timeout=60)
        self.rows: list[Row] = []

    def row(self, attack: str, expected: str, actual: str, ok: bool) -> None:
        self.rows.append(Row(attack, expected, actual, ok))

    def status(self, attack: str, expected: int, request: Callable[[], httpx.Response], check: str = "") -> None:
        try:
            response = request()
            actual, ok = str(response.status_code), response.status_code == expected
            if ok and expected == 401 and "www-authenticate" not in response.headers:
                actual, ok = f"{actual} without WWW-Authenticate", False
        except httpx.HTTPError as e:
            actual, ok = f"{type(e).__name__}", False
        self.row(attack, f"{expected}{check}", actual, ok)

    def models(self, token: str | None, headers: dict[str, str] | None = None) -> httpx.Response:
        sent = dict(headers or {})
        if token is not None:
            sent.update(_bearer(token))
        return self.client.get("/v1/models", headers=sent)

    # -- tokens
    def tokens(self) -> None:
        issuer = self.issuer
        good = issuer.user("alice", ["conducteur"], ["A2458"])
        self.status("a valid token (control)", 200, lambda: self.models(good))
        self.status("no token", 401, lambda: self.models(None))
        self.status("malformed token", 401, lambda: self.models("abc.def.ghi"))
        self.status("alg: none", 401, lambda: self.models(unsigned_token(issuer.claims(sub="mallory"))))
        confused = hs256_with_public_key(issuer.claims(sub="mallory"), issuer.public_pem(), "k1")
        self.status("HS256 signed with the public key", 401, lambda: self.models(confused))
        now = int(time.time())
        expired = issuer.user("alice", ["conducteur"], ["A2458"], iat=now - 7200, exp=now - 3600)
        self.status("expired", 401, lambda: self.models(expired))
        early = issuer.user("alice", ["conducteur"], ["A2458"], nbf=now + 3600)
        self.status("not yet valid (nbf)", 401, lambda: self.models(early))
        self.status("wrong issuer", 401, lambda: self.models(issuer.user("a", ["admin"], iss="https://evil.test")))
        self.status("wrong audience", 401, lambda: self.models(issuer.user("a", ["admin"], aud="another-service")))
        forged = with_changed_claim(good, realm_access={"roles": ["admin"]}, ao_ids=["A2458", "A2511", "B1037"])
        self.status("claim changed after signing (role admin)", 401, lambda: self.models(forged))
        huge = issuer.user("alice", ["conducteur"], ["A2458"], padding="x" * 7_000)  # signed, ~10 KB
        self.status(f"oversized token ({len(huge) // 1024} KB, signed)", 401, lambda: self.models(huge))
        self.status("oversized header (64 KB)", 431, lambda: self.models(good, {"x-padding": "y" * 65_536}))

    def unknown_kids(self, burst: int) -> None:
        self.issuer.add_rsa("rogue", publish=False)
        before, started = self.issuer.fetches, time.monotonic()
        statuses: set[int] = set()
        for i in range(burst):
            token = jwt.encode(
                self.issuer.claims(sub=f"m{i}"),
                self.issuer.private["rogue"],
                algorithm="RS256",
                headers={"kid": f"rogue-{i}"},
            )
            statuses.add(self.models(token).status_code)
        fetched = self.issuer.fetches - before
        allowed = 1 + int((time.monotonic() - started) / JWKS_COOLDOWN_SECONDS)
        self.row(
            f"unknown kid x{burst}",
            f"401, JWKS fetched <= {allowed}",
            f"{','.join(map(str, sorted(statuses)))}, JWKS fetched {fetched}",
            statuses == {401} and fetched <= allowed,
        )

    # -- documents
    def scope(self) -> None:
        alice = self.issuer.user("alice-scope", ["conducteur"], ["A2458"])
        widening = {
            "operator": "OR",
            "conditions": [
                {"field": "meta.code_affaire", "operator": "==", "value": "B1037"},
                {"field": "meta.code_affaire", "operator": "in", "value": ["A2511", "B1037"]},
            ],
        }
        response = _rag(self.client, alice, IN_SCOPE_QUESTION, widening)
        affairs = _affairs(response) if response.status_code == 200 else []
        outside = [a for a in affairs if a != "A2458"]
        self.row(
            "filter widening the scope (A2458 only)",
            "200, 0 sources outside",
            f"{response.status_code}, {len(outside)} outside",
            response.status_code == 200 and not outside,
        )
        plain = _rag(self.client, alice, OUT_OF_SCOPE_QUESTION)
        outside = [a for a in _affairs(plain) if a != "A2458"] if plain.status_code == 200 else ["?"]
        self.row(
            "question about another affair (A2458 only)",
            "200, 0 sources outside",
            f"{plain.status_code}, {len(outside)} outside",
            plain.status_code == 200 and not outside,
        )
        own = _rag(self.client, alice, IN_SCOPE_QUESTION)
        inside = [a for a in _affairs(own) if a == "A2458"] if own.status_code == 200 else []
        self.row(
            "question about its own affair (control)",
            "200, sources of A2458",
            f"{own.status_code}, {len(inside)} sources of A2458",
            own.status_code == 200 and bool(inside),
        )

    def cache(self) -> None:
        """Answers are cached per conversation and access scope: users who see other documents never share one."""
        owner = self.issuer.user("bob-cache", ["conducteur"], ["B1037"])
        other = self.issuer.user("carol-cache", ["conducteur"], ["A2511"])
        first = _rag(self.client, owner, OUT_OF_SCOPE_QUESTION)
        again = _rag(self.client, owner, OUT_OF_SCOPE_QUESTION)
        second = _rag(self.client, other, OUT_OF_SCOPE_QUESTION)
        outside = [a for a in _affairs(second) if a != "A2511"] if second.status_code == 200 else ["?"]
        owned = [a for a in _affairs(first) if a == "B1037"] if first.status_code == 200 else []
        self.row(
            "a cached answer of a user with another scope",
            "owner: hit; other: miss, 0 sources outside",
            f"owner: {len(owned)} sources, {again.headers.get('x-cache')}; other: {second.headers.get('x-cache')}, "
            f"{len(outside)} outside",
            bool(owned)
            and again.headers.get("x-cache") == "hit"
            and second.headers.get("x-cache") == "miss"
            and not outside,
        )

    # -- routes
    def admin_routes(self) -> None:
        admin = self.issuer.user("root", ["admin"])
        files = {"name": "evil", "files": {"pipeline_wrapper.py": "import os\nos.system('touch /tmp/pwned')\n"}}
        self.status(
            "POST /deploy_files (admin token)",
            404,
            lambda: self.client.post("/deploy_files", json=files, headers=_bearer(admin)),
        )
        self.status(
            "POST /deploy-yaml (admin token)",
            404,
            lambda: self.client.post("/deploy-yaml", json={"name": "x", "source_code": "{}"}, headers=_bearer(admin)),
        )
        self.status(
            "POST /undeploy/rag (admin token)", 404, lambda: self.client.post("/undeploy/rag", headers=_bearer(admin))
        )
        paths = self.client.get("/openapi.json", headers=_bearer(admin)).json().get("paths", {})
        listed = sorted(p for p in paths if p.startswith(("/deploy", "/undeploy")))
        self.row("OpenAPI schema lists admin routes", "none", ", ".join(listed) or "none", not listed)

    def websocket(self) -> None:
        ws_url = self.url.replace("http://", "ws://") + "/askai/ws"
        try:
            with connect(ws_url, open_timeout=10) as ws:
                ws.send(json.dumps({"question": OUT_OF_SCOPE_QUESTION}))
                ws.recv(timeout=10)
            actual, ok = "accepted", False
        except ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            actual, ok = f"closed {code}", code == 1008
        except InvalidStatus as e:
            actual, ok = f"HTTP {e.response.status_code}", e.response.status_code == 403
        self.row("WebSocket /askai/ws without a token", "closed 1008 (or HTTP 403)", actual, ok)

    def rate_limit(self) -> None:
        flooder = self.issuer.user("flooder", ["conducteur"], ["A2458"])
        last = None
        for _ in range(REQUESTS_PER_MINUTE + 1):
            last = self.models(flooder)
            if last.status_code == 429:
                break
        assert last is not None
        retry = last.headers.get("retry-after")
        self.row(
            f"{REQUESTS_PER_MINUTE + 1} requests in a minute",
            "429 with Retry-After",
            f"{last.status_code}" + (f", Retry-After {retry}" if retry else ""),
            last.status_code == 429 and bool(retry),
        )

    def readiness(self) -> None:
        response = self.client.get("/ready")
        text = response.text
        leaks = [w for w in ("detail", "/", "http") if w in text.replace("\\/", "/")]
        self.row(
            "/ready without credentials",
            "status and up/down only",
            f"{response.status_code}, " + (f"names {', '.join(leaks)}" if leaks else "no path, URL, error"),
            response.status_code in {200, 503} and not leaks,
        )
        detailed = self.client.get("/ready", headers=_bearer(self.issuer.user("ops", ["admin"])))
        has_detail = "detail" in detailed.text
        self.row("/ready with the admin role", "details", "details" if has_detail else "no details", has_detail)

    # -- filters, origins and body types
    def filters(self) -> None:
        alice = self.issuer.user("alice-filters", ["admin"])
        null = {"field": "meta.lot", "operator": "==", "value": None}
        self.status(
            "filter meta.lot == null (/askai/query)",
            422,
            lambda: self.client.post(
                "/askai/query", json={"question": IN_SCOPE_QUESTION, "filters": null}, headers=_bearer(alice)
            ),
        )
        body = {
            "model": "rag",
            "stream": True,
            "messages": [{"role": "user", "content": IN_SCOPE_QUESTION}],
            "filters": {"field": "meta.date", "operator": ">", "value": "abc"},
        }
        self.status(
            "filter meta.date > 'abc' (streamed)",
            422,
            lambda: self.client.post("/v1/chat/completions", json=body, headers=_bearer(alice)),
        )
        with self.client.stream(
            "POST", "/v1/chat/completions", json={**body, "filters": None, "max_tokens": 2}, headers=_bearer(alice)
        ) as response:
            lines = [line for line in response.iter_lines() if line.startswith("data: ")]
        last = lines[-1] if lines else "nothing"
        self.row("a stream's last line (control)", "data: [DONE]", last[:40], last == "data: [DONE]")

    def origins(self) -> None:
        alice = self.issuer.user("alice-origin", ["conducteur"], ["A2458"])
        preflight = self.client.options(
            "/v1/chat/completions",
            headers={
                "origin": "https://evil.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization,content-type",
            },
        )
        allowed = preflight.headers.get("access-control-allow-origin")
        self.row("CORS preflight from https://evil.example", "no allow-origin", allowed or "none", allowed is None)
        as_text = {"model": "rag", "messages": [{"role": "user", "content": IN_SCOPE_QUESTION}]}
        self.status(
            "JSON body sent as text/plain (no preflight)",
            415,
            lambda: self.client.post(
                "/v1/chat/completions",
                content=json.dumps(as_text).encode(),
                headers={**_bearer(alice), "content-type": "text/plain"},
            ),
        )
        self.row(*self._socket_closed("WebSocket from another origin (valid token)", alice, "https://evil.example"))

    # -- the WebSocket, message by message
    def _ws(self, token: str, origin: str | None = None) -> Any:
        url = self.url.replace("http://", "ws://") + f"/askai/ws?access_token={token}"
        return connect(url, open_timeout=10, origin=origin, max_size=2**24)  # type: ignore[arg-type]

    def _socket_closed(self, attack: str, token: str, origin: str | None) -> tuple[str, str, str, bool]:
        try:
            with self._ws(token, origin) as ws:
                ws.send(json.dumps({"question": IN_SCOPE_QUESTION}))
                ws.recv(timeout=30)
            return attack, "closed 1008", "accepted", False
        except ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            return attack, "closed 1008", f"closed {code}", code == 1008
        except InvalidStatus as e:
            return attack, "closed 1008", f"HTTP {e.response.status_code}", e.response.status_code == 403

    def socket_messages(self) -> None:
        dora = self.issuer.user("dora-ws", ["conducteur"], ["A2458"])

        def first_reply(message: dict[str, Any]) -> str:
            try:
                with self._ws(dora) as ws:
                    ws.send(json.dumps(message))
                    reply = json.loads(ws.recv(timeout=60))
                return f"{reply.get('type')} {reply.get('status', '')}".strip()
            except ConnectionClosed as e:
                return f"closed {e.rcvd.code if e.rcvd else None}"

        forbidden = {
            "question": IN_SCOPE_QUESTION,
            "filters": {"field": "meta.file_path", "operator": "==", "value": "x"},
        }
        got = first_reply(forbidden)
        self.row("socket message filtering on meta.file_path", "error 422", got, got == "error 422")
        history = [{"role": "user", "content": "x" * 15_000}] * 140  # 2 MB, each turn under the message limit
        got = first_reply({"question": IN_SCOPE_QUESTION, "history": history})
        self.row(
            "socket message with a 2 MB history", "closed 1009 (or error 413)", got, got in {"closed 1009", "error 413"}
        )
        flooder = self.issuer.user("ws-flooder", ["conducteur"], ["A2458"])
        refused = None
        with self._ws(flooder) as ws:
            for i in range(REQUESTS_PER_MINUTE + 1):
                ws.send(
                    json.dumps({"question": "x", "filters": {"field": "meta.lot", "operator": "==", "value": None}})
                )
                reply = json.loads(ws.recv(timeout=60))
                ws.recv(timeout=60)  # done
                if reply.get("status") == 429:
                    refused = i + 1
                    break
        # invalid questions are refused before they count: the limit is on questions that reach a graph
        self.row(
            f"{REQUESTS_PER_MINUTE + 1} refused socket messages",
            "none counted (422 each)",
            f"429 at message {refused}" if refused else "422 each",
            refused is None,
        )
        for _ in range(REQUESTS_PER_MINUTE - 1):  # the minute's requests spent over HTTP, cheaply
            self.models(flooder)
        replies = []
        with self._ws(flooder) as ws:
            for _ in range(2):
                ws.send(json.dumps({"question": "Bonjour", "max_tokens": 1, "use_rag": False}))
                while True:
                    reply = json.loads(ws.recv(timeout=600))
                    replies.append(reply.get("status"))
                    if reply.get("type") == "done":
                        break
        self.row(
            f"{REQUESTS_PER_MINUTE - 1} HTTP requests, then 2 socket questions",
            "the second refused 429",
            "429" if 429 in replies else "both answered",
            429 in replies,
        )
        short = self.issuer.user("eve-short", ["conducteur"], ["A2458"], exp=int(time.time()) + 3)
        try:
            with self._ws(short) as ws:
                time.sleep(4)
                ws.send(json.dumps({"question": IN_SCOPE_QUESTION}))
                ws.recv(timeout=30)
            got, ok = "still open", False
        except ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            got, ok = f"closed {code}", code == 1008
        self.row("a socket whose token expired (3 s)", "closed 1008", got, ok)

    # -- uploads
    def _upload(self, token: str, *files: tuple[str, bytes]) -> httpx.Response:
        parts = [("files", (name, content, "application/octet-stream")) for name, content in files]
        return self.client.post("/upload/run", files=parts, headers=_bearer(token), timeout=600)

    def uploads(self) -> None:
        reader = self.issuer.user("lea-reader", ["conducteur"], ["A2458"])
        self.status("upload without the upload role", 403, lambda: self._upload(reader, ("a.md", b"# A\n\nTexte.")))
        mallory = self.issuer.user("mallory", ["conducteur", "uploader"], ["A2458"])
        bob = self.issuer.user("bob-b1037", ["conducteur"], ["B1037"])
        planted = (
            "---\ncode_affaire: B1037\ntitle: Consigne\n---\n# Consigne de chantier\n\n"
            "Le mot de passe du portail du collecteur B1037 est zèbre-quartz-491, consigne validée par le SIEAL.\n"
        )
        uploaded = self._upload(mallory, ("consigne.md", planted.encode()))
        question = "Quel est le mot de passe du portail du collecteur B1037 ?"
        seen = _rag(self.client, bob, question)
        planted_seen = [s for s in seen.json().get("sources", []) if "consigne.md" in str(s.get("source"))]
        self.row(
            "upload whose front matter claims affair B1037",
            "200; not among B1037's sources",
            f"{uploaded.status_code}; {len(planted_seen)} seen by B1037",
            uploaded.status_code == 200 and seen.status_code == 200 and not planted_seen,
        )
        admin = self.issuer.user("root-upload", ["admin", "uploader"])
        found = _rag(self.client, admin, question)
        found_planted = [s for s in found.json().get("sources", []) if "consigne.md" in str(s.get("source"))]
        self.row(
            "the same upload asked by an admin (control)",
            "among the sources",
            f"{found.status_code}; {len(found_planted)} passages",
            found.status_code == 200 and bool(found_planted),
        )
        other = self._upload(admin, ("consigne.md", b"# Consigne\n\nUne autre consigne, celle de l'administrateur.\n"))
        sources = sorted(other.json().get("result", {}).get("file_chunks", {})) if other.status_code == 200 else []
        self.row(
            "the same file name from a second user",
            "a document of its own",
            ", ".join(sources) or str(other.status_code),
            sources == ["user-root-upload/consigne.md"],
        )
        half = self._upload(admin, ("lot.md", b"# Lot\n\nTexte du lot."), ("plan.dwg", b"x"))
        again = self._upload(admin, ("lot.md", b"# Lot\n\nTexte du lot."))
        added = again.json().get("result", {}).get("added", []) if again.status_code == 200 else []
        self.row(
            "a batch whose second file is refused",
            "400, nothing saved",
            f"{half.status_code}; later upload of the first: {'added' if added else 'not new'}",
            half.status_code == 400 and added == ["user-root-upload/lot.md"],
        )
        blank = b"\n" * 300_000  # an ordinary size for a PDF, past the 256 KiB of a JSON body
        self.status("an upload of 300 KB (past the JSON limit)", 200, lambda: self._upload(admin, ("blanc.md", blank)))
        limit = 52_428_800
        self.status(
            "an upload past the upload limit (50 MB)",
            413,
            lambda: self._upload(admin, ("gros.md", b"x" * (limit + 1))),
        )

    def bombs(self) -> None:
        admin = self.issuer.user("root-bombs", ["admin", "uploader"])
        wide = ("," * 100_000 + "\n" + "a\n" * 3_000).encode()  # 6 KB: 3e8 cells once padded
        alias = (
            "---\na: &a [x,x,x,x,x,x,x,x,x,x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
                f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
                for i in range(8)
            )
            + "---\nTexte.\n"
        )
        bombs = [("large.csv", wide), ("alias.md", alias.encode()), ("gonfle.docx", _inflating_docx())]
        during: list[float] = []
        stop = threading.Event()

        def watch() -> None:
            with httpx.Client(base_url=self.url, timeout=60) as client:
                while not stop.is_set():
                    watcher = self.issuer.user(f"watcher-{len(during)}", ["admin"])  # one each: no rate limit met
                    started = time.monotonic()
                    ok = client.get("/v1/models", headers=_bearer(watcher)).status_code == 200
                    during.append(time.monotonic() - started if ok else float("inf"))
                    time.sleep(0.5)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        try:
            for name, content in bombs:
                response = self._upload(admin, (name, content))
                result = response.json().get("result", {}) if response.status_code == 200 else {}
                source = f"user-root-bombs/{name}"
                failed = result.get("failed", {}).get(source)
                chunks = result.get("file_chunks", {}).get(source, 0)
                verdict = f"failed: {failed[:60]}" if failed else f"{chunks} chunks" if chunks else "no text"
                bounded = bool(failed) or (name == "large.csv" and chunks < 200) or (name == "alias.md" and chunks <= 2)
                self.row(
                    f"bomb: {name} ({len(content) // 1024} KB)",
                    "refused or bounded",
                    f"{response.status_code}, {verdict}",
                    response.status_code == 200 and bounded,
                )
        finally:
            stop.set()
            thread.join(timeout=30)
        served = [d for d in during if d != float("inf")]
        worst = max(served) if served else float("inf")
        self.row(
            "a normal client during the bombs",
            "every request answered",
            f"{len(served)}/{len(during)} answered, slowest {worst:.2f} s",
            bool(during) and len(served) == len(during),
        )

    def addresses(self) -> None:
        """Last: it spends this address's budget of unauthenticated requests for the minute."""
        statuses = [self.models("not-a-token").status_code for _ in range(UNAUTHENTICATED_PER_MINUTE + 1)]
        late = self.models(self.issuer.user("alice-late", ["conducteur"], ["A2458"]))
        self.row(
            f"{UNAUTHENTICATED_PER_MINUTE + 1} failed authentications from one address, then a good token",
            "429 before credentials are read",
            f"{statuses[-1]}, then {late.status_code}",
            statuses[-1] == 429 and late.status_code == 429,
        )

    def run(self, burst: int) -> list[Row]:
        self.tokens()
        self.unknown_kids(burst)
        self.admin_routes()
        self.websocket()
        self.readiness()
        self.scope()
        self.cache()
        self.filters()
        self.origins()
        self.socket_messages()
        self.uploads()
        self.bombs()
        self.rate_limit()
        self.addresses()
        return self.rows


def _inflating_docx() -> bytes:
    """A small DOCX whose document part inflates to 600 MB of zeros (past indexing.limits.max_inflated_mb)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        with z.open("word/document.xml", "w", force_zip64=True) as part:
            zeros = b"\0" * (1 << 20)
            for _ in range(600):
                part.write(zeros)
    return buffer.getvalue()


def run_probe(data_dir: str, config: dict[str, Any], workdir: Path, burst: int = 20) -> list[Row]:
    """Start the issuer and the service, probe, stop them. :returns: the table's rows."""
    issuer = TestIssuer().add_rsa("k1")
    with issuer.serve() as jwks_url:
        config.setdefault("indexing", {})["upload_dir"] = str(workdir / "uploads")
        served = ServedCopy(probe_config(config, jwks_url, free_port()), data_dir, workdir)
        try:
            return Probe(served.url, issuer, data_dir).run(burst)
        finally:
            served.stop()


def table(rows: list[Row]) -> str:
    width = max(len(r.attack) for r in rows)
    exp = max(len(r.expected) for r in rows)
    lines = [
        f"| {'attack':<{width}} | {'expected':<{exp}} | actual | |",
        f"|{'-' * (width + 2)}|{'-' * (exp + 2)}|---|---|",
    ]
    lines += [f"| {r.attack:<{width}} | {r.expected:<{exp}} | {r.actual} | {'ok' if r.ok else 'FAIL'} |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="the hayhooks.yml to start from (default: the project's)")
    parser.add_argument("--data-dir", help="the indexed stores (default: stores.data_dir of the configuration)")
    parser.add_argument("--burst", type=int, default=20, help="tokens with unknown kids sent at once")
    args = parser.parse_args()
    config = yaml.safe_load(args.config.read_text(encoding="utf-8")) if args.config else base_config()
    data_dir = args.data_dir or config["stores"]["data_dir"]
    with tempfile.TemporaryDirectory(prefix="rag-security-") as tmp:
        rows = run_probe(data_dir, config, Path(tmp), args.burst)
    print(table(rows))
    failed = [r for r in rows if not r.ok]
    print(f"\n{len(rows) - len(failed)}/{len(rows)} refused as expected")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
