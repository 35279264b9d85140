"""Entry point and wiring: `cd apps/api && python main.py`.

`create_app()` builds the FastAPI app with the Socket.IO server mounted at
`/ws`; it is also a uvicorn factory (`uvicorn main:create_app --factory`).
Nothing here holds logic of its own.
"""

from __future__ import annotations

import gc
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import uvicorn
from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from config import Settings, SettingsError, get_settings, load_settings
from events.broadcaster import get_broadcaster
from events.dedupe import create_dedupe_store
from front.body_timeout import BodyTimeout
from gc_setup import tune_gc
from logging_setup import configure_logging, get_logger
from observability.admin_ui import enable_admin_ui
from observability.metrics import Metrics
from routers import contract, dashboard, dev, health, publish
from routers import metrics as metrics_route
from routers.local_only import is_loopback_bind
from routers.publish_limit import PublishLimiter
from serving import GracefulServer, uvicorn_options
from webhooks import github as github_webhooks
from webhooks.projects import load_project_resolver, set_project_resolver
from websocket import audit
from websocket.access.dev_tokens import DevTokenIssuer
from websocket.access.revocation import RevocationList
from websocket.access.tokens import TokenValidator
from websocket.gateway.cors import RestCORSMiddleware, origin_policy
from websocket.gateway.http_guard import EngineIOGuard
from websocket.internals.fastlane import EngineIOFastLane
from websocket.internals.tcp_reset import RawSendTap
from websocket.limits.connection import Limits
from websocket.protocol.paths import ENGINEIO_PREFIXES, NAMESPACE
from websocket.server.backends import build_backends
from websocket.server.commands import CommandHandlers
from websocket.server.connections import ConnectionRegistry, subscription_count
from websocket.server.control import ConnectionControl
from websocket.server.dispatch import Dispatcher
from websocket.server.gate import ConnectionGate
from websocket.server.lifecycle import ConnectionLifecycle
from websocket.server.rate_limit import CommandRateLimit
from websocket.server.revoker import Revoker
from websocket.server.sio import create_sio, engineio_apps
from websocket.server.slow_consumers import SlowConsumers
from websocket.server.subscriptions import Subscriptions
from websocket.server.token_lifetime import TokenLifecycle
from websocket.shutdown.drain import Drain, InFlight, RedisBarrier, RequestTracker, TrackedTransport

log = get_logger("main")


def _signing_secret(settings: Settings) -> tuple[str, bool]:
    """The configured JWT secret, or an ephemeral one in development."""
    if settings.jwt_secret_key is not None and settings.jwt_secret_key.get_secret_value():
        return settings.jwt_secret_key.get_secret_value(), False
    return secrets.token_urlsafe(48), True


def _log_development_mode(settings: Settings, ephemeral: bool, dev_tokens: DevTokenIssuer) -> None:
    if not is_loopback_bind(settings.host):
        log.warning(
            "development_mode_exposed",
            host=settings.host,
            risk="development mode is reachable from the network: its origins, tokens and defaults "
            "are meant for one machine",
            fix="set HOST=127.0.0.1, or ENVIRONMENT=production with a real JWT_SECRET_KEY",
        )
    if ephemeral:
        log.warning("jwt_secret_ephemeral", hint="set JWT_SECRET_KEY to keep tokens valid across restarts")
    # What to do next, for a newcomer reading the console: where the token is, never the token itself.
    page = "localhost" if is_loopback_bind(settings.host) or settings.host == "0.0.0.0" else settings.host
    log.info(
        "development_token_available",
        dashboard=f"http://{page}:{settings.port}/ws/dashboard",
        token=f"export TOKEN=$(curl -s localhost:{settings.port}/ws/dev-token.txt)",
        user_id="dev-user",
        ttl_s=dev_tokens.ttl,
        signed_with="a key of this process only" if dev_tokens.ephemeral else "JWT_SECRET_KEY",
    )


def _redacted(url: str) -> str:
    """The Redis URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    secret, ephemeral = _signing_secret(settings)
    dev_tokens = None if settings.is_production else DevTokenIssuer.from_settings(settings)
    validator = TokenValidator(
        secret,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        max_lifetime=settings.jwt_max_lifetime,
        extra_keys=dev_tokens.keys if dev_tokens else None,
    )
    registry = ConnectionRegistry()
    backends = build_backends(settings)
    manager = backends.manager
    transport = TrackedTransport(backends.transport)
    sio = create_sio(settings, manager)
    rooms = Subscriptions(
        sio, backends.history, backends.presence, settings.replay_bytes_per_minute,
        publish=get_broadcaster().publish,
    )  # fmt: skip
    metrics = Metrics()
    limits = Limits.from_settings(settings)
    revoked = RevocationList(retention=settings.jwt_max_lifetime)
    # What revocation, token expiry, the flood cut-off and the drain may do to a connection.
    control = ConnectionControl(sio, registry, rooms)
    revoker = Revoker(registry, revoked, control)
    revoker.listen(manager)
    tokens = TokenLifecycle(validator, registry, revoked, control)
    gate = ConnectionGate(validator, registry, revoked, limits)
    ConnectionLifecycle(
        sio, gate, registry, limits, tokens, rooms, control, metrics, settings.log_connections
    ).register()
    commands = CommandHandlers(rooms, control, tokens, revoked, limits, metrics)
    Dispatcher(registry, CommandRateLimit(limits.command_rate, control), commands.table()).register(sio)
    slow_consumers = SlowConsumers(sio, registry)
    slow_consumers.install()
    admin_ui = enable_admin_ui(sio, settings)
    broadcaster = get_broadcaster()
    requests = InFlight()
    drain = Drain(
        sio=sio, gate=gate, registry=registry, control=control, transport=transport, requests=requests,
        timeout=settings.shutdown_timeout,
        barrier=RedisBarrier(backends.redis) if backends.redis else None,
    )  # fmt: skip
    dedupe = create_dedupe_store(settings.redis_url, settings.redis_key_prefix)
    if settings.github_project_resolver:
        try:
            set_project_resolver(load_project_resolver(settings.github_project_resolver))
        except ValueError as exc:
            raise SettingsError(f"invalid configuration: GITHUB_PROJECT_RESOLVER: {exc}") from None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        broadcaster.attach(transport, observer=metrics)
        broadcaster.use_dedupe(dedupe, settings.dedupe_window)
        await backends.start(on_agent_gone=rooms.agent_gone, revoker=revoker)
        audit.start_summaries(
            settings.audit_summary_interval,
            settings.max_tracked_addresses,
            settings.address_limit_ipv6_prefix,
        )
        github_webhooks.log_configuration(settings)
        log.info(
            "server_started",
            environment=settings.environment,
            redis=_redacted(settings.redis_url) if settings.redis_url else "disabled",
            channel=settings.socketio_channel if settings.redis_url else None,
            socketio_paths=["/socket.io/", "/ws/socket.io/"],
            namespace="/ws",
        )
        if dev_tokens is not None:
            _log_development_mode(settings, ephemeral, dev_tokens)
        try:
            yield
        finally:
            await drain.run(late=True)  # already done when served by GracefulServer
            await audit.stop_summaries()  # the refusals counted so far are written now
            broadcaster.detach()
            broadcaster.use_dedupe(None)
            await dedupe.close()
            if admin_ui is not None:
                await admin_ui.shutdown()
            await sio.shutdown()
            await backends.stop()
            log.info("server_stopped")

    app = FastAPI(
        title="Real-time event server",
        version="0.1.0",
        description="Socket.IO events at /ws (see WEBSOCKET_API.md) and the REST routes around them.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.token_validator = validator
    app.state.registry = registry
    app.state.sio = sio
    app.state.transport = transport
    app.state.dedupe = dedupe
    app.state.publish_limiter = PublishLimiter(settings.publish_rate, settings.publish_burst)
    app.state.redis_state = backends.state
    app.state.backends = backends
    app.state.manager = manager
    app.state.tokens = tokens
    app.state.slow_consumers = slow_consumers
    app.state.drain = drain.run
    app.state.dev_tokens = dev_tokens
    app.state.metrics = metrics
    metrics.observe_state(
        connections=lambda: len(registry),
        subscriptions=lambda: subscription_count(registry, manager),
        redis_state=lambda: app.state.redis_state(),
    )

    app.add_middleware(
        RestCORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_credentials="*" not in settings.allowed_origins,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    if settings.ws_fast_path:  # WebSockets straight to the Engine.IO mounts (websocket/internals/fastlane.py)
        app.add_middleware(EngineIOFastLane, router=app.router, prefixes=ENGINEIO_PREFIXES)
    app.add_middleware(RequestTracker, skip_prefixes=ENGINEIO_PREFIXES, in_flight=requests)
    app.add_middleware(  # every request body, Engine.IO's too
        BodyTimeout, seconds=settings.http_body_timeout, min_rate=settings.http_body_min_rate
    )
    # uvicorn's own send, to reset slow consumers (websocket/internals/tcp_reset.py)
    app.add_middleware(RawSendTap)
    if settings.trusted_proxies:
        # Outermost: every layer below sees the client the trusted proxy reports.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.include_router(health.router)
    app.include_router(metrics_route.router)
    app.include_router(contract.router)
    app.include_router(publish.router)
    app.include_router(github_webhooks.router)
    app.include_router(dashboard.static_router)
    if settings.dashboard_enabled:
        app.include_router(dashboard.router)
    if not settings.is_production:
        app.include_router(dev.router)

    # Mounts last: the /ws mount would otherwise shadow routes under /ws.
    def user_of(eio_sid: str) -> str | None:
        conn = registry.get(manager.sid_from_eio_sid(eio_sid, NAMESPACE) or "")
        return conn.user.id if conn else None

    for path, asgi_app in engineio_apps(sio):
        guard = EngineIOGuard(
            asgi_app, settings.max_http_buffer_size, user_of, sio.close_session, admission=sio.admission,
            session_state=sio.session_state, origin_allowed=origin_policy(settings),
        )  # fmt: skip
        app.mount(path, guard)
    return app


def main() -> None:
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        app = create_app(settings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    thresholds = tune_gc(settings.gc_tuning, settings.gc_freeze_survivors, settings.gc_reclaim_interval)
    log.info("gc_configured", frozen=gc.get_freeze_count(), thresholds=thresholds)
    server = GracefulServer(
        uvicorn.Config(app, **uvicorn_options(settings)), app.state.drain, settings.shutdown_timeout
    )
    server.run()
    if not server.started:
        raise SystemExit(3)


if __name__ == "__main__":
    main()
