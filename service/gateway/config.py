"""
The gateway's sections of `hayhooks.yml`: auth, access, rate_limit, cache, redis, logging, request_limits.


Imported by `service.settings` (which adds them to `Settings`); nothing here imports the rest of the service.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimPaths(_Section):
    """Where each attribute the access rules use sits in a token's claims (dotted paths, Keycloak-style)."""

    subject: str = "sub"
    username: str = "preferred_username"
    roles: str = "realm_access.roles"
    groups: str = "groups"
    service: str = "service"
    ao_ids: str = "ao_ids"


class JWTSettings(_Section):
    """Bearer JWTs signed by the issuer (a Keycloak realm, say), checked against its JWKS."""

    jwks_url: str
    issuer: str
    audience: str
    algorithms: list[Literal["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256"]] = ["RS256", "ES256"]
    leeway_seconds: int = Field(30, ge=0, le=300)
    jwks_cache_seconds: int = Field(300, ge=1)
    # An unknown `kid` fetches the JWKS again, at most once per this many seconds (a flood of bogus kids cannot
    # hammer the issuer).
    jwks_refresh_cooldown_seconds: float = Field(10.0, ge=0)
    jwks_timeout_seconds: float = Field(5.0, gt=0)
    claims: ClaimPaths = ClaimPaths()


class APIKeySettings(_Section):
    """A service account: its key is presented as `Authorization: Bearer <key>` or `X-API-Key: <key>`."""

    name: str
    sha256: str  # sha256 hex of the key (`rag hash-key` prints it); the key itself is never written anywhere
    roles: list[str] = []
    groups: list[str] = []
    service: str | None = None
    ao_ids: list[str] = []

    @field_validator("sha256")
    @classmethod
    def _is_sha256(cls, value: str) -> str:
        if not _SHA256_HEX.match(value):
            raise ValueError("must be the 64 lower-case hex digits of sha256(key), never the key itself")
        return value


class DevPrincipalSettings(_Section):
    """Who every request is, when `auth.mode` is `dev`."""

    name: str = "dev"
    roles: list[str] = ["dev", "uploader"]
    groups: list[str] = []
    service: str | None = None
    ao_ids: list[str] = []


class AuthSettings(_Section):
    # required: every route but `public_paths` needs a valid JWT or API key.
    # dev: authentication OFF (every request is `dev_principal`); a warning is logged at every start.
    mode: Literal["required", "dev"]  # no default: a deployment says whether authentication is on
    jwt: JWTSettings | None = None
    api_keys: list[APIKeySettings] = []
    public_paths: list[str] = ["/health", "/ready"]
    max_token_bytes: int = Field(8192, ge=256)  # a bearer token or API key longer than this: 401, never parsed
    # `/ready` tells anyone each backend's up/down; its details (paths, URLs, errors) only to callers with one of
    # these roles (in dev mode, the dev principal's roles count).
    status_roles: list[str] = ["admin"]
    # Hayhooks' deploy/undeploy routes run code: only principals with `admin_role` reach them (and they are served
    # only with `server.admin_routes: true`).
    admin_path_prefixes: list[str] = ["/deploy", "/undeploy"]
    admin_role: str = "admin"
    # `POST /upload/run` writes documents into the index: only principals with this role may (403 otherwise; in dev
    # mode, the dev principal's roles count). null: any authenticated caller.
    upload_role: str | None = "uploader"
    # `DELETE /documents/{id}` and `POST /documents/{id}/reindex` change the index: only principals with this role
    # may (403 otherwise). null: any authenticated caller. In dev mode (authentication off) every change is allowed.
    documents_role: str | None = "admin"
    dev_principal: DevPrincipalSettings = DevPrincipalSettings()

    @model_validator(mode="after")
    def _some_credential(self) -> AuthSettings:
        if self.mode == "required" and self.jwt is None and not self.api_keys:
            raise ValueError("mode 'required' needs auth.jwt or auth.api_keys (or mode: dev, auth off)")
        return self


class AccessRule(_Section):
    """
    Documents a principal may see. The rule applies when every listed condition holds (at least one of the
    roles, one of the groups, one of the services; an empty list is no condition). `filters` is a Haystack filter,
    or null for every document; a value `{claim: ao_ids}` stands for the principal's own list of that attribute.
    """

    name: str
    roles: list[str] = []
    groups: list[str] = []
    services: list[str] = []
    filters: dict[str, Any] | None = None


class AccessSettings(_Section):
    # A principal sees the union of what its matching rules allow; no matching rule: 403.
    rules: list[AccessRule] = [AccessRule(name="everyone", filters=None)]
    # What an uploaded document's metadata says about who may see it comes from its uploader, never from the file:
    # these fields are set from the uploader's attributes (`{claim: name|roles|groups|service|ao_ids}`, or a fixed
    # value), and every other field the rules filter on is left empty, whatever the file's front matter says.
    upload_meta: dict[str, Any] = {"uploaded_by": {"claim": "name"}}
    # The metadata fields a request's own `filters` may name (anything else: 400).
    filter_fields: list[str] = [
        "meta.code_affaire",
        "meta.document_type",
        "meta.theme",
        "meta.client",
        "meta.commune",
        "meta.lot",
        "meta.publish_date",
        "meta.date",
        "meta.tags",
        "meta.source",
        "meta.title",
    ]


class RedisSettings(_Section):
    url: str = "redis://127.0.0.1:6379/0"
    password_env: str = "REDIS_PASSWORD"  # noqa: S105 (the name of an environment variable, not a password)
    timeout_seconds: float = Field(0.5, gt=0)
    retry_after_seconds: float = Field(5.0, gt=0)  # after a failure, Redis is not retried before this


class RateLimitSettings(_Section):
    # redis: counters shared by every worker; memory: per worker process; off: no limit.
    backend: Literal["redis", "memory", "off"] = "memory"
    requests_per_minute: int = Field(120, ge=1)
    concurrent_streams: int = Field(4, ge=1)
    # Before anyone is authenticated: requests to the public routes and refused authentications, per client address
    # and minute. Past it, the address gets 429 without its credentials being checked (no key guessing at speed).
    unauthenticated_per_minute: int = Field(300, ge=1)


class CacheSettings(_Section):
    # redis: shared by every worker; memory: per worker process (the embedded default); off: no cache.
    backend: Literal["redis", "memory", "off"] = "memory"
    answer_ttl_seconds: int = Field(3600, ge=1)
    embedding_ttl_seconds: int = Field(86400, ge=1)
    memory_max_entries: int = Field(2000, ge=1)
    # Non-streaming POST routes whose 200 answers are cached.
    routes: list[str] = ["/rag/run", "/v1/chat/completions", "/chat/completions", "/askai/query"]


class LoggingSettings(_Section):
    access_log: bool = True  # one JSON line per request on stdout (logger `service.access`)
    level: Literal["debug", "info", "warning", "error"] = "info"


class LimitsSettings(_Section):
    """What a request may hold; anything beyond is a 4xx with a clear message (413 for size)."""

    max_body_bytes: int = Field(262_144, ge=1024)
    # The upload route's own limit (a multipart body of files): 413 beyond.
    max_upload_bytes: int = Field(52_428_800, ge=1024)
    # Every header together (431 beyond; a WebSocket is closed with 1009).
    max_header_bytes: int = Field(16_384, ge=1024)
    max_messages: int = Field(64, ge=1)
    max_message_chars: int = Field(16_000, ge=1)
    max_tokens: int = Field(4096, ge=1)
    max_top_k: int = Field(100, ge=1)
