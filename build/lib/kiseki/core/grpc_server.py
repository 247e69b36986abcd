"""An asyncio gRPC server with the standard health service and a bounded graceful stop."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

log = logging.getLogger(__name__)

# A function like `control_pb2_grpc.add_ControlServicer_to_server` bound to its servicer.
Registration = Callable[[grpc.aio.Server], None]


class GrpcServer:
    """Serves the given services plus `grpc.health.v1.Health` on `host:port` (0 = free port)."""

    def __init__(
        self,
        registrations: Iterable[Registration],
        service_names: Iterable[str],
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: grpc.ServerCredentials | None = None,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        self._server = grpc.aio.server(interceptors=list(interceptors))
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        for register in registrations:
            register(self._server)
        self._service_names = ["", *service_names]
        address = f"{host}:{port}"
        if credentials is None:
            self.port = self._server.add_insecure_port(address)
        else:
            self.port = self._server.add_secure_port(address, credentials)

    async def start(self) -> None:
        await self._server.start()
        await self._set_status(health_pb2.HealthCheckResponse.SERVING)
        log.info("grpc server listening", extra={"port": self.port})

    async def stop(self, grace_s: float) -> None:
        """Report NOT_SERVING, let in-flight calls finish for at most `grace_s` seconds."""
        await self._set_status(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self._server.stop(grace_s)

    async def _set_status(self, status: int) -> None:
        for name in self._service_names:
            await self._health.set(name, status)
