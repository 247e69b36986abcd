"""Who may call kiseki's gRPC APIs: TLS for the channel, a bearer token for the caller.

Both ends read the same settings. The server takes `server_credentials()` (None: plaintext,
for a loopback-only local stack) and `interceptors()` (a token check on every method except
the standard health service, which kubelet probes call without a token). A client opens its
channel with `channel(address)`, which adds TLS and the `authorization: Bearer` header as
configured. The token is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from kiseki.core.config import setting

HEALTH_PREFIX = "/grpc.health.v1.Health/"


@dataclass(frozen=True)
class GrpcAuthConfig:
    token: str = setting(
        "KISEKI_CONTROL_TOKEN",
        "",
        doc="bearer token every control API call must carry (from a Secret); empty: none asked",
    )
    tls_cert: str = setting(
        "KISEKI_CONTROL_TLS_CERT", "", doc="server: PEM certificate chain; empty serves plaintext"
    )
    tls_key: str = setting("KISEKI_CONTROL_TLS_KEY", "", doc="server: PEM private key")
    tls_ca: str = setting(
        "KISEKI_CONTROL_TLS_CA",
        "",
        doc="client: PEM CA bundle that signed the server's certificate; set means TLS",
    )
    tls_server_name: str = setting(
        "KISEKI_CONTROL_TLS_SERVER_NAME",
        "",
        doc="client: the name the certificate must carry, when it differs from the host",
    )

    def __repr__(self) -> str:
        return (
            f"GrpcAuthConfig(token={'set' if self.token else 'unset'}, tls={bool(self.tls_cert)})"
        )

    def server_credentials(self) -> grpc.ServerCredentials | None:
        if not self.tls_cert:
            return None
        if not self.tls_key:
            raise ValueError("KISEKI_CONTROL_TLS_CERT is set but KISEKI_CONTROL_TLS_KEY is not")
        pair = (Path(self.tls_key).read_bytes(), Path(self.tls_cert).read_bytes())
        return grpc.ssl_server_credentials([pair])

    def interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        return [BearerTokenInterceptor(self.token)] if self.token else []

    def channel(self, address: str) -> grpc.aio.Channel:
        interceptors = [_TokenClientInterceptor(self.token)] if self.token else []
        if not self.tls_ca:
            return grpc.aio.insecure_channel(address, interceptors=interceptors)
        credentials = grpc.ssl_channel_credentials(Path(self.tls_ca).read_bytes())
        options = [("grpc.ssl_target_name_override", self.tls_server_name)]
        return grpc.aio.secure_channel(
            address,
            credentials,
            options=options if self.tls_server_name else None,
            interceptors=interceptors,
        )


def _denied(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same kind as `handler` that refuses the call."""

    async def deny(request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

    kinds: dict[tuple[bool, bool], Callable[..., grpc.RpcMethodHandler]] = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    make = kinds[(handler.request_streaming, handler.response_streaming)]
    return make(
        deny,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method.startswith(HEALTH_PREFIX):
            return handler
        sent = dict(details.invocation_metadata or ()).get("authorization", "")
        if hmac.compare_digest(str(sent).encode(), self._expected):
            return handler
        return _denied(handler)


class _TokenClientInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.aio.UnaryStreamClientInterceptor,  # type: ignore[misc]
):
    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _with_token(self, details: Any) -> Any:
        metadata = grpc.aio.Metadata(*(details.metadata or ()), self._header)
        return details._replace(metadata=metadata)

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._with_token(details), request)

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._with_token(details), request)
