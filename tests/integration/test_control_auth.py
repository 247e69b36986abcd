"""The control API over TLS with a bearer token: the right caller gets answers, anyone else
UNAUTHENTICATED; the health service stays open for probes."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kiseki.core.grpc_auth import GrpcAuthConfig
from kiseki.core.grpc_server import GrpcServer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.orchestrator.config import OrchestratorConfig
from kiseki.orchestrator.control import ControlService
from kiseki.orchestrator.loop import Orchestrator
from kiseki.orchestrator.policy import PolicyBook
from kiseki.stack.progress import checkpoint_states
from kiseki.v1 import control_pb2 as ctl
from kiseki.v1 import control_pb2_grpc
from kiseki.v1 import events_pb2 as ev

TOKEN = "s3cret-token"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest_asyncio.fixture
async def secured(tmp_path: Path) -> AsyncIterator[tuple[str, GrpcAuthConfig]]:
    cert, key = _self_signed(tmp_path)
    server_auth = GrpcAuthConfig(token=TOKEN, tls_cert=str(cert), tls_key=str(key))
    orchestrator = Orchestrator(
        KafkaConfig(bootstrap_servers="127.0.0.1:1"),
        OrchestratorConfig(policy_file=tmp_path / "unused.json"),
        PolicyBook({}),
        None,  # type: ignore[arg-type]
    )
    orchestrator.fleet.add_checkpoint(ev.CheckpointDiscovered(checkpoint_id="c0", run_id="run"))
    control = ControlService(orchestrator)
    server = GrpcServer(
        [lambda s: control_pb2_grpc.add_ControlServicer_to_server(control, s)],
        ["kiseki.v1.Control"],
        credentials=server_auth.server_credentials(),
        interceptors=server_auth.interceptors(),
    )
    await server.start()
    try:
        yield f"127.0.0.1:{server.port}", GrpcAuthConfig(token=TOKEN, tls_ca=str(cert))
    finally:
        await server.stop(grace_s=1)


async def _code(channel: grpc.aio.Channel, streaming: bool = False) -> grpc.StatusCode:
    stub = control_pb2_grpc.ControlStub(channel)
    try:
        if streaming:
            async for _ in stub.WatchStatus(ctl.WatchStatusRequest(), timeout=5):
                break
        else:
            await stub.ListRuns(ctl.ListRunsRequest(), timeout=5)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_token_and_tls_are_required(secured: tuple[str, GrpcAuthConfig]) -> None:
    address, client = secured
    async with client.channel(address) as channel:
        assert await _code(channel) == grpc.StatusCode.OK
    for wrong in (
        GrpcAuthConfig(tls_ca=client.tls_ca),
        GrpcAuthConfig("nope", tls_ca=client.tls_ca),
    ):
        async with wrong.channel(address) as channel:
            assert await _code(channel) == grpc.StatusCode.UNAUTHENTICATED
            assert await _code(channel, streaming=True) == grpc.StatusCode.UNAUTHENTICATED
    async with GrpcAuthConfig(token=TOKEN).channel(address) as plaintext:
        assert await _code(plaintext) == grpc.StatusCode.UNAVAILABLE


async def test_health_needs_no_token(secured: tuple[str, GrpcAuthConfig]) -> None:
    address, client = secured
    async with GrpcAuthConfig(tls_ca=client.tls_ca).channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="kiseki.v1.Control"), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_the_progress_client_uses_the_settings(secured: tuple[str, GrpcAuthConfig]) -> None:
    address, client = secured
    assert await checkpoint_states(address, "run", client) == {"discovered": 1}
    assert await checkpoint_states(address, "run", GrpcAuthConfig(tls_ca=client.tls_ca)) == {}


def test_the_token_never_shows_in_the_config_repr() -> None:
    assert TOKEN not in repr(GrpcAuthConfig(token=TOKEN))
    assert TOKEN not in str(GrpcAuthConfig(token=TOKEN))
