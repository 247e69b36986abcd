"""`python -m kiseki.orchestrator`: policies, endpoints (local Triton or Kubernetes), jobs, the
control API."""

from __future__ import annotations

import os
from pathlib import Path

from kiseki.core.config import ConfigError, load_config
from kiseki.core.grpc_auth import GrpcAuthConfig
from kiseki.core.grpc_server import GrpcServer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.service import ServiceConfig, ServiceContext, run_service
from kiseki.orchestrator.config import KubernetesConfig, OrchestratorConfig
from kiseki.orchestrator.control import ControlService
from kiseki.orchestrator.conversion import CheckpointConverter, ProcessConverter
from kiseki.orchestrator.deployer import Deployer, LocalTritonDeployer
from kiseki.orchestrator.loop import Orchestrator
from kiseki.orchestrator.policy import PolicyBook
from kiseki.orchestrator.policy_file import load_policies
from kiseki.orchestrator.roots import CheckpointRoots
from kiseki.serving.endpoints import LocalEndpointManager
from kiseki.serving.repository import BACKENDS, ServingOptions
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.v1 import control_pb2_grpc


def make_deployer(config: OrchestratorConfig, policies: PolicyBook | None = None) -> Deployer:
    """The deployer KISEKI_DEPLOYER names. A Kubernetes one uses the pod's ServiceAccount, or
    the kubeconfig (KUBECONFIG) when the orchestrator runs outside the cluster; it reads the
    KISEKI_TRTLLM_* settings when the backend, or a run's serving.backend, is trtllm."""
    if config.warm_idle_s < 0:
        raise ConfigError(f"KISEKI_WARM_IDLE_S={config.warm_idle_s} must be at least 0")
    if config.deployer == "local":
        if config.serving_backend not in BACKENDS:
            raise ConfigError(
                f"KISEKI_SERVING_BACKEND={config.serving_backend!r} must be one of"
                f" {sorted(BACKENDS)}"
            )
        threads = config.serving_vllm_threads
        options = ServingOptions(backend=config.serving_backend, vllm_threads_bind=threads)
        manager = LocalEndpointManager(config.workdir, options)
        return LocalTritonDeployer(manager, config.warm_idle_s)
    if config.deployer != "kubernetes":
        raise ConfigError(f"KISEKI_DEPLOYER={config.deployer!r} must be local or kubernetes")
    # Imported here so the local stack does not load the Kubernetes and KServe clients.
    from kubernetes import client
    from kubernetes import config as kube_config

    from kiseki.orchestrator.kube_deployer import KubernetesDeployer

    cluster = load_config(KubernetesConfig).validate()
    backends = {cluster.backend} | (policies.serving_backends() if policies else set())
    trtllm = load_config(TrtllmConfig).validate() if "trtllm" in backends else None
    try:
        kube_config.load_incluster_config()
    except kube_config.ConfigException:
        kube_config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
    return KubernetesDeployer(
        client.ApiClient(),
        cluster,
        trtllm,
        warm_idle_s=config.warm_idle_s,
        vllm_threads=config.serving_vllm_threads,
    )


def make_converter(config: OrchestratorConfig, deployer: Deployer) -> CheckpointConverter:
    """Conversions as processes here, or as Jobs beside the Kubernetes deployer's services."""
    slots, timeout_s = config.conversion_slots, config.conversion_timeout_s
    if config.deployer == "kubernetes":
        from kiseki.orchestrator.kube_conversion import KubernetesConverter
        from kiseki.orchestrator.kube_deployer import KubernetesDeployer

        assert isinstance(deployer, KubernetesDeployer)
        return KubernetesConverter(deployer.api, deployer.config, slots, timeout_s)
    python = config.conversion_python
    return ProcessConverter(config.conversion_dir, python, slots, timeout_s)


def main() -> None:
    service, kafka = load_config(ServiceConfig), load_config(KafkaConfig)
    config = load_config(OrchestratorConfig).validate()
    datasets_dir = Path(config.datasets_dir) if config.datasets_dir else None
    policies = load_policies(config.policy_file, datasets_dir)
    deployer = make_deployer(config, policies)
    converter = make_converter(config, deployer)
    auth, roots = load_config(GrpcAuthConfig), load_config(CheckpointRoots)

    async def serve(context: ServiceContext) -> None:
        orchestrator = Orchestrator(kafka, config, policies, deployer, roots, converter)
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
