"""The gateway in front of the pipelines: authentication, access scopes, rate limits, cache, logs, metrics, health.

`install_gateway(app, settings)` is the one call `service.server` makes. The graphs' callers need only
`service.gateway.access.effective_filters`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

logger = logging.getLogger("service.gateway")
SWITCH_INTERVAL_SECONDS = 0.0005


def install_gateway(app: Any, settings: Any) -> Any:
    """Add the gateway middleware (inside Hayhooks' request-id middleware) and `/health`, `/ready`, `/metrics`."""
    # Imported here: `service.settings` imports `service.gateway.config`, and must stay light (no Haystack).
    from starlette.middleware import Middleware  # noqa: PLC0415

    from service.gateway.auth import DEV_MODE_WARNING  # noqa: PLC0415
    from service.gateway.health import add_health_routes  # noqa: PLC0415
    from service.gateway.middleware import Gateway, GatewayMiddleware  # noqa: PLC0415
    from service.gateway.observability import configure_access_log, install_stage_timing  # noqa: PLC0415

    # The event loop (auth, cache hits, health) competes for the GIL with the graph components running in worker
    # threads; a shorter switch interval than Python's 5 ms keeps its latency low under load.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
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
