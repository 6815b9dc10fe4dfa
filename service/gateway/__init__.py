"""The gateway in front of the pipelines: authentication, access scopes, rate limits, cache, logs, metrics, health.

`install_gateway(app, settings)` is the one call `service.server` makes. The graphs' callers need nothing: each
request's access scope reaches the retrievers through `components.retrievers.access_scope`.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("service.gateway")


def install_gateway(app: Any, settings: Any) -> Any:
    """Add the gateway middleware (inside Hayhooks' request-id middleware) and `/health`, `/ready`, `/metrics`."""
    # Imported here: `service.settings` imports `service.gateway.config`, and must stay light (no Haystack).
    from starlette.middleware import Middleware  # noqa: PLC0415

    from service.gateway.auth import DEV_MODE_WARNING  # noqa: PLC0415
    from service.gateway.health import add_health_routes  # noqa: PLC0415
    from service.gateway.middleware import Gateway, GatewayMiddleware  # noqa: PLC0415
    from service.gateway.observability import configure_access_log, install_stage_timing  # noqa: PLC0415

    configure_access_log(settings.logging.level)
    install_stage_timing()
    gateway = Gateway(settings)
    # user_middleware[0] is the outermost: appending puts the gateway innermost, after the request id is assigned.
    app.user_middleware.append(Middleware(GatewayMiddleware, gateway=gateway))
    add_health_routes(app, settings, gateway)
    if gateway.authenticator.dev_mode:
        logger.warning(DEV_MODE_WARNING)
    app.state.gateway = gateway
    return gateway
