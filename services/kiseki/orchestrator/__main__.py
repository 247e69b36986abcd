"""`python -m kiseki.orchestrator`: policies, local Triton endpoints, jobs, the control API."""

from __future__ import annotations

from kiseki.core.config import load_config
from kiseki.core.grpc_auth import GrpcAuthConfig
from kiseki.core.grpc_server import GrpcServer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.service import ServiceConfig, ServiceContext, run_service
from kiseki.orchestrator.config import OrchestratorConfig
from kiseki.orchestrator.control import ControlService
from kiseki.orchestrator.deployer import LocalTritonDeployer
from kiseki.orchestrator.loop import Orchestrator
from kiseki.orchestrator.policy import load_policies
from kiseki.orchestrator.roots import CheckpointRoots
from kiseki.serving.endpoints import LocalEndpointManager
from kiseki.v1 import control_pb2_grpc


def main() -> None:
    service, kafka = load_config(ServiceConfig), load_config(KafkaConfig)
    config = load_config(OrchestratorConfig)
    policies = load_policies(config.policy_file)
    auth, roots = load_config(GrpcAuthConfig), load_config(CheckpointRoots)

    async def serve(context: ServiceContext) -> None:
        deployer = LocalTritonDeployer(LocalEndpointManager(config.workdir))
        orchestrator = Orchestrator(kafka, config, policies, deployer, roots)
        control = ControlService(orchestrator)
        server = GrpcServer(
            [lambda s: control_pb2_grpc.add_ControlServicer_to_server(control, s)],
            ["kiseki.v1.Control"],
            host=config.control_host,
            port=config.control_port,
            credentials=auth.server_credentials(),
            interceptors=auth.interceptors(),
        )
        await server.start()
        try:
            await orchestrator.run(context)
        finally:
            await server.stop(grace_s=2.0)
            await deployer.close()

    run_service("orchestrator", service, serve)


if __name__ == "__main__":
    main()
