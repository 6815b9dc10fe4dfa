"""Who is calling: bearer JWTs checked against the issuer's JWKS, or static API keys stored as sha256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import jwt
from jwt import PyJWKClient

from service.gateway.config import AuthSettings, ClaimPaths, JWTSettings
from service.gateway.context import Principal

logger = logging.getLogger("service.gateway")

DEV_MODE_WARNING = (
    "AUTHENTICATION IS OFF (auth.mode: dev): every request is served as the dev principal. "
    "Never run this configuration where anyone else can reach the service."
)


class AuthError(Exception):
    """A request that cannot be authenticated (401); `reason` is safe to show to the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def hash_api_key(key: str) -> str:
    """What `auth.api_keys[].sha256` holds for a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value if isinstance(v, str | int)]
    return []


def principal_from_claims(claims: Mapping[str, Any], paths: ClaimPaths) -> Principal:
    """The principal a verified token describes."""
    name = _claim(claims, paths.username) or _claim(claims, paths.subject)
    service = _claim(claims, paths.service)
    return Principal(
        name=str(name),
        kind="user",
        roles=frozenset(_strings(_claim(claims, paths.roles))),
        groups=frozenset(g.lstrip("/") for g in _strings(_claim(claims, paths.groups))),  # Keycloak: "/group"
        service=str(service) if isinstance(service, str) else None,
        ao_ids=tuple(_strings(_claim(claims, paths.ao_ids))),
    )


class JWTVerifier:
    """Verify RS256/ES256 tokens against a JWKS; keys are cached and the JWKS is fetched again for an unknown `kid`."""

    def __init__(self, settings: JWTSettings) -> None:
        self.settings = settings
        self._jwks = PyJWKClient(
            settings.jwks_url,
            cache_keys=True,
            lifespan=settings.jwks_cache_seconds,
            cooldown_duration=settings.jwks_refresh_cooldown_seconds,
            timeout=int(max(1, settings.jwks_timeout_seconds)),
        )

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise AuthError("malformed bearer token") from None
        if header.get("alg") not in self.settings.algorithms:
            raise AuthError(f"token algorithm {header.get('alg')!r} is not accepted")
        try:
            # PyJWKClient refreshes the JWKS when the kid is unknown (then fails if it is still missing).
            key = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            logger.exception("JWKS unreachable: %s", self.settings.jwks_url)
            raise AuthError("the token issuer's keys cannot be fetched right now") from None
        except jwt.PyJWKClientError:
            raise AuthError("token signed by an unknown key") from None
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=list(self.settings.algorithms),
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud"], "verify_nbf": True},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token not yet valid (nbf)") from None
        except jwt.InvalidAudienceError:
            raise AuthError("token audience is not this service") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token issuer is not trusted") from None
        except jwt.InvalidSignatureError:
            raise AuthError("token signature is invalid") from None
        except jwt.InvalidTokenError as e:
            raise AuthError(f"invalid token ({type(e).__name__})") from None
        principal = principal_from_claims(claims, self.settings.claims)
        exp = claims.get("exp")
        return replace(principal, expires_at=float(exp)) if isinstance(exp, int | float) else principal


class Authenticator:
    """Turn a request's headers into a `Principal`, or raise `AuthError`."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.jwt = JWTVerifier(settings.jwt) if settings.jwt is not None else None
        self._keys = {
            k.sha256: Principal(
                name=k.name,
                kind="api_key",
                roles=frozenset(k.roles),
                groups=frozenset(k.groups),
                service=k.service,
                ao_ids=tuple(k.ao_ids),
            )
            for k in settings.api_keys
        }
        dev = settings.dev_principal
        self.dev_principal = Principal(
            name=dev.name,
            kind="dev",
            roles=frozenset(dev.roles),
            groups=frozenset(dev.groups),
            service=dev.service,
            ao_ids=tuple(dev.ao_ids),
        )

    @property
    def dev_mode(self) -> bool:
        return self.settings.mode == "dev"

    def is_public(self, path: str) -> bool:
        return path in self.settings.public_paths

    def _api_key(self, key: str) -> Principal | None:
        digest = hash_api_key(key)
        for stored, principal in self._keys.items():
            if hmac.compare_digest(stored, digest):
                return principal
        return None

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """:returns: the caller. :raises AuthError: no credentials, or bad ones."""
        if self.dev_mode:
            return self.dev_principal
        api_key = headers.get("x-api-key")
        authorization = headers.get("authorization", "")
        if max(len(api_key or ""), len(authorization)) > self.settings.max_token_bytes:
            raise AuthError(f"credentials larger than {self.settings.max_token_bytes} bytes")
        scheme, _, credentials = authorization.partition(" ")
        if not api_key and scheme.lower() == "bearer":
            credentials = credentials.strip()
            if credentials.count(".") == 2:  # a JWT: header.payload.signature
                if self.jwt is None:
                    raise AuthError("bearer tokens are not accepted here (no auth.jwt configured)")
                return self.jwt.verify(credentials)
            api_key = credentials
        if api_key:
            principal = self._api_key(api_key.strip())
            if principal is None:
                raise AuthError("unknown API key")
            return principal
        raise AuthError("missing credentials: send 'Authorization: Bearer <token or API key>'")
